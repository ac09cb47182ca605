"""How a new person's letters get misread, for the word decoder: P(read r | signed s) over A-Z.

Two sources:
- `Channel`: what the leave-one-source-out fold models read on the collections they never saw
  (counts of signed -> read letters per held-out collection, written by `crossval.py --channel`),
  summed over collections and smoothed with PRIOR_COUNT pseudo-counts (PRIOR_DIAGONAL of them on
  the letter itself, the rest spread evenly).  `exclude` leaves collections out, so a signer can
  be decoded with a channel never built from their own collection (spellbench.py --fold-models).
- `SignerSubstitutions`: this signer's own misreads, learnt from their words this session.  A
  finished word whose letters are no lexicon word, but become one when one letter is swapped,
  is evidence that this person's (swapped-in) letter is read as the (swapped-out) one: `WATSR`,
  `BRSAD`, `QUIST` all say "this person's E reads as S".  Each word's evidence is split over
  the swaps that make it a word (a word one swap from ten others says little), and a lexicon
  correction by one swap counts in full.  A swap with EVIDENCE_NEEDED or more is adopted: for
  this signer, the decoder then gives a letter s read as r a likelihood of at least ADOPTED_P.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
PRIOR_COUNT = 20.0  # pseudo-counts per signed letter (a letter seen little stays close to the prior)
PRIOR_DIAGONAL = 0.9  # share of them on the letter read as itself
EVIDENCE_NEEDED = 2.0  # words' worth of evidence before a signer's swap is adopted
EVIDENCE_MIN_LOG_PROB = math.log(1e-5)  # a swap's word must be at least this frequent to count as evidence
ADOPTED_P = 0.3  # the least likelihood of a letter s read as r, for a swap adopted for this signer
FORMAT = "asl-confusion-channel/1"
SHIPPED = Path(__file__).resolve().parents[1] / "words" / "confusions.json"  # made by crossval.py --channel
CHANNEL_VIEW = "original"  # crossval.py's view the channel is made from: one reading, as the camera's


class ChannelError(ValueError):
    """A channel file that cannot be used (missing, unreadable, another format)."""


class Channel:
    """P(read r | signed s): `matrix[s, r]` over A-Z, each row summing to 1."""

    def __init__(self, matrix: np.ndarray) -> None:
        self.matrix = np.asarray(matrix, np.float64)

    @classmethod
    def from_counts(cls, counts: np.ndarray) -> Channel:
        """Smoothed from counts[signed, read] (26 x 26)."""
        counts = np.asarray(counts, np.float64)
        prior = PRIOR_COUNT * ((1 - PRIOR_DIAGONAL) / len(LETTERS) + PRIOR_DIAGONAL * np.eye(len(LETTERS)))
        smoothed = counts + prior
        return cls(smoothed / smoothed.sum(axis=1, keepdims=True))

    @classmethod
    def load(cls, path: str | os.PathLike, exclude: tuple[str, ...] = ()) -> Channel:
        """The channel of a `crossval.py --channel` file, without the collections in `exclude`."""
        return cls.from_counts(sum(read_counts(path, exclude).values(), np.zeros((len(LETTERS),) * 2)))


def load_channel(spec: str | os.PathLike, exclude: tuple[str, ...] = ()) -> Channel | None:
    """The channel a --channel flag names: a file, or "none" (None: the decoder uses the letters'
    own probabilities only).  ChannelError when the file cannot be used."""
    return None if str(spec).lower() == "none" else Channel.load(spec, exclude)


def read_counts(path: str | os.PathLike, exclude: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Per held-out collection, its counts[signed, read]; ChannelError when the file cannot be used."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ChannelError(f"confusion channel not found: {path}") from None
    except (OSError, ValueError) as err:
        raise ChannelError(f"cannot read confusion channel {path}: {err}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("letters") != "".join(LETTERS):
        raise ChannelError(f"{path} is not a confusion channel ({FORMAT}); make one with crossval.py --channel")
    counts = {name: np.asarray(rows, np.float64) for name, rows in data["sources"].items() if name not in exclude}
    if any(c.shape != (len(LETTERS),) * 2 or (c < 0).any() for c in counts.values()):
        raise ChannelError(f"{path}: every source needs 26 x 26 non-negative counts")
    return counts


def counts_from_folds(folds: dict[str, Any], view: str = CHANNEL_VIEW) -> dict[str, np.ndarray]:
    """Per held-out collection of a crossval.py result, counts[signed, read] over A-Z: its found
    hands read right (the diagonal) and its confusions between letters, means over the seeds."""
    counts = {}
    for source, fold in folds.items():
        scores = fold.get(view, {})
        if "right" not in scores:
            raise ChannelError(f"the fold {source} has no per-class counts (a crossval.py run before --channel "
                               f"existed): run crossval.py again")
        table = np.zeros((len(LETTERS), len(LETTERS)))
        for c, n in scores["right"].items():
            if c in LETTERS:
                table[LETTERS.index(c), LETTERS.index(c)] += n
        for pair, n in scores.get("confusions", {}).items():
            signed, read = pair.split("->")
            if signed in LETTERS and read in LETTERS:
                table[LETTERS.index(signed), LETTERS.index(read)] += n
        counts[source] = table
    return counts


def counts_from_readings(truth: list[str], read: list[str], found: list[bool],
                         sources: list[str]) -> dict[str, np.ndarray]:
    """Per collection, counts[signed, read] over A-Z of its found hands (evaluate.py's readings)."""
    counts: dict[str, np.ndarray] = {}
    for signed, letter, hand, source in zip(truth, read, found, sources):
        table = counts.setdefault(source, np.zeros((len(LETTERS), len(LETTERS))))
        if hand and signed in LETTERS and letter in LETTERS:
            table[LETTERS.index(signed), LETTERS.index(letter)] += 1
    return counts


def write_counts(path: str | os.PathLike, counts: dict[str, np.ndarray], made_by: str) -> None:
    """A channel file: counts[signed, read] per held-out collection and the command that made it."""
    from storage import atomic_files
    atomic_files.write_json(path, {"format": FORMAT, "made_by": made_by, "letters": "".join(LETTERS),
                                   "sources": {name: np.round(np.asarray(c), 2).tolist()
                                               for name, c in sorted(counts.items())}})


class SignerSubstitutions:
    """The swaps this signer's words give evidence for (module docstring); `reset` for a new signer."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget this signer."""
        self.evidence: dict[tuple[int, int], float] = {}  # (signed, read) letter indices -> words' worth
        self.adopted: set[tuple[int, int]] = set()

    def observe(self, letters: str, shown: str, log_prob: dict[str, float]) -> bool:
        """Take a finished word's evidence (`letters` as committed, `shown` as decoded, `log_prob`
        the lexicon's words); True when it adopts a new swap."""
        if letters in log_prob:
            return False
        if shown != letters:  # a correction: evidence only when it is one swap
            swap = _swap(letters, shown) if len(shown) == len(letters) else None
            swaps, weight = ([swap] if swap else []), 1.0
        else:
            swaps = [(ord(s) - 65, ord(r) - 65) for word, s, r in _neighbours(letters)
                     if log_prob.get(word, -math.inf) >= EVIDENCE_MIN_LOG_PROB]
            weight = 1.0 / len(swaps) if swaps else 0.0
        new = False
        for swap in swaps:
            self.evidence[swap] = self.evidence.get(swap, 0.0) + weight
            if swap not in self.adopted and self.evidence[swap] >= EVIDENCE_NEEDED - 1e-9:
                self.adopted.add(swap)
                new = True
        return new

    def floors(self, read: list[int]) -> np.ndarray:
        """Per position read as letter `read[i]`, the least likelihood of each signed letter:
        ADOPTED_P for a swap adopted for this signer (signed s, read read[i]), else 0."""
        out = np.zeros((len(read), len(LETTERS)))
        for signed, letter in self.adopted:
            out[[i for i, r in enumerate(read) if r == letter], signed] = ADOPTED_P
        return out


def _neighbours(letters: str) -> list[tuple[str, str, str]]:
    """(word, signed letter, read letter) for every one-letter swap of `letters`."""
    return [(letters[:i] + s + letters[i + 1:], s, r) for i, r in enumerate(letters) for s in LETTERS if s != r]


def _swap(letters: str, word: str) -> tuple[int, int] | None:
    """(signed, read) when `word` differs from `letters` in exactly one position, else None."""
    diff = [(w, r) for w, r in zip(word, letters) if w != r]
    return (ord(diff[0][0]) - 65, ord(diff[0][1]) - 65) if len(diff) == 1 else None
