"""Stable letters and hold-to-commit spelling from a stream of per-frame class probabilities.

Pure Python + numpy (no OpenCV, no model): fed synthetic streams in tests, live predictions in
recogniser.py.  Everything is time-based (timestamps in ms are passed in), so it behaves the same
at any frame rate.

Rules
- Smoothing (`Smoother`, one per hand): the frames of the last `window_ms` vote with their most
  likely class, or "no hand" for frames where the hand was missing or unusable.  The winner is the
  class with the most votes (ties: the higher mean probability); no letter when "no hand" has
  more votes than it.  Its confidence is its probability averaged over the window's frames with a
  hand (`proba`: the whole averaged vector, which the lexicon rescores).  Below `threshold` no
  letter is shown.
- Two hands: spell from the hand whose smoothed letter has the highest confidence (`best`), so a
  resting second hand cannot block the signing one.
- Motion (`HandMotion`, one per hand): how far the hand has moved lately, scale-free: the largest
  mean displacement of its landmarks between this frame and any frame of the last `window_ms`,
  in palm sizes, not counting the landmarker settling on a hand it has just found, nor shifts
  smaller than the camera's and landmarker's noise (`noise`: a few pixels, which on a hand only a
  few dozen pixels across is more than a tenth of its palm).  Above a threshold
  (recogniser.MOVE_THRESHOLD) the hand is moving: between signs.  A hand is one hand
  whatever the landmarker calls it: one read as the other hand (its handedness flipping on a held
  sign, a photo saved mirrored), from one frame to the next or across a frame or two without it,
  keeps its motion; and a sign is one hand's: when the hand it began on has left the view and a
  hand just found is read instead, the sign has ended (recogniser.py).
- Committing (`Speller`): one letter per held sign.  A sign is the stretch of frames while the
  hand stays still; it commits once, when it has shown a letter for `hold_ms` (dips shorter than
  `gap_ms` bridged) since the hand came to rest, as the class with the most probability mass
  over the sign's letter frames (`sign_proba`, which the lexicon rescores), so a sign whose
  reading flickers between two letters is still one letter.  These are the smoothed readings, whose
  window reaches back into the sign before (its letter holds about 0.15 of each vector on the
  photo streams); each frame's own reading instead was measured and not kept: names up, dictionary
  words down, one trade-off moved along (docs/model_card.md).  The sign ends when the hand moves,
  or when `nothing` or no hand lasts longer than `gap_ms`; only then can another letter commit,
  the same one included: double letters ("LL") need their small release movement, or the hand
  lowered.  A reading below the threshold on a still hand pauses the hold but does not end the
  sign.  The motion falls below the threshold only once the whole motion window (`still_ms`) is
  still, so a sign right after a movement began that long before its first still frame; a
  repeat of the letter just committed (a double letter after a small movement) counts its hold
  from its first still frame.  What a commit does to the text is text_entry.py's job.
- A letter read from motion (J, Z: motion_letters.py) `claim`s the signs around it: the sign
  going on and the next one to begin (the motion's end pose), if it begins before a given time,
  commit nothing when they read as one of the letters the motion looks like at rest (its end
  pose: I for J, D or X for Z); another letter is the next sign and commits, and so does any sign
  after the end pose (a hand that moves on from it to an X after a Z, an I after a J).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

SPACE, DELETE, NOTHING = "space", "del", "nothing"


@dataclass(frozen=True)
class Prediction:
    """A smoothed prediction: the letter (None below threshold or without a hand), the smoothed
    probability of the window's winning class (None when there is no hand) and the window's mean
    probability vector over all classes (None when there is no hand)."""
    letter: str | None
    confidence: float | None
    proba: np.ndarray | None = field(default=None, compare=False, repr=False)


NO_HAND = Prediction(None, None)


class Smoother:
    """Majority vote plus averaged probabilities over the frames of the last `window_ms`."""

    def __init__(self, classes: Sequence[str], window_ms: float, threshold: float) -> None:
        self.classes = list(classes)
        self.window_ms = float(window_ms)
        self.threshold = float(threshold)
        self._frames: deque[tuple[float, np.ndarray | None]] = deque()

    def reset(self) -> None:
        """Forget the window."""
        self._frames.clear()

    @property
    def empty(self) -> bool:
        """True when no frame of the window had a hand (the hand has gone)."""
        return all(p is None for _, p in self._frames)

    def update(self, t_ms: float, proba: np.ndarray | None) -> Prediction:
        """Add this frame's probabilities (None or NaN: no usable hand) and return the smoothed
        prediction of the window ending at `t_ms` (always at least this frame)."""
        if proba is not None and not np.isfinite(proba).all():
            proba = None
        self._frames.append((t_ms, proba))
        while self._frames[0][0] <= t_ms - self.window_ms and len(self._frames) > 1:
            self._frames.popleft()
        present = [p for _, p in self._frames if p is not None]
        if not present:
            return NO_HAND
        probs = np.stack(present)
        mean = probs.mean(axis=0)
        votes = np.bincount(probs.argmax(axis=1), minlength=len(self.classes))
        winner = int(np.lexsort((mean, votes))[-1])
        if len(self._frames) - len(present) > votes[winner]:
            return NO_HAND
        confidence = float(mean[winner])
        letter = self.classes[winner] if confidence >= self.threshold else None
        return Prediction(letter, confidence, mean)


def best(predictions: Iterable[Prediction]) -> Prediction:
    """The prediction with a letter and the highest confidence; when no hand shows a letter, the
    most confident hand (its letter None: a hand is there, unsure); NO_HAND without a hand."""
    hands = [p for p in predictions if p.confidence is not None]
    with_letter = [p for p in hands if p.letter is not None]
    return max(with_letter or hands, key=lambda p: p.confidence, default=NO_HAND)


class HandMotion:
    """How far one hand has moved over the last `window_ms`: the largest mean displacement of its
    21 landmarks (x, y) between the newest frame and any frame of the window, over the newest
    frame's palm size (wrist, index and little-finger knuckles), so it means the same near the
    camera and far from it.  The landmarker's estimate of a hand it has just found drifts for a few
    frames while it settles (about half a palm on still photos), so for `settle_ms` after the hand
    appears, or comes back after frames without it, only that first frame counts: against the
    last frame seen before (a hand back in another place or shape has moved), then nothing.  The
    motion returned is the lesser of this frame's and the previous frame's, so one frame's jump
    of the landmarks (a tracking glitch) is not a movement; a real one lasts longer.  The window
    keeps at least the two frames before this one, so at a few frames a second (a slow machine),
    where a move between two signs is one frame's jump, the frame after it still measures it.  A
    shift no larger than `noise` (landmark units; the recogniser's pixel floor) is no movement."""

    def __init__(self, window_ms: float, settle_ms: float = 0.0) -> None:
        self.window_ms = float(window_ms)
        self.settle_ms = float(settle_ms)
        self._frames: deque[tuple[float, np.ndarray]] = deque()
        self.found_ms: float | None = None  # when the hand was first seen
        self._settled_at = -np.inf
        self._lost = True
        self._last = 0.0  # the previous frame's motion

    def lost(self) -> None:
        """A frame without the hand: the next one it appears in starts settling again."""
        self._lost = True

    def palms_from(self, landmarks: np.ndarray) -> float:
        """How far `landmarks` lie from the hand's last frame, in palm sizes (inf before any frame)."""
        if not self._frames:
            return np.inf
        xy = np.asarray(landmarks, np.float64)[:, :2]
        return mean_shift(xy, self._frames[-1][1]) / max(palm_size(xy), 1e-6)

    def update(self, t_ms: float, landmarks: np.ndarray, noise: float = 0.0) -> float:
        """Add the hand's landmarks (21 x 3, x and y in one unit) at `t_ms`; how far it has moved
        (0 for a shift of at most `noise`, in the landmarks' unit)."""
        xy = np.asarray(landmarks, np.float64)[:, :2]
        if self.found_ms is None:
            self.found_ms = t_ms
        reappeared = self._lost
        if reappeared:  # the last frame seen is the only reference, then it settles
            moved = mean_shift(xy, self._frames[-1][1]) if self._frames else 0.0
            self._frames.clear()
            self._settled_at, self._lost = t_ms + self.settle_ms, False
        else:
            while len(self._frames) > 2 and self._frames[0][0] < t_ms - self.window_ms:
                self._frames.popleft()
            settling = t_ms < self._settled_at
            moved = 0.0 if settling else max(mean_shift(xy, old) for _, old in self._frames)
        self._frames.append((t_ms, xy))
        moved = 0.0 if moved <= noise else moved / max(palm_size(xy), 1e-6)
        held = moved if reappeared else min(moved, self._last)  # one frame's jump (a glitch) is no movement
        self._last = moved
        return held


def mean_shift(xy: np.ndarray, old: np.ndarray) -> float:
    """The mean distance between the landmarks of two frames (x, y)."""
    return float(np.linalg.norm(xy - old, axis=1).mean())


def palm_size(xy: np.ndarray) -> float:
    """The mean side of the palm triangle wrist - index knuckle - little-finger knuckle."""
    wrist, index, little = xy[0], xy[5], xy[17]
    return float(np.linalg.norm(wrist - index) + np.linalg.norm(wrist - little) + np.linalg.norm(index - little)) / 3


class Speller:
    """One letter per held sign (module docstring); `update` returns the class committed."""

    def __init__(self, hold_ms: float, gap_ms: float = 0.0, classes: Sequence[str] | None = None,
                 still_ms: float = 0.0) -> None:
        self.hold_ms = float(hold_ms)
        self.gap_ms = float(gap_ms)
        self.still_ms = float(still_ms)  # how long a hand has been still when it stops moving (the motion window)
        self._after_move = False  # the last frame was moving
        self._committed: str | None = None  # the last class committed
        self.classes = None if classes is None else list(classes)  # what the probabilities are of
        self._claimed_until = -np.inf  # the next sign is claimed if it begins before this
        self._claimed_letters = ""  # a claimed sign read as one of these belongs to a motion letter
        self._claimed = False  # the sign going on is claimed
        self._claim_next = False  # the next sign to begin is claimed (if it begins in time)
        self.release()

    def release(self) -> None:
        """End the sign, as if the hand had moved or been lowered (the next letter may repeat the last)."""
        self.current: str | None = None  # the letter shown now, while the sign shows one
        self._began: float | None = None  # when the sign began (its first still frame)
        self._first = 0.0  # the sign's first frame
        self._start: float | None = None  # when the sign's letters began (the hold's start)
        self._seen = 0.0  # when the sign last showed a letter
        self._done = False  # the sign has committed its letter
        self._mass: np.ndarray | None = None  # the sign's letter frames' probabilities, summed
        self._frames = 0

    def claim(self, until_ms: float, letters: str) -> None:
        """A motion letter was read: the sign going on, and the next sign if it begins before
        `until_ms`, are part of it (commit nothing) when they read as one of `letters`."""
        self._claimed_until, self._claimed_letters = until_ms, letters
        self._claimed, self._claim_next = self._began is not None, True

    @property
    def signing(self) -> bool:
        """True while a sign goes on (the hand has been still since it began)."""
        return self._began is not None

    @property
    def sign_proba(self) -> np.ndarray | None:
        """The sign's mean probabilities over its letter frames (None before any, or without them)."""
        return None if self._mass is None else self._mass / self._frames

    def progress(self, t_ms: float) -> float:
        """How far the sign is towards committing, 0..1 (0 when it has committed or shows no letter)."""
        if self._done or self._start is None or self.current is None:
            return 0.0
        return 1.0 if self.hold_ms <= 0 else min(1.0, (t_ms - self._hold_start()) / self.hold_ms)

    def _hold_start(self) -> float:
        """When the hold began: with the sign's first letter, when the hand came to rest (`still_ms`
        before its first still frame after a movement), but for a repeat of the letter committed
        last (a small movement between two holds) at its first still frame."""
        return max(self._start, self._first) if self.current == self._committed else self._start

    def update(self, t_ms: float, letter: str | None, proba: np.ndarray | None = None,
               moving: bool = False) -> str | None:
        """Feed the frame at `t_ms`: its stable letter (None: none above the threshold), the
        smoothed probabilities of its hand (None: no hand) and whether the hand is moving;
        returns the class committed now, if any."""
        if moving:
            self.release()
            self._after_move = True
            return None
        if self._began is None:  # a sign right after a movement began when the hand came to rest
            self._began = t_ms - (self.still_ms if self._after_move else 0.0)
            self._first = t_ms
            self._claimed, self._claim_next = self._claim_next and self._began < self._claimed_until, False
        self._after_move = False
        if letter is None or letter == NOTHING:
            away = letter == NOTHING or proba is None
            if self._start is not None and t_ms - self._seen <= self.gap_ms:  # a dip: bridged for now
                return None
            if away:
                self.release()
            else:  # unsure on a still hand: the same sign, its hold starts again at the next letter
                self._start = self.current = None
            return None
        if self._start is None:
            self._start = self._began if t_ms == self._first else t_ms
        self.current, self._seen = letter, t_ms
        if proba is not None:
            self._mass = proba.astype(np.float64) if self._mass is None else self._mass + proba
            self._frames += 1
        if self._done or t_ms - self._hold_start() < self.hold_ms:
            return None
        self._done = True
        cls = self._sign_class(letter)
        if self._claimed and cls in self._claimed_letters:
            return None
        self._committed = cls
        return cls

    def _sign_class(self, letter: str) -> str:
        """The class with the most probability mass over the sign (not `nothing`); `letter`
        without probabilities."""
        if self._mass is None or self.classes is None:
            return letter
        mass = np.where(np.array(self.classes) == NOTHING, -np.inf, self._mass)
        return self.classes[int(np.argmax(mass))]
