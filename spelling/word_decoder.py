"""Rescoring one finished word: the committed letters against a lexicon of word frequencies.

Pure Python + numpy.  Input: the raw letters the speller committed and, for each, the smoothed
class probabilities it was committed with (a vector over the model's classes).  Only the letter
classes A-Z count: each vector is renormalised over them (mass on `del`, `nothing` and `space`
says nothing about which letter it was), floored at PROB_FLOOR and taken as log P(letter | sign).

A lexicon word w is scored as  log P(committed signs | w) + PRIOR_WEIGHT * log P(w):  the letters
of w aligned with the committed positions, each matched position adding the log-probability of
w's letter there, with at most one missed letter (a letter of w never committed: `missed_costs`)
and at most one extra letter (a committed position w does not have: EXTRA_PENALTY for a letter
that repeats the one before it, a double commit; for any other, EXTRA_PENALTY + log(1 - p), p
the probability it was committed with, so a confidently read letter is rarely dropped).  Words are
found by a beam search over a prefix trie of the lexicon, trying the TOP_K likeliest letters of
each position and keeping the BEAM best partial alignments (ranked by their score plus the best
prior below their trie node).

The raw letters compete as a hypothesis of their own: their log-likelihood plus PRIOR_WEIGHT x the
log-prior of an unknown string of their length (`oov_log_prior`: OOV_LOG_PRIOR for OOV_LENGTH
letters, each letter more or fewer one of 26, so a short code is a likelier unknown string than a
long one).  The best word replaces them only when it scores more than `margin` above them,
and raw letters that are a lexicon word themselves always stay.

With a confusion channel (confusion_channel.py: how new people's letters get misread, and this
signer's own swaps), a position committed as letter r gives letter w the likelihood
p(w) + CHANNEL_WEIGHT * P(read r | signed w) instead of p(w) alone (and at least ADOPTED_P for a
swap adopted for this signer): a confident misread that people often make, or that this signer
makes, is no longer all but ruled out, while the letters' own probabilities keep their full weight.  Each finished word is also
evidence of this signer's swaps; a word that completes one is decoded again with it.

A missed letter is a sign that was held but never committed, and a held sign takes time: with the
letters' commit times, a letter missed between two committed ones costs MISSED_PENALTY only where
the time between them, or the interval before or after it, is at least ROOM_RATIO x this
signer's usual time from one letter to the next (`LetterPace`: a low quantile over their recent
words; `missed_costs`), and TIGHT_MISSED_PENALTY where none is (no time for another sign: DMITRI
spelled at an even pace stays DMITRI, not DIMITRI).  At the ends of a word, and without times,
a missed letter costs MISSED_PENALTY.
"""
from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from spelling.confusion_channel import Channel, SignerSubstitutions
from spelling.lexicon import Lexicon

# Weight of log P(word) against the letters' log-likelihood: higher trusts the dictionary's
# frequencies more and the hand less (more corrections towards common words).  0.7 and the
# confidence-weighted extra letter were chosen with spellbench.py --rescore (names the word list
# does not know, on four earlier runs' fold models) on half of the signers and checked on the
# other half: at 1.0, without that term, the lexicon turned a quarter of the rightly spelled
# unknown names into common words (USB -> US, KLM -> KM, BJORN -> BORN); now none, for about 3
# points fewer dictionary words (docs/model_card.md, "Names the lexicon does not know").
PRIOR_WEIGHT = 0.7
# The settings below were chosen with spellbench.py --rescore on half of the signers (new
# people, fold models, hold 1 s) and checked on the other half; see the README's spelling table.
# log P of raw letters of OOV_LENGTH letters that are no lexicon word (a name, an acronym): the
# frequency of the rarest words of a 50,000-word English list (3e-7); each letter more divides it
# by 26 and each letter fewer multiplies it (OOV_LOG_PER_LETTER: the letters of an unknown string
# are any of 26).  Lower corrects more eagerly, higher keeps more unknown strings.  Chosen with
# spellbench.py --rescore on the fold-model runs (both stream seeds, with and without transitions),
# checked on each half of the signers: against one log-prior (1e-7) for every length, more
# dictionary words right and fewer rightly spelled names turned into words on both halves
# (USB -> USE, KLM -> KILL, DJ -> DID); see the model card.
OOV_LOG_PRIOR = math.log(3e-7)
OOV_LENGTH = 4
OOV_LOG_PER_LETTER = math.log(1 / 26)
# Cost of a letter of the word that was never committed (signed too briefly, or read below the
# threshold: about 1 letter in 10 for a new person, log 0.1 = -2.3): lower (more negative)
# restores fewer missed letters, higher turns more unknown strings into longer words.
MISSED_PENALTY = -2.0
# Cost of a letter missed between two committed letters that followed each other at the signer's
# usual pace (neither their interval nor the ones next to it ROOM_RATIO x their usual time from one
# letter to the next): -8 all but rules it out.  Chosen with spellbench.py --rescore on the four
# fold-model runs (both stream seeds, with and without transitions), checked on each half of the
# signers: -2 (no pace) / -5 / -6 / -8 kept 334 / 340 / 341 / 343 names of 496 (347 spelled right
# as letters) and 643 dictionary words of 744 each time; ROOM_RATIO 1.3 to 1.8 changed at most one.
TIGHT_MISSED_PENALTY = -8.0
ROOM_RATIO = 1.5
# Intervals between letters remembered per signer, and how many are needed to know their pace.
PACE_WINDOW = 40
PACE_MIN = 3
# Which quantile of those intervals is the signer's usual one: missed letters and pauses only make
# intervals longer, so a low quantile, not the median (a signer who misses many letters has a
# long median).  Chosen with spellbench.py --rescore on eight fold-model runs: 0.2 put back 4
# dictionary words of 1,488 against the median, losing no name; 0.1 lost one, the minimum five.
PACE_QUANTILE = 0.2
# Cost of a committed letter the word does not have (a double commit or a transition), before
# the confidence term: lower removes fewer, higher turns more unknown strings into shorter words.
EXTRA_PENALTY = -4.0
# How far (log) the best word must score above the raw letters to replace them (1: about 3 times
# likelier): higher keeps more names as spelled, lower fixes more misreads.
MARGIN = 1.0
# Smallest letter probability: how impossible a letter the model all but ruled out is.
PROB_FLOOR = 1e-3
# Weight of the confusion channel added to the letter's own probabilities (with a channel): higher
# trusts how people's letters are usually misread more.  Chosen with spellbench.py --rescore on
# the eight collections the shipped model never saw (0.2 added: dictionary words as without a
# channel, names up; 0.5 added or mixed 0.5/0.5: fewer dictionary words), a small sample: see
# the model card.
CHANNEL_WEIGHT = 0.2
# Letters tried at each position and partial alignments kept per position: larger finds rarer
# alternatives, slower.
TOP_K = 5
BEAM = 256
N_SUGGESTIONS = 3

_ALPHABET = [chr(c) for c in range(ord("A"), ord("Z") + 1)]


@dataclass(frozen=True)
class Candidate:
    """A lexicon word and its score (log-likelihood + PRIOR_WEIGHT * log prior)."""
    word: str
    score: float


@dataclass(frozen=True)
class Decoded:
    """The text to show, the best lexicon words (best first) and whether the text is a correction."""
    text: str
    suggestions: tuple[Candidate, ...]
    corrected: bool


class _Node:
    """A prefix-trie node: children by letter index (0-25), the word ending here and its
    log-probability, and the best log-probability of any word below."""
    __slots__ = ("children", "word", "log_prob", "best")

    def __init__(self) -> None:
        self.children: dict[int, _Node] = {}
        self.word: str | None = None
        self.log_prob = -math.inf
        self.best = -math.inf


def _trie(lexicon: Lexicon) -> _Node:
    """The prefix trie of the lexicon's words."""
    root = _Node()
    # Most frequent first, so the first word through a node sets its best prior.
    for word, log_prob in sorted(lexicon.items(), key=lambda item: -item[1]):
        node = root
        for letter in word:
            if node.best == -math.inf:
                node.best = log_prob
            child = node.children.get(ord(letter) - 65)
            if child is None:
                child = node.children[ord(letter) - 65] = _Node()
            node = child
        if node.best == -math.inf:
            node.best = log_prob
        node.word, node.log_prob = word, log_prob
    return root


class LetterPace:
    """A signer's usual time from one committed letter to the next: the PACE_QUANTILE quantile of
    the last PACE_WINDOW intervals within their finished words (and the word being decoded)."""

    def __init__(self) -> None:
        self.intervals: deque[float] = deque(maxlen=PACE_WINDOW)

    def reset(self) -> None:
        """Someone else signs now."""
        self.intervals.clear()

    def usual(self, word: list[float]) -> float | None:
        """The usual interval (ms) given this word's `word` intervals too: their PACE_QUANTILE
        quantile (linear between the two nearest); None with fewer than PACE_MIN."""
        known = [*self.intervals, *word]
        return float(np.quantile(known, PACE_QUANTILE)) if len(known) >= PACE_MIN else None

    def observe(self, word: list[float]) -> None:
        """Remember a finished word's intervals."""
        self.intervals.extend(word)


def intervals(times: Sequence[float | None]) -> list[float | None]:
    """The time (ms) from each committed letter to the next (None where either time is unknown or
    the order is not forward)."""
    return [b - a if a is not None and b is not None and b > a else None for a, b in zip(times, times[1:])]


def missed_costs(between: list[float | None] | None, n: int, usual: float | None) -> list[float]:
    """The cost of a missed letter before each of the `n` committed positions and after the last
    (module doc), given the `intervals` `between` them (None: no times): TIGHT_MISSED_PENALTY
    between two letters when neither their interval nor the ones next to it is ROOM_RATIO x
    `usual` or longer (a sign read as the letter after it moves the missed one's time by a
    letter), else MISSED_PENALTY."""
    costs = [MISSED_PENALTY] * (n + 1)
    if between is None or usual is None:
        return costs
    tight = [gap is not None and gap < ROOM_RATIO * usual for gap in between]
    for i in range(1, n):
        if all(tight[max(0, i - 2):i + 1]):
            costs[i] = TIGHT_MISSED_PENALTY
    return costs


_State = tuple[_Node, bool, bool, bool]  # a search state (WordDecoder._search)


class WordDecoder:
    """Rescores finished words against `lexicon` (None: the raw letters are always kept); `pace`
    (shared by decoders of one signer; a new one when None) learns their pace from each word."""

    def __init__(self, lexicon: Lexicon | None, classes: Sequence[str], margin: float = MARGIN,
                 channel: Channel | None = None, signer: SignerSubstitutions | None = None,
                 pace: LetterPace | None = None) -> None:
        self.lexicon = lexicon
        self.margin = float(margin)
        self.channel = channel
        self.signer = signer  # this signer's swaps (with a channel): learnt from each decoded word
        self.pace = pace if pace is not None else LetterPace()
        self._columns = np.array([list(classes).index(c) if c in classes else -1 for c in _ALPHABET])
        self._root = _trie(lexicon) if lexicon is not None else None

    def decode(self, letters: str, probs: Sequence[np.ndarray],
               times: Sequence[float | None] | None = None) -> Decoded:
        """The text to show for the committed `letters`, given each one's smoothed class
        probabilities `probs` (one vector per letter) and when each committed (ms; None: unknown)."""
        if len(letters) != len(probs) or (times is not None and len(times) != len(letters)):
            raise ValueError(f"{len(letters)} letters but {len(probs)} probability vectors"
                             + ("" if times is None else f" and {len(times)} times"))
        if not all(c in _ALPHABET for c in letters):
            raise ValueError(f"{letters!r} is not upper-case letters A-Z")
        if self._root is None or not letters:
            return Decoded(letters, (), False)
        between = None if times is None else intervals(times)
        known = [g for g in between or [] if g is not None]
        missed = missed_costs(between, len(letters), self.pace.usual(known))
        self.pace.observe(known)
        decoded = self._decode(letters, probs, missed)
        if self.channel is not None and self.signer is not None \
                and self.signer.observe(letters, decoded.text, self.lexicon.log_probs):
            decoded = self._decode(letters, probs, missed)  # the swap this word completed applies to it too
        return decoded

    def new_signer(self) -> None:
        """Someone else signs now: forget this signer's swaps and pace."""
        if self.signer is not None:
            self.signer.reset()
        self.pace.reset()

    def _decode(self, letters: str, probs: Sequence[np.ndarray], missed: list[float]) -> Decoded:
        """`decode` with the channel and the signer's swaps as they are now (`missed`: `missed_costs`)."""
        log_p = self._log_probs(letters, probs)
        raw = sum(log_p[i][ord(c) - 65] for i, c in enumerate(letters)) + PRIOR_WEIGHT * oov_log_prior(len(letters))
        suggestions = self._search(log_p, _extra_costs(letters, log_p), missed)
        if letters not in self.lexicon and suggestions and suggestions[0].score > raw + self.margin:
            return Decoded(suggestions[0].word, suggestions, True)
        return Decoded(letters, suggestions, False)

    def _log_probs(self, letters: str, probs: Sequence[np.ndarray]) -> list[list[float]]:
        """Per position, the log-likelihoods of A-Z: the probabilities renormalised over the
        letters, plus CHANNEL_WEIGHT x the channel's P(read this letter | signed each), at least
        the signer's adopted swaps' ADOPTED_P, floored."""
        full = np.asarray(probs, np.float64).reshape(len(probs), -1)
        p = np.where(self._columns >= 0, full[:, np.maximum(self._columns, 0)], 0.0)
        p = np.where(np.isfinite(p), np.clip(p, 0.0, None), 0.0)
        total = p.sum(axis=1, keepdims=True)
        p = np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / len(_ALPHABET))
        if self.channel is not None:
            read = [ord(c) - 65 for c in letters]
            p = p + CHANNEL_WEIGHT * self.channel.matrix[:, read].T
            if self.signer is not None:
                p = np.maximum(p, self.signer.floors(read))
        return np.log(np.maximum(p, PROB_FLOOR)).tolist()

    def _search(self, log_p: list[list[float]], extra_costs: list[float],
                missed_at: list[float]) -> tuple[Candidate, ...]:
        """The N_SUGGESTIONS best lexicon words by beam search over the trie (`extra_costs`: the
        cost of dropping each committed position; `missed_at`: of a letter missed before each,
        and after the last)."""
        tops = [sorted(range(len(row)), key=row.__getitem__, reverse=True)[:TOP_K] for row in log_p]
        # A state is (trie node, missed letter used, extra letter used, the extra letter was the
        # position just before) -> best score so far.  A letter missed right after the extra one
        # takes its place (a misread beyond the TOP_K letters): its sign had the time, so it costs
        # MISSED_PENALTY whatever the pace.
        layer: dict[_State, float] = {(self._root, False, False, False): 0.0}
        for i in range(len(log_p) + 1):
            layer = self._prune(layer)
            for (node, missed, extra, replaced), score in list(layer.items()):
                if not missed:  # a missed letter before position i
                    cost = MISSED_PENALTY if replaced else missed_at[i]
                    for child in node.children.values():
                        _keep(layer, (child, True, extra, False), score + cost)
            if i == len(log_p):
                break
            layer, states = {}, layer
            row = log_p[i]
            for (node, missed, extra, _), score in states.items():
                for letter in tops[i]:
                    child = node.children.get(letter)
                    if child is not None:
                        _keep(layer, (child, missed, extra, False), score + row[letter])
                if not extra:  # position i committed by mistake
                    _keep(layer, (node, missed, True, True), score + extra_costs[i])
        words: dict[str, float] = {}
        for (node, *_), score in layer.items():
            if node.word is not None:
                _keep(words, node.word, score + PRIOR_WEIGHT * node.log_prob)
        best = heapq.nlargest(N_SUGGESTIONS, words.items(), key=lambda item: item[1])
        return tuple(Candidate(word, score) for word, score in best)

    @staticmethod
    def _prune(layer: dict[_State, float]) -> dict[_State, float]:
        """The BEAM states with the best score plus the best prior reachable below them."""
        if len(layer) <= BEAM:
            return layer
        return dict(heapq.nlargest(BEAM, layer.items(), key=lambda item: item[1] + PRIOR_WEIGHT * item[0][0].best))


def oov_log_prior(length: int) -> float:
    """log P of an unknown string (no lexicon word) of `length` letters."""
    return OOV_LOG_PRIOR + OOV_LOG_PER_LETTER * (length - OOV_LENGTH)


def _extra_costs(letters: str, log_p: list[list[float]]) -> list[float]:
    """The cost of each committed letter being one the word does not have: EXTRA_PENALTY for a
    repeat of the letter before it, else EXTRA_PENALTY + log(1 - p) (p its renormalised probability,
    1 - p floored at PROB_FLOOR)."""
    costs = []
    for i, c in enumerate(letters):
        p = math.exp(log_p[i][ord(c) - 65])
        repeat = i > 0 and c == letters[i - 1]
        costs.append(EXTRA_PENALTY + (0.0 if repeat else math.log(max(PROB_FLOOR, 1.0 - p))))
    return costs


def _keep(scores: dict, key: object, score: float) -> None:
    """Store `score` under `key` unless a higher one is there."""
    if score > scores.get(key, -math.inf):
        scores[key] = score
