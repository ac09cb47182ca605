"""What a main.py run writes besides JSONL: the annotated video or still, and recorded samples."""
from __future__ import annotations

import csv
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from hand import keypoints
from dataset.dataset_layout import MANIFEST_FIELDS, STATUS_OK
from realtime.frame_sources import UsageError

STILL_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}  # --output as one annotated image


def _part_name(path: Path) -> Path:
    return path.with_name(f".{path.stem}.part{path.suffix}")


class AnnotatedOutput:
    """--output: an mp4v video of every annotated frame, or (image extension) the last annotated
    frame as a still.  Written under a temporary name, renamed by `close`."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = path, fps
        self.tmp = _part_name(path)
        self.still = path.suffix.lower() in STILL_EXTENSIONS
        self.writer: cv2.VideoWriter | None = None
        self.last: np.ndarray | None = None
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, frame: np.ndarray) -> None:
        """Add an annotated frame (resized to the first frame's size when it differs)."""
        if self.still:
            self.last = frame
            return
        if self.writer is None:
            h, w = frame.shape[:2]
            writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not writer.isOpened():
                raise UsageError(f"cannot write video {self.path} (try a .mp4 name)")
            self.writer, self.size = writer, (w, h)
        if frame.shape[1::-1] != self.size:
            frame = cv2.resize(frame, self.size)
        self.writer.write(frame)

    def close(self) -> None:
        """Finish the file and give it its final name."""
        if self.writer is not None:
            self.writer.release()
            os.replace(self.tmp, self.path)
        elif self.still and self.last is not None:
            ok, data = cv2.imencode(self.path.suffix, self.last)
            if ok:
                self.tmp.write_bytes(data.tobytes())
                os.replace(self.tmp, self.path)


class Recorder:
    """--record: saves the best hand's raw landmarks (21x3 float32) as
    <dir>/train/<LETTER>/recorded__<time>-<n>.npy, at most one per `interval_ms`."""

    def __init__(self, root: Path, letter: str, interval_ms: float) -> None:
        self.folder = root / "train" / letter
        self.folder.mkdir(parents=True, exist_ok=True)
        self.letter, self.interval_ms = letter, interval_ms
        self.count = sum(1 for p in self.folder.glob("*.npy"))
        self.active = True
        self._last = -float("inf")
        self._stamp = time.strftime("%Y%m%d-%H%M%S")
        self._serial = 0

    def offer(self, hands: list[keypoints.Hand], t_ms: float) -> bool:
        """Save hands[0] (the best score) if recording, usable and the interval has passed."""
        if not self.active or not hands or t_ms - self._last < self.interval_ms:
            return False
        landmarks = np.asarray(hands[0].landmarks, np.float32)
        if not keypoints.valid_landmarks(landmarks)[0]:
            return False
        while (path := self.folder / f"recorded__{self._stamp}-{self._serial:05d}.npy").exists():
            self._serial += 1  # never overwrite an existing sample
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, landmarks)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._append_manifest(path, hands[0])
        self._last, self.count = t_ms, self.count + 1
        return True

    def _append_manifest(self, path: Path, hand: keypoints.Hand) -> None:
        """One manifest.csv row per sample, so training knows the sample's handedness."""
        manifest = self.folder.parent.parent / "manifest.csv"
        new = not manifest.is_file()
        with open(manifest, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, MANIFEST_FIELDS, lineterminator="\n")
            if new:
                writer.writeheader()
            writer.writerow({"source": "recorded", "path": "", "class": self.letter, "split": "train",
                             "output": path.relative_to(self.folder.parent.parent).as_posix(), "mirrored": 0,
                             "status": STATUS_OK, "handedness": hand.handedness, "score": f"{hand.score:.4f}"})

    def label(self) -> str:
        """The per-letter count shown in the window."""
        return f"{'REC' if self.active else 'rec off'} {self.letter}: {self.count}"
