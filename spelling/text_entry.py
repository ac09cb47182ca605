"""The spelled text: what committed signs write, word boundaries, lexicon rescoring and undo.

Pure Python + numpy.  `TextEntry` receives the classes the speller commits, each with the smoothed
probabilities it was committed with:
- a letter is added to the word being spelled;
- `space` ends the word (and adds a space even after no word: the user signed it);
- `del` deletes the last character (of the word being spelled, else of the finished text);
- `commit_motion` adds a letter read from motion (J, Z) in place of the letters the static model
  committed during that motion, and of the held sign it began from;
- `end_word()` ends the word without a sign: a pause with no hand (adding the space only after a
  word), or the end of a stream (adding none).
When a word ends it is rescored by `word_decoder.WordDecoder` (the lexicon); the text shows the
decoder's choice, `letters` keeps what was committed, and `suggestions` holds the decoder's best
words for the last finished word.  `choose(i)` replaces that word by suggestion i and `undo()`
puts back the letters as committed.  Each finished word's shown text goes to `on_word` (e.g.
speech); `last` holds the rest, and goes to `on_finished` when the word ends and again after a
choice or an undo (signer adaptation learns from it: adaptation.py).  A word is `confirmed` when it
shows a lexicon word, or the user chose it or kept the letters with undo.
"""
from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Callable

import numpy as np

from spelling.speller import DELETE, SPACE
from spelling.word_decoder import WordDecoder


@dataclass
class FinishedWord:
    """The last finished word: where it starts in the text, the letters committed, what is shown,
    the decoder's suggestions (best first), each letter's sign probabilities and sample (what
    `commit` was given), when each letter committed (ms; None: unknown), and whether what is shown is
    confirmed (a lexicon word, or the user's choice)."""
    start: int
    letters: str
    shown: str
    suggestions: tuple[str, ...]
    probs: tuple[np.ndarray | None, ...] = ()
    samples: tuple[object, ...] = ()
    times: tuple[float | None, ...] = ()
    confirmed: bool = False


class TextEntry:
    """The text spelled so far; `decoder` None keeps every word as committed (a Future of one,
    still loading, is waited for when the first word ends)."""

    def __init__(self, decoder: WordDecoder | Future[WordDecoder] | None = None,
                 on_word: Callable[[str], None] | None = None,
                 on_finished: Callable[[FinishedWord], None] | None = None) -> None:
        self.decoder = decoder
        self.on_word = on_word
        self.on_finished = on_finished
        self.clear()

    def clear(self) -> None:
        """Empty the text."""
        self._done = ""  # the finished text, as shown
        self._done_letters = ""  # the finished text, as committed
        self._word: list[str] = []
        self._probs: list[np.ndarray | None] = []
        self._samples: list[object] = []
        self._times: list[float | None] = []  # when each letter of the word committed (ms; None: unknown)
        self.last: FinishedWord | None = None

    @property
    def text(self) -> str:
        """What the user sees."""
        return self._done + "".join(self._word)

    @property
    def letters(self) -> str:
        """The committed letters, before any correction."""
        return self._done_letters + "".join(self._word)

    @property
    def suggestions(self) -> tuple[str, ...]:
        """The decoder's best words for the last finished word (empty when there is none)."""
        return self.last.suggestions if self.last is not None else ()

    @property
    def spelling(self) -> bool:
        """True while a word is being spelled (letters since the last word boundary)."""
        return bool(self._word)

    def commit(self, cls: str, proba: np.ndarray | None = None, sample: object = None,
               t_ms: float | None = None) -> None:
        """Apply a committed class with its sign's probabilities (`Speller.sign_proba`: the mean of
        the smoothed readings over the sign) (and, for signer adaptation, the hand's `sample` as the
        model saw it), committed at `t_ms`."""
        if cls == SPACE:
            if not self.end_word():
                self._done += " "
                self._done_letters += " "
        elif cls == DELETE:
            if self._word:
                self._pop()
            elif self._done:
                self._done, self._done_letters = self._done[:-1], self._done_letters[:-1]
                self.last = None  # the finished word was edited: nothing left to undo or choose
        else:
            self._word.append(cls)
            self._probs.append(proba)
            self._samples.append(sample)
            self._times.append(t_ms)

    def commit_motion(self, letter: str, proba: np.ndarray | None, start_ms: float, starts: str,
                      lead_ms: float) -> None:
        """Add `letter`, read from a motion that began at `start_ms`, in place of the word's letters
        committed since then (shapes the hand passed through) and of a letter of `starts` committed
        less than `lead_ms` before (the held sign the motion began from: I before a J)."""
        while self._times and self._times[-1] is not None and self._times[-1] >= start_ms:
            self._pop()
        if self._word and self._word[-1] in starts and self._times[-1] is not None \
                and self._times[-1] >= start_ms - lead_ms:
            self._pop()
        self.commit(letter, proba, None, start_ms)

    def _pop(self) -> None:
        """Remove the last letter of the word being spelled."""
        for letters in (self._word, self._probs, self._samples, self._times):
            letters.pop()

    def end_word(self, space: bool = True) -> bool:
        """End the word being spelled (rescored by the lexicon) and add a space (unless `space` is
        False: the end of a stream); False when no word was being spelled."""
        if not self._word:
            return False
        letters = "".join(self._word)
        shown, suggestions = letters, ()
        if isinstance(self.decoder, Future):
            self.decoder = self.decoder.result()
        if self.decoder is not None and letters.isascii() and letters.isupper() and letters.isalpha() \
                and all(p is not None for p in self._probs):
            decoded = self.decoder.decode(letters, self._probs, self._times)
            shown, suggestions = decoded.text, tuple(c.word for c in decoded.suggestions)
        lexicon = getattr(self.decoder, "lexicon", None)
        self.last = FinishedWord(len(self._done), letters, shown, suggestions, tuple(self._probs),
                                 tuple(self._samples), tuple(self._times), lexicon is not None and shown in lexicon)
        self._done += shown + " " * space
        self._done_letters += letters + " " * space
        self._word, self._probs, self._samples, self._times = [], [], [], []
        if self.on_word is not None:
            self.on_word(shown)
        if self.on_finished is not None:
            self.on_finished(self.last)
        return True

    def new_signer(self) -> None:
        """Someone else signs now: the decoder forgets the swaps it learnt (a list still loading has
        learnt none)."""
        decoder = self.decoder
        if isinstance(decoder, Future):
            decoder = decoder.result() if decoder.done() else None
        if decoder is not None:
            decoder.new_signer()

    def choose(self, index: int) -> bool:
        """Show suggestion `index` (0 = best) for the last finished word; False if there is none."""
        if self.last is None or not 0 <= index < len(self.last.suggestions):
            return False
        return self._show(self.last.suggestions[index])

    def undo(self) -> bool:
        """Show the last finished word as committed; False when it already is (or there is none)."""
        return self.last is not None and self._show(self.last.letters)

    def _show(self, word: str) -> bool:
        """Replace the last finished word on screen by `word`."""
        last = self.last
        if last is None or last.shown == word:
            return False
        end = last.start + len(last.shown)
        self._done = self._done[:last.start] + word + self._done[end:]
        last.shown, last.confirmed = word, True
        if self.on_finished is not None:
            self.on_finished(last)
        return True
