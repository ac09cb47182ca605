"""Landmark streams as a camera would give them, made from static hands (synthetic) and from the
recorded J and Z sequences: the training windows of the motion-letter model and its benchmark.

A stream is what `motion_letters.MotionLetters.update` gets: frame times (ms), one hand's
landmarks per frame (image units; NaN rows: no hand), MediaPipe's label, and the motions in it.
Each stream is one signer's hands (each signer as likely, whatever their number of samples),
with their bones and the camera's x and y scaled a little (another person's proportions), turned
at random in and out of the image plane, placed in the frame at a size and position, mirrored
into left hands for half the streams (labelled 'Left', which the features undo), shaken by camera
jitter (Gaussian noise on every landmark, a share of the hand's size) and sometimes lost for a
frame; frames come at the stream's rate, each a little early or late.

- `letter_stream`: static letters, each held ~0.7 s, the hand changing shape (linearly, and
  moving and turning a little) over 100-300 ms between them: spelling without J or Z.
- `idle_stream`: one hand held still (slow drift only) for seconds.
- `move_stream`: a hand moved along a random straight or curved path: repositioning, lowering.
- `motion_stream`: a still hand, then a synthetic J or Z (`motion_paths.synthetic_motion`), then
  still again or gone.
- `recorded_stream`: a recorded sequence at REAL_FPS (optionally faster or slower), after its
  first frame held still.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dataset import motion_paths
from dataset.motion_paths import HandSet

TURN_DEG = (25.0, 30.0)  # each stream's hand turned at random: in the image plane, and out of it (yaw, pitch)
LETTER_TURN_DEG = (15.0, 15.0)  # and each letter of a spelling stream a little more
RESHAPE = 0.15  # bones and the image's x and y scaled by up to this much, per hand
JITTER = (0.002, 0.02)  # camera jitter, x the hand's size (log-uniform); tresajoby's still frames: 0.005
DROP = 0.03  # chance a frame loses the hand
HAND_SIZE = (0.04, 0.16)  # hand size (mean wrist-to-point) as a share of the image's longer side
LETTER_HOLD_S = (0.6, 0.8)  # each static letter of a spelling stream, "~0.7 s"
TRANSITION_S = (0.1, 0.3)  # between two letters
STATIC_LETTERS = tuple(c for c in "ABCDEFGHIKLMNOPQRSTUVWXY")  # all but the motion letters


@dataclass
class Stream:
    """Frame times (ms), landmarks (frames, 21, 3; NaN rows where no hand is seen), MediaPipe's
    label for the hand, and the motion letters in it as (letter, start_ms, end_ms)."""
    times: np.ndarray
    landmarks: np.ndarray
    handedness: str
    motions: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def minutes(self) -> float:
        """How long the stream lasts."""
        return float(self.times[-1] - self.times[0]) / 60000.0 if len(self.times) > 1 else 0.0


def turn(rng: np.random.Generator, degrees: tuple[float, float]) -> np.ndarray:
    """A random rotation (3x3): up to degrees[0] in the image plane, then up to degrees[1] about
    the vertical and the horizontal axis (the hand turned toward or away from the camera)."""
    roll, yaw, pitch = np.radians(rng.uniform(-1, 1, 3) * np.array([degrees[0], degrees[1], degrees[1]]))
    c, s = np.cos(roll), np.sin(roll)
    rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    c, s = np.cos(yaw), np.sin(yaw)
    ry = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    c, s = np.cos(pitch), np.sin(pitch)
    rx = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    return rz @ ry @ rx


class Camera:
    """Turns poses (hand sizes, wrist-relative, right hands) at given times into a stream's frames
    at `fps`: the hand turned at random (`TURN_DEG`), a random hand size, place, mirroring, jitter
    and dropped frames."""

    def __init__(self, rng: np.random.Generator, fps: float) -> None:
        self.rng, self.fps = rng, fps
        self.turn = turn(rng, TURN_DEG)
        self.size = rng.uniform(*HAND_SIZE)
        self.place = np.array([rng.uniform(0.3, 0.7), rng.uniform(0.45, 0.75)])
        self.left = bool(rng.random() < 0.5)
        self.jitter = float(np.exp(rng.uniform(*np.log(JITTER))))

    def frame_times(self, seconds: float) -> np.ndarray:
        """Frame times (ms) over `seconds`, each a little early or late."""
        n = max(int(seconds * self.fps), 1)
        t = np.arange(n) * 1000.0 / self.fps
        return t + self.rng.uniform(-0.1, 0.1, n) * 1000.0 / self.fps

    def shoot(self, times: np.ndarray, poses: np.ndarray, motions: list[tuple[str, float, float]]) -> Stream:
        """The stream of `poses` (frames, 21, 3) at `times`."""
        lm = poses @ self.turn.T * self.size
        lm[:, :, :2] += self.place
        lm = lm + self.rng.normal(0, self.jitter * self.size, lm.shape)
        if self.left:
            lm[:, :, 0] = 1.0 - lm[:, :, 0]
        lm[self.rng.random(len(lm)) < DROP] = np.nan
        return Stream(times, lm.astype(np.float32), "Left" if self.left else "Right", motions)


def _at(key_times: np.ndarray, key_poses: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Poses at `times`, linear between key poses (held outside them)."""
    hi = np.clip(np.searchsorted(key_times, times, side="right"), 1, len(key_times) - 1)
    lo = hi - 1
    w = np.clip((times - key_times[lo]) / np.maximum(key_times[hi] - key_times[lo], 1e-9), 0, 1)
    return key_poses[lo] + w[:, None, None] * (key_poses[hi] - key_poses[lo])


def _pick(hands: HandSet, rng: np.random.Generator, person: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """A random hand of the set, reshaped as `person`'s (default: a new person's, `proportions`)."""
    scale, stretch = person if person is not None else proportions(rng)
    hand = hands.landmarks[rng.integers(len(hands.letters))]
    bones = hand - hand[motion_paths.PARENTS]
    out = np.zeros_like(hand)
    for i in range(1, len(hand)):  # the hand rebuilt from the wrist out
        out[i] = out[motion_paths.PARENTS[i]] + bones[i] * scale[i]
    out[:, :2] *= stretch
    return out


def proportions(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Another person's hand, seen by another camera: a scale for each bone and for x and y,
    each up to RESHAPE from 1."""
    return rng.uniform(1 - RESHAPE, 1 + RESHAPE, (21, 1)), rng.uniform(1 - RESHAPE, 1 + RESHAPE, 2)


def letter_stream(hands: HandSet, rng: np.random.Generator, fps: float, letters: int = 8,
                  hold_s: tuple[float, float] = LETTER_HOLD_S,
                  transition_s: tuple[float, float] = TRANSITION_S) -> Stream:
    """`letters` static hands of one signer in a row (no J or Z), each held `hold_s`, changing
    over `transition_s`, each turned a little (`LETTER_TURN_DEG`) and placed up to a third of a
    hand size from the last; one person's proportions throughout."""
    pool = hands.where(STATIC_LETTERS).one_signer(rng)
    key_t, key_p, t = [], [], 0.0
    offset = np.zeros(3)
    person = proportions(rng)
    for _ in range(letters):
        pose = _pick(pool, rng, person) @ turn(rng, LETTER_TURN_DEG).T + offset
        hold = rng.uniform(*hold_s) * 1000.0
        key_t += [t, t + hold]
        key_p += [pose, pose]
        t += hold + rng.uniform(*transition_s) * 1000.0
        offset = offset + np.r_[rng.normal(0, 0.15, 2), 0.0]
    cam = Camera(rng, fps)
    times = cam.frame_times(key_t[-1] / 1000.0)
    return cam.shoot(times, _at(np.array(key_t), np.array(key_p), times), [])


def idle_stream(hands: HandSet, rng: np.random.Generator, fps: float, seconds: float = 6.0) -> Stream:
    """One hand held still for `seconds`, drifting at most a hand size a minute."""
    cam = Camera(rng, fps)
    times = cam.frame_times(seconds)
    drift = np.cumsum(rng.normal(0, 0.004, (len(times), 2)), axis=0) * np.sqrt(30.0 / fps)
    poses = np.repeat(_pick(hands.one_signer(rng), rng)[None], len(times), axis=0)
    poses[:, :, :2] += drift[:, None, :]
    return cam.shoot(times, poses, [])


def move_stream(hands: HandSet, rng: np.random.Generator, fps: float) -> Stream:
    """A hand held, moved 0.5-3 hand sizes along a straight or curved path in 0.3-1.5 s (turning
    in the image plane up to 40 degrees, or half the time up to 120), then held: moving between
    signs, lowering the hand, turning it to a sideways letter."""
    hand = _pick(hands.one_signer(rng), rng)
    before, during, after = rng.uniform(0.2, 0.8), rng.uniform(0.3, 1.5), rng.uniform(0.2, 0.8)
    cam = Camera(rng, fps)
    times = cam.frame_times(before + during + after)
    u = motion_paths.min_jerk((times / 1000.0 - before) / during)
    end = rng.normal(0, 1, 2)
    end *= rng.uniform(0.5, 3.0) / np.linalg.norm(end)
    bend = rng.normal(0, 0.5) * np.array([-end[1], end[0]])
    path = np.outer(u, end) + np.outer(4 * u * (1 - u), bend)
    angle = np.radians(rng.uniform(-1, 1) * (40 if rng.random() < 0.5 else 120)) * u
    c, s = np.cos(angle), np.sin(angle)
    poses = np.repeat(hand[None], len(times), axis=0)
    x, y = poses[:, :, 0].copy(), poses[:, :, 1].copy()
    poses[:, :, 0] = c[:, None] * x - s[:, None] * y + path[:, :1]
    poses[:, :, 1] = s[:, None] * x + c[:, None] * y + path[:, 1:]
    return cam.shoot(times, poses, [])


def motion_stream(hands: HandSet, letter: str, rng: np.random.Generator, fps: float,
                  seconds: tuple[float, float]) -> Stream:
    """A still hand of MOTION_HANDS[letter] (0.2-1 s), a synthetic J or Z lasting `seconds`, then
    the last pose held (0-0.6 s) or the hand gone."""
    hand = _pick(hands.where(motion_paths.MOTION_HANDS[letter]).one_signer(rng), rng)
    before, during, after = rng.uniform(0.2, 1.0), rng.uniform(*seconds), rng.uniform(0.0, 0.6)
    cam = Camera(rng, fps)
    times = cam.frame_times(before + during + after)
    key = motion_paths.synthetic_motion(hand, letter, rng, 60)
    key_t = before * 1000.0 + np.linspace(0, during * 1000.0, len(key))
    stream = cam.shoot(times, _at(key_t, key, times), [(letter, key_t[0], key_t[-1])])
    if rng.random() < 0.3:
        stream.landmarks[times > key_t[-1]] = np.nan
    return stream


def recorded_stream(sequence: np.ndarray, letter: str, rng: np.random.Generator | None = None,
                    speed: float = 1.0, fps: float = motion_paths.REAL_FPS, still_s: float = 0.5) -> Stream:
    """A recorded sequence (frames, 21, 3, image units) played `speed` times as fast as recorded,
    seen at `fps` (the recorded frame nearest each frame time), after its first frame held still
    for `still_s`; with `rng`, mirrored into a left hand half the time and a little jitter added.
    The motion runs from its onset (`recorded_onset`) to the last frame."""
    duration = len(sequence) * 1000.0 / motion_paths.REAL_FPS / speed
    times = np.arange(-still_s * 1000.0, duration, 1000.0 / fps)
    index = np.clip(np.round(times * speed * motion_paths.REAL_FPS / 1000.0).astype(int), 0, len(sequence) - 1)
    lm = sequence[index].astype(np.float32)
    handedness = "Right"
    if rng is not None:
        size = np.linalg.norm(lm[:, 1:, :2] - lm[:, :1, :2], axis=2).mean()
        lm = lm + rng.normal(0, rng.uniform(0.0, 0.01) * size, lm.shape).astype(np.float32)
        if rng.random() < 0.5:
            lm[:, :, 0] = 1.0 - lm[:, :, 0]
            handedness = "Left"
    last = (len(sequence) - 1) * 1000.0 / motion_paths.REAL_FPS / speed
    return Stream(times, lm, handedness, [(letter, recorded_onset(sequence) * 1000.0 / motion_paths.REAL_FPS / speed,
                                           last)])


def recorded_onset(sequence: np.ndarray, away: float = 0.3) -> int:
    """The first frame of a recorded sequence at which the wrist, middle knuckle, index or pinky
    tip is `away` hand sizes from where it was on the first frame (the last frame if none is)."""
    points = sequence[:, (0, 9, 8, 20), :2]
    size = np.linalg.norm(sequence[:, 1:, :2] - sequence[:, :1, :2], axis=2).mean()
    moved = np.linalg.norm(points - points[:1], axis=2).max(axis=1) > away * size
    return int(np.argmax(moved)) if moved.any() else len(sequence) - 1
