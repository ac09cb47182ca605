"""Stable letters and hold-to-commit spelling from a stream of per-frame class probabilities.

Pure Python + numpy (no OpenCV, no model): fed synthetic streams in tests, live predictions in
main.py.  Everything is time-based (timestamps in ms are passed in), so it behaves the same at
any frame rate.

Rules
- Smoothing (`Smoother`, one per hand): the frames of the last `window_ms` vote with their most
  likely class, or "no hand" for frames where the hand was missing or unusable.  The winner is the
  class with the most votes (ties: the higher mean probability); no letter when "no hand" has
  more votes than it.  Its confidence is its probability averaged over the window's frames with a
  hand.  Below `threshold` no letter is shown.
- Two hands: spell from the hand whose smoothed letter has the highest confidence (`best`), so a
  resting second hand cannot block the signing one.
- Spelling (`Speller`): a letter held steadily for `hold_ms` commits once: a letter is appended,
  `space` appends a space, `del` deletes the last character.  Holding on does not repeat it.
  `nothing`, no letter (no hand or below threshold) and a change of letter restart the hold; the
  letter just committed can commit again only after a release (`nothing` or no letter), which is
  how double letters ("LL") are spelled: sign, release, sign again.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

SPACE, DELETE, NOTHING = "space", "del", "nothing"


@dataclass(frozen=True)
class Prediction:
    """A smoothed prediction: the letter (None below threshold or without a hand) and the smoothed
    probability of the window's winning class (None when there is no hand)."""
    letter: str | None
    confidence: float | None


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
        return Prediction(letter, confidence)


def best(predictions: Iterable[Prediction]) -> Prediction:
    """The prediction with a letter and the highest confidence (NO_HAND when none has a letter)."""
    with_letter = [p for p in predictions if p.letter is not None]
    return max(with_letter, key=lambda p: p.confidence, default=NO_HAND)


class Speller:
    """Hold-to-commit spelling; `text` is the spelled text so far."""

    def __init__(self, hold_ms: float) -> None:
        self.hold_ms = float(hold_ms)
        self.text = ""
        self.release()

    def release(self) -> None:
        """Restart the hold as if the hand had been lowered (the next letter may repeat the last)."""
        self.current: str | None = None
        self._since = 0.0
        self._committed: str | None = None  # the letter held now that has already been committed

    def clear(self) -> None:
        """Empty the text and restart the hold."""
        self.text = ""
        self.release()

    def progress(self, t_ms: float) -> float:
        """How far the current letter is towards committing, 0..1 (0 without a pending letter)."""
        if self.current is None or self.current == self._committed:
            return 0.0
        return 1.0 if self.hold_ms <= 0 else min(1.0, (t_ms - self._since) / self.hold_ms)

    def update(self, t_ms: float, letter: str | None) -> str | None:
        """Feed the stable letter of the frame at `t_ms`; returns the class committed now, if any."""
        if letter is None or letter == NOTHING:
            self.release()
            return None
        if letter != self.current:
            self.current, self._since = letter, t_ms
        if letter == self._committed or t_ms - self._since < self.hold_ms:
            return None
        self._committed = letter
        if letter == SPACE:
            self.text += " "
        elif letter == DELETE:
            self.text = self.text[:-1]
        else:
            self.text += letter
        return letter
