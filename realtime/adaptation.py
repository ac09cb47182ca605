"""Signer adaptation: the letter model learns the hand in front of the camera from the words it
spells, without torch and without a recording session.

A word that ends as a lexicon word (the letters as committed, or the lexicon's correction of them
with as many letters) or that the user takes as a suggestion or keeps with undo is taken as
confirmed: each committed letter's hand, as the model saw it on the frame the letter committed
(its calibrated logits and the head's hidden layer, `classifier_base.Scores`), becomes a sample of
the confirmed word's letter at that position.  So a letter this signer makes in their own way,
read as another letter but put right by the lexicon, is learnt as what it was.

`SignerAdapter` fits a residual of the model's last dense layer on those samples: calibrated
logits + hidden @ W.T, W pulled toward zero (L2) and zero in the rows of `del`, `nothing` and
`space` (samples are letters only, so those rows would only learn to lose), by full-batch Adam in
numpy (tens of milliseconds per word).  Leave-one-source-out, one confirmed sample of each letter
of a held-out signer lifts the mean over the twelve folds from 85.9% to 90.8% of found hands, and
on the spelling benchmark names go from 64.8% to 75.0% right as typed (model card, "Signer
adaptation").
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from classifiers.classifier_base import CheckpointError, Classifier
from dataset.dataset_layout import LETTERS

# ----------------------------------------------------------------------------- settings
L2 = 0.3  # pull of the correction toward zero (0.01, 0.1, 0.3 and 1 compared with spellbench.py: model card)
STEPS = 200  # full-batch Adam steps per fit
LEARNING_RATE = 0.05
MAX_SAMPLES = 200  # the most recent confirmed letters kept (older words are forgotten first); a fit on
# 200 takes ~40 ms here, run once a word ends (during the word pause, when no hand is being read)
# -----------------------------------------------------------------------------


def check_can_adapt(classifier: Classifier, name: object) -> None:
    """CheckpointError (one line) when the model `name` has no hidden-layer output to learn from."""
    if not getattr(classifier, "can_adapt", False):
        raise CheckpointError(f"{name} cannot adapt to the signer (it has no hidden-layer output: an ONNX export "
                              f"older than --adapt, or an ensemble); export it again with `python export.py`, "
                              f"or run with --no-adapt")


class SignerAdapter:
    """A correction of the letter model's calibrated logits for one signer, learnt from their
    confirmed words (`learn`); `correction(hidden)` is zero until a first word is confirmed."""

    def __init__(self, classes: Sequence[str], l2: float = L2, steps: int = STEPS,
                 learning_rate: float = LEARNING_RATE, max_samples: int = MAX_SAMPLES) -> None:
        self.classes = list(classes)
        self.l2, self.steps, self.learning_rate, self.max_samples = l2, steps, learning_rate, max_samples
        self._index = {c: i for i, c in enumerate(self.classes)}
        self._words: list[tuple[object, list[tuple[np.ndarray, np.ndarray, int]]]] = []
        self._letters = np.isin(self.classes, LETTERS)
        self.weight: np.ndarray | None = None  # (classes, hidden); rows of non-letters stay zero

    @property
    def samples(self) -> int:
        """Confirmed letters learnt from."""
        return sum(len(s) for _, s in self._words)

    def correction(self, hidden: np.ndarray) -> np.ndarray:
        """What to add to calibrated logits (N, classes) for hands with this hidden layer (N, hidden)."""
        if self.weight is None:
            return np.zeros((len(hidden), len(self.classes)), np.float32)
        return (hidden @ self.weight.T).astype(np.float32)

    def learn(self, word: object, shown: str, letters: str, samples: Sequence[tuple[np.ndarray, np.ndarray] | None],
              confirmed: bool) -> None:
        """Take (or, for the same `word` object again after a suggestion or undo, retake) a
        finished word's samples: each committed letter's (calibrated logits, hidden layer),
        labelled with `shown`'s letter at its position when the word is `confirmed` and as long as
        the letters; otherwise the word teaches nothing.  Refits when what is known changed."""
        taken = []
        if confirmed and len(shown) == len(letters) == len(samples):
            taken = [(s[0], s[1], self._index[c]) for c, s in zip(shown, samples) if s is not None and c in self._index]
        again = bool(self._words) and self._words[-1][0] is word
        if not (taken or again):
            return
        if again:
            self._words.pop()
        if taken:
            self._words.append((word, taken))
        while self.samples > self.max_samples and len(self._words) > 1:
            self._words.pop(0)
        self.fit()

    def reset(self) -> None:
        """Forget every word learnt (someone else signs now): no correction until the next one."""
        self._words.clear()
        self.weight = None

    def fit(self) -> None:
        """Fit the correction on every kept sample (none: no correction)."""
        rows = [s for _, taken in self._words for s in taken]
        if not rows:
            self.weight = None
            return
        z = np.stack([r[0] for r in rows]).astype(np.float64)
        h = np.stack([r[1] for r in rows]).astype(np.float64)
        onehot = np.eye(len(self.classes))[[r[2] for r in rows]]
        self.weight = _fit_residual(z, h, onehot, self._letters, self.l2, self.steps, self.learning_rate)


def _fit_residual(z: np.ndarray, h: np.ndarray, onehot: np.ndarray, rows: np.ndarray, l2: float, steps: int,
                  learning_rate: float) -> np.ndarray:
    """W (zero but for the classes `rows`) minimising mean cross-entropy of softmax(z + h @ W.T)
    + l2 * |W|^2, by full-batch Adam from zero."""
    w = np.zeros((onehot.shape[1], h.shape[1]))
    m, v = np.zeros_like(w), np.zeros_like(w)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, steps + 1):
        logits = z + h @ w.T
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        grad = ((p - onehot) / len(z)).T @ h + 2 * l2 * w
        grad[~rows] = 0.0
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad * grad
        w -= learning_rate * (m / (1 - beta1 ** step)) / (np.sqrt(v / (1 - beta2 ** step)) + eps)
    return w.astype(np.float32)
