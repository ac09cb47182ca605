"""J and Z from motion: the tracked hand's path over the last second -> J, Z or neither.

J (the I hand tracing a hook downward) and Z (the index tracing a Z) are motions; one frame of
them looks like I, X, G or R, which the letter model reads.  On streams, `MotionLetters.update`
takes each frame's tracked hand (time, 21x3 landmarks, MediaPipe's handedness; None without a
hand) and returns a `MotionLetter` once per motion.  Photos keep the single-frame reading.

Per frame, `frame_descriptor` keeps a few numbers of the hand (image units, as detected): wrist,
middle knuckle, index tip and pinky tip (x, y), the unit direction wrist -> middle knuckle, the
palm's facing (z of the wrist->index x wrist->pinky knuckle cross product, over size^2), how far
index and pinky reach from their knuckles (over size) and the hand's size.  The path is those
numbers at fixed instants, every `dt_ms` of the clock (multiples of it), each linear between the
frames around it (a first frame counts as held before; a hand lost up to `max_gap_ms` is bridged),
so any frame rate gives the same path.  The window is the last `steps` instants: the middle
knuckle of the last one at the origin, positions over the mean hand size in the window, a left
hand (majority of labels) mirrored as `keypoints.features` does; then, per point, how far its path
strays from a straight line and how long it is (a change of letter moves each point along a
line; J and Z trace a hook and strokes) (`window_features`).  A window in which no point moved
`gate` hand sizes from where it ends is no motion and skips the model.  The model is a small MLP (standardised input, ReLU layers, softmax over CLASSES), numpy only; it runs
when a new instant has passed (2 frames in 3 at 30 fps), and `web/motion_letters.js` computes the
same.  Weights are JSON (`MOTION_WEIGHTS`) with their settings, class names and a sha256 of their
content, all checked on load.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from storage import atomic_files

MOTION_WEIGHTS = Path(__file__).resolve().parents[1] / "motion_letters.json"
FORMAT = "asl-motion-letters"
FORMAT_VERSION = 1
FEATURE_VERSION = 1
CLASSES = ("none", "J", "Z")
DESCRIPTOR_SIZE = 14  # wrist, knuckle, index tip, pinky tip (x, y), direction (2), facing, 2 reaches, size
CHANNELS = 13  # per instant: the descriptor without the size
MIRRORED = (0, 2, 4, 6, 8, 10)  # descriptor entries that change sign for a left hand
SHAPE_INPUTS = 8  # after the path: each point's stray from a straight line, and its path length
CHORD_MIN = 0.25  # hand sizes: the least distance a point's stray is measured against
KNUCKLE_XY = [2, 3] * 4  # the middle knuckle, for each point's x and y
RIGHT_SIGNS = np.ones(CHANNELS)
LEFT_SIGNS = np.where(np.isin(np.arange(CHANNELS), MIRRORED), -1.0, 1.0)  # a left hand mirrored


def still_reading(letter: str | None, proba: np.ndarray | None, classes: Sequence[str],
                  threshold: float) -> tuple[str | None, np.ndarray | None]:
    """A hand's smoothed reading (`letter`, its mean probabilities `proba`) as the speller takes it
    on a stream: J and Z's share spread over the other classes (J and Z are motions, read from the
    hand's path; one frame of them is the shape of another letter), and a J or Z reading replaced
    by the likeliest other class, None when that is below `threshold`."""
    if proba is None:
        return letter, proba
    moving = [i for i, c in enumerate(classes) if c in CLASSES[1:]]
    kept = np.array(proba, np.float32, copy=True)
    kept[moving] = 0.0
    total = float(kept.sum(dtype=np.float64))
    if total <= 0:
        return None, proba
    kept /= total
    if letter in CLASSES[1:]:
        best = int(np.argmax(kept))
        letter = classes[best] if kept[best] >= threshold else None
    return letter, kept


def inputs(settings: "Settings") -> int:
    """The model's input size: the path (steps x CHANNELS) and its shape (SHAPE_INPUTS)."""
    return settings.steps * CHANNELS + SHAPE_INPUTS


class MotionWeightsError(RuntimeError):
    """A motion-letter weights file that is missing, unreadable, altered or made for other code."""


class MotionLetter(NamedTuple):
    """A motion letter read at `t_ms`, with its probability; `start_ms` is when the hand began to
    move in the window (the letters the static model committed from then on belong to it)."""
    letter: str
    probability: float
    t_ms: float
    start_ms: float


@dataclass(frozen=True)
class Settings:
    """Feature and detection settings; they travel with the weights (trained together)."""
    dt_ms: float = 50.0  # the path's instants: every this many ms of the clock
    steps: int = 20  # instants in the window: the last (steps - 1) x dt_ms = 0.95 s
    gate: float = 0.5  # hand sizes some point must move in the window for the model to run
    threshold: float = 0.8  # probability of J or Z that reports it
    release: float = 0.5  # after a report, both must fall below this before another
    refractory_ms: float = 1000.0  # and this long must pass (one report per motion)
    max_gap_ms: float = 300.0  # a hand missing longer than this starts a new path
    onset: float = 0.3  # hand sizes a point moves from the window's start: when the motion began

    @property
    def window_ms(self) -> float:
        """The time the window spans."""
        return (self.steps - 1) * self.dt_ms


def frame_descriptor(landmarks: np.ndarray) -> list[float]:
    """The numbers of one hand (21x3, image units) the path is made of (DESCRIPTOR_SIZE, not
    mirrored; see the module's docstring).  ValueError for non-finite or collapsed landmarks."""
    p = np.asarray(landmarks).reshape(21, 3).tolist()  # Python floats: exact for float32 and float64
    wx, wy = p[0][0], p[0][1]
    size = sum(math.hypot(q[0] - wx, q[1] - wy) for q in p[1:]) / 20.0
    if not math.isfinite(size) or size <= 1e-9:
        raise ValueError("landmarks are non-finite or all at one point")
    kx, ky = p[9][0] - wx, p[9][1] - wy
    reach = math.hypot(kx, ky)
    ix, iy, px, py = p[5][0] - wx, p[5][1] - wy, p[17][0] - wx, p[17][1] - wy
    return [wx, wy, p[9][0], p[9][1], p[8][0], p[8][1], p[20][0], p[20][1],
            kx / reach if reach > 1e-9 else 0.0, ky / reach if reach > 1e-9 else 0.0,
            (ix * py - iy * px) / (size * size),
            math.hypot(p[8][0] - p[5][0], p[8][1] - p[5][1]) / size,
            math.hypot(p[20][0] - p[17][0], p[20][1] - p[17][1]) / size, size]


def window_features(path: np.ndarray, left: bool, gate: float) -> np.ndarray | None:
    """The model's input for a window of the path (steps x DESCRIPTOR_SIZE, oldest first), or None
    when no point got `gate` hand sizes from where it ends (no motion): the steps x CHANNELS
    values, then for each point (wrist, middle knuckle, index and pinky tip) how far its path
    strays from the straight line through where it starts and ends in the window (over that
    distance, at least CHORD_MIN) and how long its path is, in hand sizes."""
    steps = len(path)
    size = path[:, 13].sum() / steps
    moved = float(np.abs((path[:, :8] - path[-1, :8]).view(np.complex128)).max()) / size  # (x, y) as x + iy
    if moved < gate:
        return None
    features = np.empty(steps * CHANNELS + SHAPE_INPUTS)
    out = features[:steps * CHANNELS].reshape(steps, CHANNELS)
    signs = LEFT_SIGNS if left else RIGHT_SIGNS
    np.multiply(path[:, :8] - path[-1, KNUCKLE_XY], signs[:8] / size, out=out[:, :8])
    np.multiply(path[:, 8:CHANNELS], signs[8:], out=out[:, 8:])
    z = out[:, :8].view(np.complex128)  # each point as x + iy
    rel = z - z[0]
    chord = rel[-1]
    features[-8:-4] = np.abs((rel * chord.conj()).imag).max(axis=0) / np.maximum(np.abs(chord), CHORD_MIN)
    features[-4:] = np.abs(z[1:] - z[:-1]).sum(axis=0)
    return features


def onset_ms(features: np.ndarray, t_last: float, settings: Settings) -> float:
    """When the hand began to move in a window whose last instant is `t_last`: the instant before
    the first one at which some point is `onset` hand sizes from where it was at the start."""
    pos = features[:settings.steps * CHANNELS].reshape(settings.steps, CHANNELS)[:, 0:8]
    away = np.abs(pos - pos[0]).max(axis=1) > settings.onset
    first = int(np.argmax(away)) if away.any() else settings.steps - 1
    return t_last - (settings.steps - max(first - 1, 0) - 1) * settings.dt_ms


# ----------------------------------------------------------------------------- weights
def content_sha256(payload: dict[str, Any]) -> str:
    """sha256 of the weights' content: the JSON of everything but `sha256`, keys sorted, compact."""
    body = {k: v for k, v in payload.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def weights_payload(settings: Settings, mean: np.ndarray, std: np.ndarray,
                    layers: list[tuple[np.ndarray, np.ndarray]], about: dict[str, Any]) -> dict[str, Any]:
    """The weights file's content (float32 values), its sha256 included: `layers` are (weight
    (in, out), bias) pairs with ReLU between them; `about` says how they were made."""
    def f32(a: np.ndarray) -> list:
        return np.asarray(a, np.float32).tolist()
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "feature_version": FEATURE_VERSION,
               "classes": list(CLASSES), "settings": settings.__dict__.copy(), "input_mean": f32(mean),
               "input_std": f32(std), "layers": [{"weight": f32(w), "bias": f32(b)} for w, b in layers],
               "about": about}
    payload["sha256"] = content_sha256(payload)
    return payload


def save_weights(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write a weights file (`weights_payload`) atomically."""
    atomic_files.write_text(path, json.dumps(payload, separators=(",", ":")) + "\n")


class MotionModel:
    """Loaded, checked weights: `proba` of CLASSES for one window's features."""

    def __init__(self, payload: dict[str, Any], name: object = "motion weights") -> None:
        try:
            if payload.get("format") != FORMAT or payload.get("format_version") != FORMAT_VERSION:
                raise MotionWeightsError(f"{name} is not a motion-letter weights file of format {FORMAT} "
                                         f"v{FORMAT_VERSION}")
            if payload.get("sha256") != content_sha256(payload):
                raise MotionWeightsError(f"{name} fails its sha256 check (altered or truncated): train it again "
                                         "with train_motion.py")
            if tuple(payload["classes"]) != CLASSES:
                raise MotionWeightsError(f"{name} has classes {payload['classes']}, the code expects {list(CLASSES)}")
            if payload["feature_version"] != FEATURE_VERSION:
                raise MotionWeightsError(f"{name} was made for motion features v{payload['feature_version']}, "
                                         f"the code computes v{FEATURE_VERSION}")
            self.settings = Settings(**payload["settings"])
            self.sha256 = str(payload["sha256"])
            self.mean = np.asarray(payload["input_mean"], np.float64)
            self.std = np.asarray(payload["input_std"], np.float64)
            self.layers = [(np.asarray(la["weight"], np.float64), np.asarray(la["bias"], np.float64))
                           for la in payload["layers"]]
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise MotionWeightsError(f"{name} is malformed ({type(err).__name__}: {err})") from None
        sizes = [self.mean.size] + [w.shape[1] for w, _ in self.layers]
        shapes_ok = all(w.ndim == 2 and w.shape == (a, b) and bias.shape == (b,)
                        for (w, bias), a, b in zip(self.layers, sizes, sizes[1:]))
        if (self.mean.size != inputs(self.settings) or self.std.shape != self.mean.shape
                or not shapes_ok or sizes[-1] != len(CLASSES)):
            raise MotionWeightsError(f"{name} has layer shapes that do not fit {self.settings.steps} x {CHANNELS} "
                                     f"inputs and {len(CLASSES)} classes")
        # the standardisation folded into the first layer: (x - mean) / std @ W + b = x @ W' + b'
        w, b = self.layers[0]
        self._folded = [(w / self.std[:, None], b - (self.mean / self.std) @ w), *self.layers[1:]]

    @classmethod
    def load(cls, path: str | os.PathLike = MOTION_WEIGHTS) -> "MotionModel":
        """Read and check a weights file; MotionWeightsError (one line) if it is unusable."""
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise MotionWeightsError(f"cannot read motion weights {path}: {err}") from None
        if not isinstance(payload, dict):
            raise MotionWeightsError(f"{path} is not a motion-letter weights file")
        return cls(payload, path)

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Scores of CLASSES for one window's features (or a batch, N x inputs)."""
        h = features
        for w, b in self._folded[:-1]:
            h = np.maximum(h @ w + b, 0.0)
        w, b = self._folded[-1]
        return h @ w + b

    def proba(self, features: np.ndarray) -> np.ndarray:
        """Softmax of `logits`."""
        z = self.logits(features)
        z = np.exp(z - z.max(axis=-1, keepdims=True))
        return z / z.sum(axis=-1, keepdims=True)


# ----------------------------------------------------------------------------- the live detector
class MotionPath:
    """The tracked hand's path at the clock's `dt_ms` instants, with each instant's handedness
    (a ring of the last `steps`, each written twice so the window is one slice)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ring = np.zeros((2 * settings.steps, DESCRIPTOR_SIZE + 1))
        self.reset()

    def reset(self) -> None:
        """No hand: the next one starts a new path."""
        self._last: tuple[float, list[float], float] | None = None  # last frame: time, descriptor, left
        self._instant = 0  # index of the last instant written (on the clock)
        self._head = 0
        self.features: np.ndarray | None = None  # the window's model input (None: no motion in it)

    def add(self, t_ms: float, descriptor: list[float], left: bool) -> bool:
        """A frame with a hand; True when an instant has passed since the last one (the window
        changed).  An earlier or equal time than the last frame's is a new path or ignored."""
        dt = self.settings.dt_ms
        instant = math.floor(t_ms / dt)
        row = descriptor + [1.0 if left else 0.0]
        if self._last is None or t_ms < self._last[0]:
            self._last = (t_ms, descriptor, 1.0 if left else 0.0)
            self._instant = instant
            self._ring[:] = row
            return True
        t0, d0, l0 = self._last
        if t_ms == t0:
            return False
        new = min(instant - self._instant, self.settings.steps)
        steps = self.settings.steps
        for k in range(instant - new + 1, instant + 1):
            w = (k * dt - t0) / (t_ms - t0)
            sample = [a + w * (b - a) for a, b in zip(d0, descriptor)] + [l0 + w * (row[-1] - l0)]
            self._head = (self._head + 1) % steps
            self._ring[self._head] = self._ring[self._head + steps] = sample
        self._last = (t_ms, descriptor, row[-1])
        self._instant = instant
        return new > 0

    @property
    def last_ms(self) -> float:
        """The clock time of the window's last instant."""
        return self._instant * self.settings.dt_ms

    def gap_ms(self, t_ms: float) -> float:
        """How long ago the last hand was seen (infinite without one)."""
        return math.inf if self._last is None else t_ms - self._last[0]

    def window(self) -> tuple[np.ndarray, bool]:
        """The last `steps` instants, oldest first, and whether the hand is mostly a left one."""
        rows = self._ring[self._head + 1:self._head + 1 + self.settings.steps]
        return rows[:, :DESCRIPTOR_SIZE], bool(2.0 * rows[:, DESCRIPTOR_SIZE].sum() > len(rows))

    def observe(self, t_ms: float, landmarks: np.ndarray | None, handedness: str | None) -> bool:
        """Take a frame (None: no hand); True when the window changed, its model input then in
        `features` (`window_features`; None when the hand moved less than `gate`)."""
        if landmarks is None:
            if self.gap_ms(t_ms) > self.settings.max_gap_ms:
                self.reset()
            return False
        try:
            descriptor = frame_descriptor(landmarks)
        except ValueError:
            return False
        if not self.add(t_ms, descriptor, str(handedness).lower() == "left"):
            return False
        self.features = window_features(*self.window(), self.settings.gate)
        return True


class MotionLetters:
    """Once per frame of a stream, `update`; a J or Z comes back once per motion."""

    def __init__(self, model: MotionModel | None = None) -> None:
        self.model = model if model is not None else MotionModel.load()
        self.settings = self.model.settings
        self.path = MotionPath(self.settings)
        self.proba: np.ndarray | None = None  # the last window's probabilities (None: no hand or no motion)
        self.reset()

    def reset(self) -> None:
        """Forget the path (a new stream, or another person)."""
        self.path.reset()
        self._armed = True
        self._quiet_until = -math.inf
        self.proba = None

    def update(self, t_ms: float, landmarks: np.ndarray | None, handedness: str | None,
               moving: bool = True) -> MotionLetter | None:
        """The frame at `t_ms` (increasing): the tracked hand's landmarks (21x3, image units) and
        MediaPipe's handedness label, or None for both when no hand is seen.  Returns a J or Z
        when one is read, at most once per motion, and only while the hand is `moving` (the
        speller's measure, speller.HandMotion): a J or Z is read while it is traced, and a hand
        that jumped to the next letter and stopped there (whose path's steps can look like a Z's
        strokes) is a change of letter; a reading held back for that is not used up."""
        if not self.path.observe(t_ms, landmarks, handedness):
            if landmarks is None:
                self.proba = None
                if self.path.gap_ms(t_ms) == math.inf:
                    self._armed = True
            return None
        features = self.path.features
        s = self.settings
        if features is None:
            self.proba = None
            self._armed = True
            return None
        self.proba = p = self.model.proba(features)
        best = 1 + int(np.argmax(p[1:]))
        if max(p[1], p[2]) < s.release:
            self._armed = True
        if p[best] < s.threshold or not self._armed or t_ms < self._quiet_until or not moving:
            return None
        self._armed = False
        self._quiet_until = t_ms + s.refractory_ms
        return MotionLetter(CLASSES[best], float(p[best]), float(t_ms), onset_ms(features, self.path.last_ms, s))
