"""What every classifier back-end shares: the `Classifier` interface (landmarks in, letter
probabilities out), `combine_views` over a photo's views, and the checks every weights format
makes (`CheckpointError`, `check_weights`, the `class_mapping.txt` beside the weights).  The
back-ends (`classifier.TorchClassifier`, `onnx_classifier.OnnxClassifier`) build on it and
`classifier.load_classifier` picks one; this module imports neither."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from storage import atomic_files
from hand import keypoints


class CheckpointError(RuntimeError):
    """A weights file that is missing, unreadable, or does not match the code or class list."""


@dataclass
class Scores:
    """A batch of hands as the model saw them: class probabilities (after any signer adaptation),
    and, with an `adapter`, the calibrated logits before it and the head's hidden layer (what
    adaptation.py learns from).  Rows for unusable hands are NaN."""
    proba: np.ndarray  # (N, classes)
    calibrated: np.ndarray | None = None  # (N, classes): logits / temperature, unadapted
    hidden: np.ndarray | None = None  # (N, hidden)


class Classifier:
    """A loaded model with its class names; `predict_proba` takes raw landmarks.  With an
    `adapter` (adaptation.SignerAdapter; needs a model with a hidden-layer output), its
    correction is added to the calibrated logits of every hand."""

    can_adapt = False  # the model has a hidden-layer output (`logits_and_hidden`)

    def __init__(self, classes: list[str], temperature: float = 1.0) -> None:
        self.classes = classes
        self.temperature = temperature
        self.adapter = None  # an adaptation.SignerAdapter, or None

    def logits(self, inputs: keypoints.ModelInputs) -> np.ndarray:
        """Raw scores for a batch of model inputs (`keypoints.model_inputs`)."""
        raise NotImplementedError

    def logits_and_hidden(self, inputs: keypoints.ModelInputs) -> tuple[np.ndarray, np.ndarray]:
        """Raw scores and the head's hidden layer (where `can_adapt`)."""
        raise NotImplementedError

    def predict_proba(self, landmarks: np.ndarray, handedness: str | Sequence[str] | np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) for landmarks (N,21,3) or (21,3) and their handedness:
        MediaPipe labels, left-hand flags or right-hand probabilities (`Hand.right_probability`;
        see `keypoints.right_probability`).  Rows for unusable landmarks (non-finite or collapsed)
        are NaN: such a hand never gets a letter."""
        return self.predict(landmarks, handedness).proba

    def predict(self, landmarks: np.ndarray, handedness: str | Sequence[str] | np.ndarray) -> Scores:
        """`predict_proba`'s probabilities, with what signer adaptation needs when adapting."""
        lm = np.asarray(landmarks, np.float32).reshape(-1, keypoints.NUM_LANDMARKS, 3)
        right = keypoints.right_probability(handedness)
        if right.size == 1:
            right = np.repeat(right, len(lm))
        if len(right) != len(lm):
            raise ValueError(f"{len(lm)} hands but {len(right)} handedness values")
        out = np.full((len(lm), len(self.classes)), np.nan, np.float32)
        ok = keypoints.valid_landmarks(lm)
        scores = Scores(out)
        if ok.any():
            inputs = keypoints.model_inputs(lm[ok], right[ok])
            if self.adapter is None:
                z = self.logits(inputs) / self.temperature
            else:
                raw, hidden = self.logits_and_hidden(inputs)
                scores.calibrated = np.full_like(out, np.nan)
                scores.hidden = np.full((len(lm), hidden.shape[1]), np.nan, np.float32)
                scores.calibrated[ok], scores.hidden[ok] = raw / self.temperature, hidden
                z = scores.calibrated[ok] + self.adapter.correction(hidden)
            z = np.exp(z - z.max(axis=1, keepdims=True))
            out[ok] = z / z.sum(axis=1, keepdims=True)
        return scores


def combine_views(probs: np.ndarray, photo_ids: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities per photo from its views (the photo and its mirror image): the
    normalised geometric mean, i.e. the mean of the calibrated logits, which keeps the confidence
    calibrated when the views agree (a plain mean of probabilities was under-confident).

    Rows of `probs` with the same id in `photo_ids` are one hand seen in two views; NaN rows (no
    usable hand) are left out, and a photo with no usable view gets a NaN row.  Returns the index
    of each photo's first row and the (photos, classes) means.  A photo and its mirror image give
    the same pair of views, so they get the same answer.
    """
    first: dict = {}
    inverse = np.array([first.setdefault(p, len(first)) for p in photo_ids], np.int64)
    probs = np.asarray(probs, np.float64).reshape(len(inverse), -1)
    ok = np.isfinite(probs).all(axis=1)
    sums = np.zeros((len(first), probs.shape[1]))
    counts = np.zeros(len(first))
    np.add.at(sums, inverse[ok], np.log(np.clip(probs[ok], 1e-12, None)))
    np.add.at(counts, inverse[ok], 1)
    out = np.full_like(sums, np.nan)
    seen = counts > 0
    z = sums[seen] / counts[seen, None]
    z = np.exp(z - z.max(axis=1, keepdims=True))
    out[seen] = z / z.sum(axis=1, keepdims=True)
    _, rows = np.unique(inverse, return_index=True)
    return rows, out.astype(np.float32)


def read_class_mapping(path: str | os.PathLike) -> list[str]:
    """Class names from a `class_mapping.txt` of `index: name` lines."""
    names: dict[int, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            index, _, name = line.partition(":")
            names[int(index)] = name.strip()
    return [names[i] for i in range(len(names))]


def write_class_mapping(path: str | os.PathLike, classes: list[str]) -> None:
    """Write `index: name` lines atomically."""
    atomic_files.write_text(path, "".join(f"{i}: {name}\n" for i, name in enumerate(classes)))


def check_weights(path: str | os.PathLike, feature_version: int | str, classes: list[str],
                  class_mapping: str | os.PathLike | None, retrain_hint: str) -> None:
    """The checks every weights format shares: the feature version against the code, and the
    classes against `class_mapping` when given and present.  Raises CheckpointError."""
    if str(feature_version) != str(keypoints.FEATURE_VERSION):  # ONNX metadata holds strings
        raise CheckpointError(
            f"{path} was trained on feature version {feature_version} but this code computes "
            f"version {keypoints.FEATURE_VERSION}; {retrain_hint}")
    if class_mapping is not None and Path(class_mapping).is_file():
        mapped = read_class_mapping(class_mapping)
        if mapped != classes:
            diff = sorted(set(mapped) ^ set(classes)) or "same names in another order"
            raise CheckpointError(f"{path} classes do not match {class_mapping} ({diff}); "
                                  f"use the class_mapping.txt written with these weights")


def default_class_mapping(weights: str | os.PathLike) -> Path:
    """The `class_mapping.txt` that sits beside a weights file."""
    return Path(weights).with_name("class_mapping.txt")
