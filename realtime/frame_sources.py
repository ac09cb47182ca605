"""Where main.py's frames come from: a camera, a video file, an image file or a folder of images."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from hand import keypoints
from dataset.dataset_layout import IMAGE_EXTENSIONS

IMAGE_FPS = 1.0  # frame rate of image files (what an --output video made from them plays at)


class UsageError(RuntimeError):
    """A --source, --output or --record that cannot be used (reported in one line, exit code 2)."""


@dataclass
class Source:
    """Frames (index, time in ms, BGR image) of a camera, video or image files."""
    frames: Iterator[tuple[int, float, np.ndarray]]
    mode: str  # "video" (a stream, tracked) or "image" (independent photos)
    fps: float
    is_camera: bool = False
    release: Callable[[], None] | None = None


def _read_bgr(path: Path) -> np.ndarray | None:
    rgb = keypoints.read_image(path)
    return None if rgb is None else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _image_frames(paths: list[Path]) -> Iterator[tuple[int, float, np.ndarray]]:
    index = 0
    for path in paths:
        bgr = _read_bgr(path)
        if bgr is None:
            print(f"warning: skipping {path}: cannot decode it as an image", file=sys.stderr)
            continue
        yield index, index * 1000.0 / IMAGE_FPS, bgr
        index += 1


def _capture_frames(capture: cv2.VideoCapture, first: np.ndarray, fps: float,
                    camera: bool) -> Iterator[tuple[int, float, np.ndarray]]:
    start, index, frame = time.monotonic(), 0, first
    while frame is not None:
        yield index, (time.monotonic() - start) * 1000.0 if camera else index * 1000.0 / fps, frame
        ok, frame = capture.read()
        frame = frame if ok else None
        index += 1


def _valid_fps(fps: float) -> float:
    return fps if np.isfinite(fps) and 0 < fps < 1000 else 30.0


def no_images_message(folder: Path) -> str:
    """Why a folder gave no frames: no images in it, or only in its subfolders (a dataset's class
    folders), with what to run instead."""
    subfolders = sorted(p.name for p in folder.iterdir() if p.is_dir()
                        and any(f.suffix.lower() in IMAGE_EXTENSIONS for f in p.iterdir() if f.is_file()))
    if not subfolders:
        return f"no image files in folder {folder}"
    shown = ", ".join(subfolders[:5]) + (", ..." if len(subfolders) > 5 else "")
    return (f"no image files directly in folder {folder}, only in its subfolders ({shown}): --source reads "
            f"the images of one folder as frames; point it at one class (--source {folder / subfolders[0]}), "
            f"or score the whole tree with `python evaluate.py {folder}`")


def open_source(spec: str, width: int, height: int) -> Source:
    """Open a camera index, a video file, an image file or a folder of images; UsageError if not."""
    path = Path(spec)
    if spec.isdigit():
        capture = cv2.VideoCapture(int(spec))
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        ok, first = capture.read() if capture.isOpened() else (False, None)
        if not ok:
            raise UsageError(f"cannot open camera {spec} (no camera at that index, or it is busy)")
        fps = _valid_fps(capture.get(cv2.CAP_PROP_FPS))
        return Source(_capture_frames(capture, first, fps, True), "video", fps, True, capture.release)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not images:
            raise UsageError(no_images_message(path))
        return Source(_image_frames(images), "image", IMAGE_FPS)
    if not path.is_file():
        raise UsageError(f"--source {spec!r} is not a camera index or an existing file or folder")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        if _read_bgr(path) is None:
            raise UsageError(f"cannot decode image {path}")
        return Source(_image_frames([path]), "image", IMAGE_FPS)
    capture = cv2.VideoCapture(str(path))
    ok, first = capture.read() if capture.isOpened() else (False, None)
    if not ok:
        raise UsageError(f"cannot open or decode video {path}")
    fps = _valid_fps(capture.get(cv2.CAP_PROP_FPS))
    return Source(_capture_frames(capture, first, fps, False), "video", fps, False, capture.release)
