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
- Committing (`Speller`): a class held steadily for `hold_ms` commits once; holding on does not
  repeat it.  A dip (no letter, `nothing` or another letter) shorter than `gap_ms` is bridged:
  the hold goes on as if the letter had stayed.  `nothing`, no letter (no hand or below
  threshold) or another letter for longer than `gap_ms` restart the hold; the class just
  committed can commit again only after a release (`nothing` or no letter for longer than
  `gap_ms`), which is how double letters ("LL") are spelled: sign, release, sign again.  What a
  commit does to the text is text_entry.py's job.
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
    """The prediction with a letter and the highest confidence (NO_HAND when none has a letter)."""
    with_letter = [p for p in predictions if p.letter is not None]
    return max(with_letter, key=lambda p: p.confidence, default=NO_HAND)


class Speller:
    """Hold-to-commit with dips of up to `gap_ms` bridged; `update` returns the class committed."""

    def __init__(self, hold_ms: float, gap_ms: float = 0.0) -> None:
        self.hold_ms = float(hold_ms)
        self.gap_ms = float(gap_ms)
        self.release()

    def release(self) -> None:
        """Restart the hold as if the hand had been lowered (the next letter may repeat the last)."""
        self.current: str | None = None
        self._since = self._seen = 0.0
        self._committed: str | None = None  # the class held now that has already been committed
        self._other: str | None = None  # the other class seen since the current one was last seen
        self._other_since = 0.0

    def progress(self, t_ms: float) -> float:
        """How far the current letter is towards committing, 0..1 (0 without a pending letter)."""
        if self.current is None or self.current == self._committed:
            return 0.0
        return 1.0 if self.hold_ms <= 0 else min(1.0, (t_ms - self._since) / self.hold_ms)

    def update(self, t_ms: float, letter: str | None) -> str | None:
        """Feed the stable letter of the frame at `t_ms` (None: no letter); returns the class
        committed now, if any."""
        letter = None if letter == NOTHING else letter
        if letter is None or letter != self.current:
            if self.current is not None and t_ms - self._seen <= self.gap_ms:  # a dip: bridged for now
                if letter != self._other:
                    self._other, self._other_since = letter, t_ms
                return None
            if letter is None:
                self.release()
                return None
            self.current = letter
            self._since = self._other_since if letter == self._other else t_ms
        self._seen, self._other = t_ms, None
        if letter == self._committed or t_ms - self._since < self.hold_ms:
            return None
        self._committed = letter
        return letter
