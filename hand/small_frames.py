"""Small frames: a photo's hand shrunk into a 64x64 JPEG frame, as kaggle64's frames are, and read again.

Landmarks read from a 64-pixel frame are not those of a sharp photo: the landmark network sees a
blurred hand a few dozen pixels wide.  preprocess.py (`--small-side`) reads every photo's hand this
way too and train.py (`--small-readings`) learns from those readings, so a model meets such
landmarks in training from many people instead of from kaggle64's one signer (the model card has
what it changed).  Each photo gets one crop per view, drawn from a generator seeded by the photo's
name, so a re-run writes the same files.  A hand already as small as a small frame's (kaggle64's
own) is not shrunk again.
"""
from __future__ import annotations

import zlib
from typing import Iterator, Sequence

import numpy as np

from hand import keypoints, photo_readers

SIDE = 64  # pixels of the small frame's side (kaggle64's frames)
JPEG_QUALITY = 75  # kaggle64's frames are JPEGs of this quality (their quantisation tables)
# How much of the frame a kaggle64 hand fills (its longer side / the frame's side), at the
# 0, 10, ..., 100th percentiles of the 8,700 frames (ends clipped): each crop draws from this.
HAND_FILL = (0.20, 0.26, 0.30, 0.34, 0.37, 0.41, 0.45, 0.50, 0.57, 0.66, 0.80)
SHIFT = 0.25  # the hand's centre moves up to this x the free margin off the frame's centre
ALREADY_SMALL = "hand_already_small"  # a view whose hand is no larger than a small frame's: not shrunk again


def crop_generator(name: str, seed: int) -> np.random.Generator:
    """The random draws of one photo's crops, fixed by its name and the seed."""
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def shrink_around_hand(rgb: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, side: int = SIDE,
                       jpeg_quality: int = JPEG_QUALITY) -> np.ndarray:
    """A side x side RGB frame around the hand at `landmarks` (units of `rgb`'s longer side): a square
    crop in which the hand fills a share drawn from `HAND_FILL`, edges replicated where it leaves the
    photo, shrunk and passed through JPEG."""
    import cv2
    h, w = rgb.shape[:2]
    points = landmarks[:, :2] * max(h, w)
    low, high = points.min(0), points.max(0)
    box = float(max(high - low))
    fill = float(np.interp(rng.uniform(), np.linspace(0, 1, len(HAND_FILL)), HAND_FILL))
    size = max(box / fill, box * 1.05, 2.0)
    centre = (low + high) / 2 + rng.uniform(-SHIFT, SHIFT, 2) * (size - box)
    x0, y0, size = int(round(centre[0] - size / 2)), int(round(centre[1] - size / 2)), int(round(size))
    pad = max(0, -x0, -y0, x0 + size - w, y0 + size - h)
    padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else rgb
    crop = padded[y0 + pad:y0 + pad + size, x0 + pad:x0 + pad + size]
    small = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
    _, encoded = cv2.imencode(".jpg", np.ascontiguousarray(small[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def _read_small(detector: keypoints.HandDetector, index: int, path: str, views: Sequence[tuple[bool, np.ndarray]],
                side: int, seed: int) -> tuple[int, list[tuple[bool, keypoints.Hand | str | None]] | None]:
    rgb = keypoints.read_image(path)
    if rgb is None:
        return index, None
    rng = crop_generator(path, seed)
    found: list[tuple[bool, keypoints.Hand | str | None]] = []
    for mirrored, landmarks in views:
        if np.ptp(landmarks[:, :2], 0).max() * max(rgb.shape[:2]) <= side * max(HAND_FILL):
            found.append((mirrored, ALREADY_SMALL))
            continue
        frame = shrink_around_hand(rgb[:, ::-1] if mirrored else rgb, landmarks, rng, side)
        hands = next((hands for _, hands in detector.readings(frame) if hands), [])
        found.append((mirrored, hands[0] if hands else None))
    return index, found


def read_small_frames(photos: Sequence[tuple[str, Sequence[tuple[bool, np.ndarray]]]], workers: int = 1,
                      hand_model: str | None = None, side: int = SIDE, seed: int = 0
                      ) -> Iterator[tuple[int, list[tuple[bool, keypoints.Hand | str | None]] | None]]:
    """For each (photo path, [(mirrored, the view's hand landmarks)]), in completion order: (its
    index, [(mirrored, the hand found in that view's small frame, None when none is found, or
    `ALREADY_SMALL`)]), None for a file that cannot be decoded.  Frames are read as
    `HandDetector.readings` reads a photo (fallback borders, then the last resort)."""
    jobs = [(i, path, list(views), side, seed) for i, (path, views) in enumerate(photos)]
    return photo_readers.map_photos(_read_small, jobs, workers, hand_model)
