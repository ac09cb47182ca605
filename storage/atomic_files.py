"""Output is never lost or half-written: every file the project writes goes to a temp file in the
same folder first, then is renamed over the target in one step."""
from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _umask()  # read once, at import (os.umask is process-wide; not safe to toggle in threads)


def write_bytes(path: str | os.PathLike, data: bytes, make_parents: bool = False) -> None:
    """Write `data` to `path` atomically, with the usual permissions (0666 minus the umask),
    not mkstemp's private 0600.  A missing folder is an error unless `make_parents`."""
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), 0o666 & ~UMASK)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def missing_folder(outputs: dict[str, str | os.PathLike | None]) -> str | None:
    """Why an output file a flag names cannot be written: its folder does not exist (one line, for
    the script to report before the work the file is for); None when every folder is there."""
    for flag, path in outputs.items():
        if path is not None and not Path(path).resolve().parent.is_dir():
            return f"{flag}: folder {Path(path).parent} does not exist"
    return None


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write indented JSON atomically."""
    write_text(path, json.dumps(obj, indent=1) + "\n")


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 100) -> None:
    """Save a matplotlib figure as PNG atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    write_bytes(path, buffer.getvalue())
