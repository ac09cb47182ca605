"""Where the data is: class names, class-folder discovery, and the leak-free block split.

Shared by preprocess.py (image trees -> split folders), evaluate.py (image trees -> scores) and
data_loader.py (split folders -> tensors), so all three read folders the same way; and the reading
of a landmark .npy given as a sample (preprocess.py, personalize.py).  A source is a folder of
class folders (`A/`, `B/`, ...) or, stacked, a folder of class-named landmark files (`A.npy`
holding N x 63 raw MediaPipe landmarks: N samples, in capture order).
"""
from __future__ import annotations

import csv
import os
import re
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, NamedTuple

import numpy as np

from hand import keypoints

LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]  # the fingerspelled alphabet itself
KAGGLE_CLASSES = LETTERS + ["del", "nothing", "space"]
SPLITS = ("train", "valid", "test")
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
LANDMARK_EXTENSION = ".npy"
GENERIC_FOLDER_NAMES = {"train", "test", "valid", "val", "data", "images", "asl_alphabet_train", "static", "dynamic"}
MAX_SEARCH_DEPTH = 3
# Columns of manifest.csv (preprocess.py output and main.py --record folders); `output` is the
# sample's path relative to the manifest's folder, `handedness` MediaPipe's label for it, `border`
# the border the photo was read with, `extra` 1 for a further reading of a view that already has
# a sample, `every_border` 1 when the photo was read with every fallback border, `small` the side in
# pixels of the small frame a reading came from (hand/small_frames.py; also an `extra` reading).
MANIFEST_FIELDS = ["source", "path", "class", "split", "output", "mirrored", "status", "handedness", "score",
                   "border", "extra", "every_border", "small"]
STATUS_OK, STATUS_NO_HAND = "ok", "no_hand"  # a manifest row of a photo read (hand found or not)
# Class folders of a collection that hold another sign than the Kaggle class of that name: left
# out of training and scoring.  lolzorus_fr's `space` is his own flat-hand sign (its PROVENANCE.txt).
OWN_SIGNS = {"lolzorus_fr": ("space",)}
# sarthak2656's P, which its PROVENANCE.txt doubts (index at the temple, "closer to G"), was checked
# and is a P, held high and tilted (in the photos looked at, the middle finger hangs down under the
# index); two classifiers that never saw him read 8 of his 10 P photos as P (the figures: the
# model card's Data section).  Kept as P, so it is no own sign.
# Sources that hold more than one signer (per ../shared/data/README.md: roboflow several volunteers,
# keptsecret one or a few); every other source is one signer (its PROVENANCE.txt), so its fold in
# crossval.py counts in the mean over single-signer folds.
MULTI_SIGNER_SOURCES = ("roboflow_asl_letters", "keptsecret-train")
NUM_VALUES = keypoints.NUM_LANDMARKS * 3  # values of one hand's raw landmarks


def own_sign(source: str, label: str) -> bool:
    """The class folder `label` of `source` holds a sign of the collection's own (see OWN_SIGNS)."""
    return label in OWN_SIGNS.get(source, ())


def single_signer(source: str) -> bool:
    """The source holds one signer (see MULTI_SIGNER_SOURCES)."""
    return source not in MULTI_SIGNER_SOURCES


def read_manifest(manifest: Path) -> list[dict[str, str]]:
    """The rows of a preprocess.py manifest.csv (MANIFEST_FIELDS); none when the file is absent."""
    if not Path(manifest).is_file():
        return []
    with open(manifest, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def reading_name(output: str, mirrored: bool, border: float | None, small: int | None = None) -> str:
    """The .npy name of one reading of a photo whose sample is `output` (`X.npy`): `X.npy` (the
    first reading that found a hand), `X.mirror.npy` (of its mirror image), for further readings
    of photos read with every border `X[.mirror].border50.npy` (a border of 0.5 x the side), and
    for the reading of a view's hand shrunk into a small frame `X[.mirror].small64.npy`."""
    stem = output[:-len(LANDMARK_EXTENSION)] + (".mirror" if mirrored else "")
    stem += "" if border is None else f".border{round(border * 100)}"
    return stem + ("" if small is None else f".small{small}") + LANDMARK_EXTENSION


class ReadingName(NamedTuple):
    """What a reading's file name says (`parse_reading_name`)."""
    photo: str  # the photo's sample path `X.npy`
    mirrored: bool
    extra: bool  # a further border reading of a view that has a sample
    small: bool  # read from the view's hand shrunk into a small frame


_READING = re.compile(r"(.*?)(\.mirror)?(\.border\d+)?(\.small\d+)?\.npy")


def parse_reading_name(path: str) -> ReadingName:
    """What a name made by `reading_name` says about its reading."""
    photo, mirror, border, small = _READING.fullmatch(path).groups()
    return ReadingName(photo + LANDMARK_EXTENSION, mirror is not None, border is not None, small is not None)


def photos_without_hand(rows: Iterable[dict[str, str]], views: tuple[bool, ...] = (False,),
                        split: str | None = None, source: str | None = None) -> list[tuple[str, str]]:
    """(class, source) of every photo in manifest rows (`read_manifest`) where no hand was found in
    any of `views` (False: the photo, True: its mirror image), optionally of one split or source.
    Files skipped as unusable are not photos and are left out."""
    found: dict[str, list] = {}
    for row in rows:
        if ((split is not None and row["split"] != split) or (source is not None and row["source"] != source)
                or bool(int(row["mirrored"] or 0)) not in views or row["status"] not in (STATUS_OK, STATUS_NO_HAND)
                or row.get("small")
                or own_sign(row["source"], row["class"])):
            continue
        entry = found.setdefault(row["path"], [row["class"], row["source"], False])
        entry[2] |= row["status"] == STATUS_OK
    return [(label, src) for label, src, ok in found.values() if not ok]


def split_photos(rows: Iterable[dict[str, str]], split: str) -> list[tuple[str, str, str]]:
    """(photo path, class, source) of every photo of one split in manifest rows, hand found or not,
    in manifest order; landmark files and skipped files are left out.  Paths are as preprocess.py
    was given them (relative to the folder it ran in)."""
    photos: dict[str, tuple[str, str, str]] = {}
    for row in rows:
        if (row["split"] == split and row["status"] in (STATUS_OK, STATUS_NO_HAND)
                and Path(row["path"]).suffix.lower() in IMAGE_EXTENSIONS):
            photos.setdefault(row["path"], (row["path"], row["class"], row["source"]))
    return list(photos.values())


def canonical_class(folder_name: str) -> str | None:
    """Kaggle class name for a folder name, case-insensitive ('a' -> 'A', 'Del' -> 'del'); None if unknown."""
    name = folder_name.strip()
    if len(name) == 1 and name.isascii() and name.isalpha():
        return name.upper()
    return name.lower() if name.lower() in ("del", "nothing", "space") else None


@dataclass(frozen=True)
class Source:
    """A folder of class folders (or, `stacked`, of class-named landmark .npy files), with a short
    name used in output file names."""
    name: str
    root: Path
    stacked: bool = False


def _has_class_folders(folder: Path) -> bool:
    try:
        return any(entry.is_dir(follow_symlinks=False) and canonical_class(entry.name)
                   for entry in os.scandir(folder))
    except OSError:
        return False


def _class_files(folder: Path) -> list[os.DirEntry]:
    """The class-named landmark files (`A.npy`, `space.npy`) directly in `folder`, sorted."""
    try:
        return sorted((e for e in os.scandir(folder) if not e.is_dir(follow_symlinks=False)
                       and e.name.lower().endswith(LANDMARK_EXTENSION)
                       and canonical_class(e.name[:-len(LANDMARK_EXTENSION)])), key=lambda e: e.name)
    except OSError:
        return []


def _source_name(folder: Path) -> str:
    parts = folder.resolve().parts
    tail = parts[-2:] if parts[-1].lower() in GENERIC_FOLDER_NAMES and len(parts) > 1 else parts[-1:]
    return "-".join(tail)


def find_sources(roots: list[str | os.PathLike]) -> list[Source]:
    """Every folder at or below each root (depth <= 3) that holds class folders, or else class-named
    landmark files (a stacked source).  Raises FileNotFoundError for a root that does not exist and
    ValueError when none is found."""
    found: list[Source] = []
    for root in map(Path, roots):
        if not root.is_dir():
            raise FileNotFoundError(f"data folder not found: {root}")
        pending = [(root, 0)]
        while pending:
            folder, depth = pending.pop(0)
            if _has_class_folders(folder):
                found.append(Source(_source_name(folder), folder))
            elif _class_files(folder):
                found.append(Source(_source_name(folder), folder, stacked=True))
            elif depth < MAX_SEARCH_DEPTH:
                try:
                    subfolders = sorted(e.path for e in os.scandir(folder) if e.is_dir(follow_symlinks=False))
                except OSError:
                    continue
                pending += [(Path(p), depth + 1) for p in subfolders]
    if not found:
        raise ValueError(f"no class folders (A..Z, del, nothing, space) or class-named .npy files found in "
                         f"{', '.join(map(str, roots))}")
    names = [s.name for s in found]
    return [Source(f"{s.name}-{i}" if names.count(s.name) > 1 else s.name, s.root, s.stacked)
            for i, s in enumerate(found)]


def stacked_name(path: Path, row: int) -> str:
    """The file name of row `row` of a stacked landmark file: `A.0017.npy` (its frame number 17)."""
    return f"{path.stem}.{row:04d}{path.suffix}"


@dataclass(frozen=True)
class Entry:
    """One file in a class folder, or one sample (`row`) of a stacked landmark file."""
    source: str
    label: str
    path: Path
    relpath: str  # "<class folder>/<file name>" inside its source; "<name>" for a stacked sample
    row: int | None = None

    @property
    def name(self) -> str:
        """The sample's file name: the file's, or `A.0017.npy` for row 17 of a stacked `A.npy`."""
        return self.path.name if self.row is None else stacked_name(self.path, self.row)

    @property
    def location(self) -> str:
        """The sample's path as the manifest names it: the file's, or `.../A.npy#17` for a row."""
        return str(self.path) if self.row is None else f"{self.path}#{self.row}"


def stack_shape(path: str | os.PathLike) -> tuple[int, ...] | None:
    """The shape of a landmark .npy read from its header (the data is not loaded); None when unreadable."""
    if file_problem(path) is not None:
        return None
    try:
        return tuple(np.load(path, mmap_mode="r", allow_pickle=False).shape)
    except (OSError, ValueError, EOFError):
        return None


def _stacked_entries(source: Source) -> tuple[list[Entry], list[str]]:
    """A stacked source's samples: one per row of each (N, 63) or (N, 21, 3) class file; a file of
    one hand is one sample, an unreadable one an entry that reading rejects.  Motion sequences
    ((N, T, 63): J and Z over frames) are no static samples: named in the second list."""
    entries: list[Entry] = []
    ignored: list[str] = []
    for f in _class_files(source.root):
        label = canonical_class(f.name[:-len(LANDMARK_EXTENSION)])
        shape = stack_shape(f.path) or ()
        if len(shape) >= 3 and int(np.prod(shape[2:])) == NUM_VALUES:
            ignored.append(f"{f.name} (motion sequences: {shape[0]} x {shape[1]} frames)")
        elif len(shape) >= 2 and int(np.prod(shape[1:])) == NUM_VALUES:
            entries += [Entry(source.name, label, Path(f.path), stacked_name(Path(f.path), row), row)
                        for row in range(shape[0])]
        else:
            entries.append(Entry(source.name, label, Path(f.path), f.name))
    return entries, ignored


def list_entries(source: Source) -> tuple[list[Entry], list[str]]:
    """Files of every known class folder of a source (of a stacked source: its samples), sorted;
    and the names of unknown folders (of a stacked source: files that hold no static samples)."""
    if source.stacked:
        return _stacked_entries(source)
    entries: list[Entry] = []
    unknown: list[str] = []
    for folder in sorted(os.scandir(source.root), key=lambda e: e.name):
        if not folder.is_dir(follow_symlinks=False):
            continue
        label = canonical_class(folder.name)
        if label is None:
            unknown.append(folder.name)
            continue
        try:
            files = sorted(os.scandir(folder.path), key=lambda e: e.name)
        except OSError:
            continue
        entries += [Entry(source.name, label, Path(f.path), f"{folder.name}/{f.name}") for f in files]
    return entries, unknown


def file_problem(path: str | os.PathLike) -> str | None:
    """Why a class-folder entry cannot be a sample, without opening it (a FIFO would block a read):
    'hidden' (OS metadata such as .DS_Store or macOS '._' files), 'not_a_file' (a folder, FIFO,
    device or socket), 'unreadable' (broken symlink, symlink loop, no permission); None if usable."""
    if Path(path).name.startswith("."):
        return "hidden"
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return "unreadable"
    if not stat.S_ISREG(mode):
        return "not_a_file"
    return None if os.access(path, os.R_OK) else "unreadable"


def read_landmark_file(path: str | os.PathLike, row: int | None = None) -> np.ndarray | None:
    """A landmark .npy of 63 values or 21x3 (or its `row` of a stack of them), as float32 21x3;
    None when unreadable or not a hand."""
    try:
        array = np.load(path, mmap_mode=None if row is None else "r", allow_pickle=False)
        array = np.array(array if row is None else array[row])
    except (OSError, ValueError, EOFError, IndexError):
        return None
    if array.size != NUM_VALUES or not np.issubdtype(array.dtype, np.number):
        return None
    lm = array.astype(np.float32).reshape(keypoints.NUM_LANDMARKS, 3)
    return lm if keypoints.valid_landmarks(lm)[0] else None


_FRAME_NUMBER = re.compile(r"^(.*?)(\d+)$")


def block_key(file_name: str, block_size: int) -> tuple[str, int]:
    """Files whose names end in neighbouring frame numbers share a block: ('A', 0) for A1..A49."""
    stem = file_name.rsplit(".", 1)[0]
    match = _FRAME_NUMBER.match(stem)
    if not match:
        return stem, -1
    return match.group(1), int(match.group(2)) // block_size


def assign_splits(entries: list[Entry], ratios: tuple[float, float, float], seed: int,
                  block_size: int, stack_block_size: int | None = None) -> dict[str, str]:
    """Split per (source, class) by whole blocks of neighbouring frames, seeded: relpath key
    `source/relpath` -> split.  Rows of a stacked file are frames too, in blocks of
    `stack_block_size` rows (default `block_size`).  With three or more blocks, valid and test get
    at least one each (when their ratio is above zero)."""
    groups: dict[tuple[str, str], dict[tuple[str, int], list[Entry]]] = {}
    for e in entries:
        size = block_size if e.row is None or stack_block_size is None else stack_block_size
        groups.setdefault((e.source, e.label), {}).setdefault(block_key(e.name, size), []).append(e)
    splits: dict[str, str] = {}
    for (source, label), blocks in sorted(groups.items()):
        keys = sorted(blocks)
        rng = np.random.default_rng([seed, zlib.crc32(f"{source}/{label}".encode())])
        order = [keys[i] for i in rng.permutation(len(keys))]
        n = len(order)
        counts = [round(r * n) for r in ratios[1:]]
        if n >= 3:
            counts = [max(1, c) if r > 0 else 0 for c, r in zip(counts, ratios[1:])]
        n_valid, n_test = counts
        for rank, key in enumerate(order):
            split = "test" if rank < n_test else "valid" if rank < n_test + n_valid else "train"
            for e in blocks[key]:
                splits[f"{e.source}/{e.relpath}"] = split
    return splits
