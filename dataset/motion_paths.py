"""J and Z as hand paths: tresajoby's recorded sequences, the static hands of every signer, and the
synthetic J and Z paths made from those hands.

Recorded: `more-signers/tresajoby/dynamic/{J,Z}.npy` in the shared data, (100, 30, 63) raw
MediaPipe landmarks of one person, in capture order, without timestamps.  The frames are taken as
REAL_FPS = 30 a second: the collector set its camera to 30 fps (`FPS = 30` in that repository's
config) and its guide says a sequence "auto-records for ~1 second".  Most sequences start still
and are still moving on their last frame (the recording stops after 30 frames), so a sequence
holds the start of the motion and most of it, rarely its end.  Handedness is not stored; their
palms face the way MediaPipe's 'Right' hands do (`RIGHT_FACING`, as tresajoby's static letters),
so they are taken as right hands.

Static hands: raw landmarks of landmark-only collections (class folders of .npy, or stacked
`A.npy` files) and `preprocess.py` output (split folders with a manifest giving MediaPipe's
handedness).  All are made right hands (`canonical`): a hand labelled 'Left' is mirrored, and a
collection without labels is mirrored when its palm-forward letters face the other way
(`RIGHT_FACING`, the sign a right hand's palm gives when it faces the camera).

Synthetic (made here, not recorded): a static I hand (or a J frame) moved and rotated so its
pinky tip traces a J hook (down, then curving to the thumb side and up, while the hand twists
the palm toward the signer), and an index-finger hand (D, or a Z frame) moved so its index tip
traces a Z (three strokes, as the recorded Z's go), each of random size, shape, speed, twist and
share of the motion made by the wrist (`pose_along`).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataset import dataset_layout as layout
from hand import keypoints

REAL_FPS = 30.0  # frames a second of the recorded sequences (see above)
SEQUENCES = Path("more-signers") / "tresajoby" / "dynamic"  # inside the shared data folder
MOTION_HANDS = {"J": ("I", "J"), "Z": ("D", "Z")}  # static hands each motion is traced with
TIPS = {"J": 20, "Z": 8}  # the landmark that traces the letter: pinky tip, index tip
FACING_LETTERS = ("B", "D", "F", "I", "K", "L", "R", "U", "V", "W", "Y")  # palm toward the camera
RIGHT_FACING = -1.0  # sign of keypoints' wrist->index x wrist->pinky knuckle (z, y down) for a right palm
MIDDLE_KNUCKLE = 9
PARENTS = keypoints.PARENTS


@dataclass
class HandSet:
    """Static hands, all right hands (`canonical`), wrist at the origin, in hand sizes (mean
    wrist-to-point distance in the image plane = 1): landmarks (N, 21, 3), letters, sources."""
    landmarks: np.ndarray
    letters: np.ndarray
    sources: np.ndarray

    def where(self, letters: tuple[str, ...] | None = None, sources: set[str] | None = None,
              exclude: set[str] | None = None) -> "HandSet":
        """The hands of these letters and sources (None: all), without the `exclude` sources."""
        keep = np.ones(len(self.letters), bool)
        if letters is not None:
            keep &= np.isin(self.letters, letters)
        if sources is not None:
            keep &= np.isin(self.sources, sorted(sources))
        if exclude:
            keep &= ~np.isin(self.sources, sorted(exclude))
        return HandSet(self.landmarks[keep], self.letters[keep], self.sources[keep])

    def one_signer(self, rng: np.random.Generator) -> "HandSet":
        """The hands of one source, each source as likely (not each hand: one collection is
        most of the hands)."""
        names = np.unique(self.sources)
        return self.where(sources={str(names[rng.integers(len(names))])})


def read_sequences(shared_data: str | os.PathLike) -> dict[str, np.ndarray]:
    """The recorded J and Z sequences, letter -> (N, T, 21, 3) float32 in capture order.
    FileNotFoundError / ValueError (one line) when missing or of another shape."""
    out = {}
    for letter in ("J", "Z"):
        path = Path(shared_data) / SEQUENCES / f"{letter}.npy"
        if not path.is_file():
            raise FileNotFoundError(f"recorded {letter} sequences not found: {path}")
        array = np.load(path, allow_pickle=False)
        if array.ndim != 3 or array.shape[2] != layout.NUM_VALUES or not np.isfinite(array).all():
            raise ValueError(f"{path}: expected (sequences, frames, 63) finite landmarks, got {array.shape}")
        out[letter] = array.reshape(array.shape[0], array.shape[1], keypoints.NUM_LANDMARKS, 3).astype(np.float32)
    return out


def normalise(landmarks: np.ndarray) -> np.ndarray:
    """Hands (N, 21, 3) with the wrist at the origin, divided by their size (mean wrist-to-point
    distance in the image plane)."""
    lm = np.asarray(landmarks, np.float64) - np.asarray(landmarks, np.float64)[:, :1]
    size = np.linalg.norm(lm[:, 1:, :2], axis=2).mean(axis=1)
    return (lm / size[:, None, None]).astype(np.float32)


def facing(landmarks: np.ndarray) -> np.ndarray:
    """Per hand: z of wrist->index knuckle x wrist->pinky knuckle (image plane, y down), signed
    by which way the palm faces and by chirality."""
    a = landmarks[:, 5, :2] - landmarks[:, 0, :2]
    b = landmarks[:, 17, :2] - landmarks[:, 0, :2]
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]


def canonical(landmarks: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Right hands: the hands flagged left mirrored (x -> -x), as `keypoints.features` does."""
    out = np.array(landmarks, np.float32, copy=True)
    out[left, :, 0] *= -1.0
    return out


def _processed_hands(root: Path, letters: set[str]) -> list[tuple[np.ndarray, str, str, str]]:
    """(landmarks, letter, source, MediaPipe's handedness label) of a preprocess.py output folder: the
    first reading of each photo and of its mirror image, no further border readings."""
    labels = {row["output"]: row.get("handedness", "") for row in layout.read_manifest(root / "manifest.csv")}
    found = []
    for split in layout.SPLITS:
        for letter in sorted(letters):
            folder = root / split / letter
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.npy")):
                reading = layout.parse_reading_name(path.name)
                if reading.extra or reading.small or "__" not in path.name:
                    continue
                lm = layout.read_landmark_file(path)
                if lm is not None:
                    rel = f"{split}/{letter}/{path.name}"
                    found.append((lm, letter, path.name.split("__", 1)[0], labels.get(rel, "")))
    return found


def _raw_hands(root: Path, letters: set[str]) -> list[tuple[np.ndarray, str, str, str]]:
    """(landmarks, letter, source, '') of the landmark files below a raw data folder (photos are
    left out: they need the landmarker, preprocess.py runs it)."""
    found = []
    for source in layout.find_sources([root]):
        for e in layout.list_entries(source)[0]:
            if e.label in letters and e.path.suffix.lower() == layout.LANDMARK_EXTENSION:
                lm = layout.read_landmark_file(e.path, e.row)
                if lm is not None:
                    found.append((lm, e.label, source.name, ""))
    return found


def static_hands(roots: list[str | os.PathLike], letters: tuple[str, ...] = tuple(layout.LETTERS)) -> HandSet:
    """The static hands of `letters` below each root (a preprocess.py output folder, or a raw
    data folder whose landmark files are read), canonical and normalised (`HandSet`).
    FileNotFoundError for a missing root, ValueError when no hand is found."""
    rows: list[tuple[np.ndarray, str, str, str]] = []
    for root in map(Path, roots):
        if not root.is_dir():
            raise FileNotFoundError(f"static hands folder not found: {root}")
        processed = (root / "train").is_dir() and (root / "manifest.csv").is_file()
        rows += _processed_hands(root, set(letters)) if processed else _raw_hands(root, set(letters))
    if not rows:
        raise ValueError(f"no landmark files of {', '.join(letters)} found in {', '.join(map(str, roots))}")
    lm = np.stack([r[0] for r in rows])
    names = np.array([r[2] for r in rows])
    left = np.array([r[3].lower() == "left" for r in rows])
    unlabelled = np.array([r[3].lower() not in ("left", "right") for r in rows])  # landmark sets: "Unknown"
    for source in np.unique(names[unlabelled]):
        mine = unlabelled & (names == source)
        forward = mine & np.isin([r[1] for r in rows], FACING_LETTERS)
        sign = np.sign(np.median(facing(lm[forward if forward.any() else mine])))
        left[mine] = sign == -RIGHT_FACING
    return HandSet(normalise(canonical(lm, left)), np.array([r[1] for r in rows]), names)


# ----------------------------------------------------------------------------- synthetic paths
def _bezier(points: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A cubic Bezier curve through control points (4, 2) at parameters u."""
    u = u[:, None]
    return ((1 - u) ** 3 * points[0] + 3 * (1 - u) ** 2 * u * points[1] + 3 * (1 - u) * u ** 2 * points[2]
            + u ** 3 * points[3])


def _rotate2(points: np.ndarray, angle: float) -> np.ndarray:
    """2-D points (N, 2) turned by `angle` radians about the origin."""
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def min_jerk(tau: np.ndarray) -> np.ndarray:
    """The minimum-jerk progress profile (0 -> 1, at rest at both ends)."""
    tau = np.clip(tau, 0.0, 1.0)
    return tau ** 3 * (10 - 15 * tau + 6 * tau ** 2)


def j_path(rng: np.random.Generator, samples: int = 200) -> np.ndarray:
    """A J hook for the pinky tip, displacement from its start in hand sizes (samples, 2; y
    down, x toward the thumb of a right hand): down, curving toward the thumb and up at the end."""
    h, w = rng.uniform(1.0, 2.6), rng.uniform(0.3, 1.6)
    up = rng.uniform(0.0, 0.45) * h
    control = np.array([[0.0, 0.0], [rng.uniform(-0.3, 0.2) * w, rng.uniform(0.9, 1.3) * h],
                        [w * rng.uniform(0.7, 1.1), h * rng.uniform(1.0, 1.3)], [w, h - up]])
    return _rotate2(_bezier(control, np.linspace(0, 1, samples)), rng.uniform(-0.35, 0.35))


def z_path(rng: np.random.Generator, samples: int = 200) -> np.ndarray:
    """A Z for the index tip, displacement from its start in hand sizes (samples, 2; y down):
    across toward the pinky side, diagonally down and back, across again, as the recorded Z's."""
    w, h = rng.uniform(0.8, 2.5), rng.uniform(0.8, 2.2)
    jag = rng.normal(0, 0.12, (3, 2)) * max(w, h)
    corners = np.array([[0.0, 0.0], [-w, 0.0], [0.0, h], [-w * rng.uniform(0.5, 1.1), h]])
    corners[1:] += jag
    lengths = np.linalg.norm(np.diff(corners, axis=0), axis=1)
    # each stroke at rest at its corners (minimum jerk), time per stroke ~ sqrt(length)
    share = np.sqrt(lengths) / np.sqrt(lengths).sum()
    tau = np.linspace(0, 1, samples)
    edges = np.concatenate([[0.0], np.cumsum(share)])
    stroke = np.clip(np.searchsorted(edges, tau, side="right") - 1, 0, 2)
    local = min_jerk((tau - edges[stroke]) / share[stroke])[:, None]
    path = corners[stroke] + local * (corners[stroke + 1] - corners[stroke])
    return _rotate2(path, rng.uniform(-0.25, 0.25))


def _turn(points: np.ndarray, axes: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Points (frames, 21, 3) each frame turned about its own unit axis (frames, 3) through the
    origin by its angle (Rodrigues)."""
    c, s = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]
    a = axes[:, None, :]
    return points * c + np.cross(a, points) * s + (points * a).sum(axis=2, keepdims=True) * a * (1 - c)


def pose_along(hand: np.ndarray, letter: str, path: np.ndarray, progress: np.ndarray,
               wrist_share: float, twist: float) -> np.ndarray:
    """The hand (normalised, wrist at the origin) at each `progress` (0..1) of its motion: a twist
    about its long axis (wrist -> middle knuckle) growing to `twist` radians, its wrist moved by
    `wrist_share` x path(progress), and the rest made by turning the hand about the wrist, in the
    image plane and (where the tip must come nearer the wrist than the finger is long) toward
    the camera, so that its tracing tip is at path(progress).  (frames, 21, 3)."""
    tip = TIPS[letter]
    n = len(progress)
    along = np.linspace(0, 1, len(path))
    d = np.stack([np.interp(progress, along, path[:, 0]), np.interp(progress, along, path[:, 1])], axis=1)
    long_axis = hand[MIDDLE_KNUCKLE] / max(float(np.linalg.norm(hand[MIDDLE_KNUCKLE])), 1e-9)
    out = _turn(np.repeat(hand[None], n, axis=0), np.repeat(long_axis[None], n, axis=0), twist * progress)
    v0 = out[:, tip, :2]
    v1 = hand[tip, :2] + (1 - wrist_share) * d
    angle = np.arctan2(v1[:, 1], v1[:, 0]) - np.arctan2(v0[:, 1], v0[:, 0])
    out = _turn(out, np.repeat([[0.0, 0.0, 1.0]], n, axis=0), angle)
    length0 = np.linalg.norm(out[:, tip, :2], axis=1)
    length1 = np.linalg.norm(v1, axis=1)
    tilt = np.arccos(np.clip(length1 / np.maximum(length0, 1e-9), 0.0, 1.0))
    across = np.stack([-v1[:, 1], v1[:, 0], np.zeros(n)], axis=1) / np.maximum(length1, 1e-9)[:, None]
    out = _turn(out, across, tilt)
    out[:, :, :2] += wrist_share * d[:, None, :]
    out[:, :, :2] += (hand[tip, :2] + d - out[:, tip, :2])[:, None, :]  # the tip exactly on its path
    return out.astype(np.float32)


def synthetic_motion(hand: np.ndarray, letter: str, rng: np.random.Generator,
                     frames: int) -> np.ndarray:
    """`frames` poses of a synthetic J or Z made from a static hand (normalised), from rest to
    rest along a random path (`j_path`, `z_path`) with random wrist share and twist."""
    if letter == "J":
        path, share, twist = j_path(rng), rng.uniform(0.05, 0.35), math.radians(rng.uniform(40, 120))
        progress = min_jerk(np.linspace(0, 1, frames))
    else:
        path, share, twist = z_path(rng), rng.uniform(0.4, 1.0), math.radians(rng.uniform(-15, 15))
        progress = np.linspace(0, 1, frames)  # z_path is already timed stroke by stroke
    return pose_along(hand, letter, path, progress, share, twist)
