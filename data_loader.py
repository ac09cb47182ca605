"""The torch Dataset over split folders written by preprocess.py (raw 21x3 landmarks per .npy).

The model inputs are computed on the fly with `keypoints.model_inputs`, after optional online
augmentation of the raw landmarks (never baked into files).  Handedness and its score come from
the manifest.csv beside the split folders; samples without one (landmark-only sets, recordings)
count as right hands, as `keypoints.features` takes them, and are shown to the model in both
chiralities during training.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from dataset import dataset_layout as layout
from hand import keypoints


@dataclass
class Augment:
    """Online augmentation of raw landmarks, modelling real variation between signers and cameras.

    Strengths chosen by leave-one-source-out (crossval.py): against rotate 15 / tilt 20 /
    stretch 0.1 / jitter 0.01 they raised held-out keptsecret from 85.4% to 89.3% and mirrored
    longhongvo23 from 81.3% to 88.5% (t32rahman unchanged); no augmentation was 4-10 points worse.
    """
    rotate_deg: float = 25.0  # in-plane rotation about the wrist
    tilt_deg: float = 35.0  # out-of-plane rotation (yaw and pitch) about the wrist, using z
    stretch: float = 0.15  # independent x / y scale (camera aspect, perspective)
    jitter: float = 0.015  # landmark noise, as a fraction of the hand size
    handedness_noise: float = 0.05  # chance of a wrong handedness label (MediaPipe's own error rate)

    def __call__(self, lm: np.ndarray, right: np.ndarray, unknown: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Augmented copies of a batch (N,21,3) and its right-hand probabilities."""
        n = len(lm)
        centred = lm - lm[:, :1]
        size = np.linalg.norm(centred[:, :, :2], axis=2).mean(axis=1)[:, None, None]
        a = np.deg2rad(rng.uniform(-self.rotate_deg, self.rotate_deg, n))
        yaw = np.deg2rad(rng.uniform(-self.tilt_deg, self.tilt_deg, n))
        pitch = np.deg2rad(rng.uniform(-self.tilt_deg, self.tilt_deg, n))
        c, s, cy, sy, cp, sp = np.cos(a), np.sin(a), np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
        one, zero = np.ones(n), np.zeros(n)
        rz = np.stack([np.stack([c, -s, zero], 1), np.stack([s, c, zero], 1), np.stack([zero, zero, one], 1)], 1)
        ry = np.stack([np.stack([cy, zero, sy], 1), np.stack([zero, one, zero], 1), np.stack([-sy, zero, cy], 1)], 1)
        rx = np.stack([np.stack([one, zero, zero], 1), np.stack([zero, cp, -sp], 1), np.stack([zero, sp, cp], 1)], 1)
        out = centred @ (rz @ ry @ rx).transpose(0, 2, 1)
        out[:, :, :2] *= rng.uniform(1 - self.stretch, 1 + self.stretch, (n, 1, 2))
        out += rng.normal(0, self.jitter, out.shape) * size
        flip = rng.random(n) < self.handedness_noise
        flip |= unknown & (rng.random(n) < 0.5)
        return out.astype(np.float32), np.where(flip, 1.0 - right, right).astype(np.float32)


def read_handedness(manifest: Path) -> dict[str, tuple[str, float | None]]:
    """output path (relative to the manifest's folder) -> (handedness label, its score or None),
    from a manifest.csv."""
    return {row["output"]: (row.get("handedness", ""), float(row["score"]) if row.get("score") else None)
            for row in layout.read_manifest(manifest) if row.get("output")}


def model_tensors(landmarks: np.ndarray, right: np.ndarray) -> tuple[torch.Tensor, ...]:
    """The model's inputs (`keypoints.model_inputs`) as tensors, in `LetterModel.forward`'s order."""
    return tuple(torch.from_numpy(part) for part in keypoints.model_inputs(landmarks, right))


class LandmarkDataset(Dataset):
    """All samples of one split (e.g. 'train') of one or more preprocess.py output folders.

    Holds every sample in memory: `landmarks` (N,21,3), `right` (N,: the probability that it is a
    right hand, from MediaPipe's handedness and score; 1 when not known), `unknown` (N,: no
    handedness known), `labels` (N,), `sources` (N,), `mirrored` (N,: landmarks of a mirrored
    photo), `extra` (N,: a further reading of a photo read with every border; only loaded with
    `extra_readings=True`), `small` (N,: read from a small frame of the photo's hand,
    hand/small_frames.py; only loaded with `small_readings=True`), `photos` (N,: one id per photo,
    shared by all its readings), `paths`.  `classes` fixes the label order (default: the classes
    found, Kaggle order).
    Bad files are skipped with one warning line each and counted in `skipped`.
    """

    def __init__(self, roots: str | os.PathLike | Sequence[str | os.PathLike],
                 split: str | Sequence[str] = "train",
                 classes: Sequence[str] | None = None, augment: Augment | None = None,
                 sources: Sequence[str] | None = None, exclude_sources: Sequence[str] = (),
                 seed: int = 0, extra_readings: bool = False, small_readings: bool = False) -> None:
        roots = [roots] if isinstance(roots, (str, os.PathLike)) else list(roots)
        self.augment = augment
        self.rng = np.random.default_rng(seed)
        self.skipped = 0
        splits = [split] if isinstance(split, str) else list(split)
        found: list[tuple[str, Path, tuple, str, tuple]] = []  # (class, path, (handedness, score), source, reading)
        for root, part in ((Path(r), s) for r in roots for s in splits):
            if not (root / part).is_dir():
                continue
            handedness = read_handedness(root / "manifest.csv")
            for folder in sorted((root / part).iterdir()):
                label = layout.canonical_class(folder.name) if folder.is_dir() else None
                if label is None:
                    continue
                for path in sorted(folder.glob("*.npy")):
                    reading = layout.parse_reading_name(str(path))
                    if (reading.extra and not extra_readings) or (reading.small and not small_readings):
                        continue
                    source = path.name.split("__", 1)[0] if "__" in path.name else root.name
                    if ((sources is not None and source not in sources) or source in exclude_sources
                            or layout.own_sign(source, label)):
                        continue
                    rel = path.relative_to(root).as_posix()
                    found.append((label, path, handedness.get(rel, ("", None)), source, reading))
        present = sorted({f[0] for f in found}, key=self.class_order)
        self.classes = list(classes) if classes is not None else present
        index = {name: i for i, name in enumerate(self.classes)}
        marks, right, unknown, labels, kept_sources, paths, readings = [], [], [], [], [], [], []
        for label, path, hand, source, reading in found:
            if label not in index:
                continue
            try:
                lm = np.load(path, allow_pickle=False).astype(np.float32).reshape(keypoints.NUM_LANDMARKS, 3)
                if not keypoints.valid_landmarks(lm)[0]:
                    raise ValueError("non-finite or degenerate landmarks")
            except (OSError, ValueError, EOFError) as err:
                self.skipped += 1
                print(f"warning: skipped {path}: {err}", file=sys.stderr)
                continue
            marks.append(lm)
            right.append(keypoints.right_probability(hand[0], hand[1])[0])
            unknown.append(hand[0].lower() not in ("left", "right"))
            labels.append(index[label])
            kept_sources.append(source)
            paths.append(path)
            readings.append(reading)
        self.landmarks = np.array(marks, np.float32).reshape(-1, keypoints.NUM_LANDMARKS, 3)
        self.right = np.array(right, np.float32)
        self.unknown = np.array(unknown, bool)
        self.labels = np.array(labels, np.int64)
        self.sources = np.array(kept_sources, dtype=object)
        self.paths = paths
        self.photos = np.array([r.photo for r in readings], dtype=object)
        self.mirrored = np.array([r.mirrored for r in readings], bool)
        self.extra = np.array([r.extra for r in readings], bool)
        self.small = np.array([r.small for r in readings], bool)

    @property
    def left(self) -> np.ndarray:
        """Left-hand flags (N,)."""
        return self.right < 0.5

    @staticmethod
    def class_order(name: str) -> tuple[int, str]:
        """Kaggle order (A..Z, del, nothing, space), then any other name alphabetically."""
        order = {c: i for i, c in enumerate(layout.KAGGLE_CLASSES)}
        return order.get(name, len(order)), name

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, indices: np.ndarray) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """Model inputs (`model_tensors`) and labels for a batch, augmented when the dataset augments."""
        lm, right = self.landmarks[indices], self.right[indices]
        if self.augment is not None:
            lm, right = self.augment(lm, right, self.unknown[indices], self.rng)
        return model_tensors(lm, right), torch.from_numpy(self.labels[indices])

    def __getitem__(self, i: int) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        inputs, label = self.batch(np.array([i]))
        return tuple(part[0] for part in inputs), label[0]
