"""The word list and its frequency prior for rescoring spelled words (word_decoder.py).

A `Lexicon` maps words (upper-case A-Z, at least one letter) to natural-log probabilities, the
share of running text that is that word.  Sources:
- `Lexicon.english(size)`: the `size` most frequent English words of the wordfreq package that are
  made of the letters A-Z only ("don't", "café" and numbers are left out), with wordfreq's
  frequencies.  wordfreq (https://github.com/rspeer/wordfreq, pinned as wordfreq==3.1.1) ships its
  data offline; its code is under the Apache License 2.0 and its data under the Creative Commons
  Attribution-ShareAlike 4.0 licence (CC BY-SA 4.0), "wordfreq by Robyn Speer".  It is imported
  only when the English list is loaded, so importing this module stays cheap.
- `Lexicon.from_file(path)`: a user's own words, one a line, with an optional second column, a
  count (a positive number; 1 when left out).  A word with count c gets the probability
  USER_WORD_FREQUENCY * c (at most 1); a word listed twice adds its counts.  Blank lines and
  lines starting with "#" are ignored; any other line that is not a word of letters A-Z (any
  case) and an optional positive count is skipped with one warning line on stderr.
- `merge`: the English list plus a user's words (a word in both keeps its higher probability).

`load_lexicon(spec)` reads a command-line value: `none`, `en`, `FILE` or `en+FILE`.
"""
from __future__ import annotations

import math
import re
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, TypeVar

ENGLISH_SIZE = 50_000
# A user's word without a count is taken to be as common as 1 word in 100,000 (zipf 4: "pencil",
# "wizard"): well above the tail of the English list, so a listed name beats its look-alikes.
USER_WORD_FREQUENCY = 1e-5
T = TypeVar("T")
_WORD = re.compile(r"[A-Z]+")
_ENGLISH_WORD = re.compile(r"[a-z]+")


class Lexicon:
    """Words (upper-case A-Z) with natural-log probabilities; `skipped` counts the bad lines of the
    user files it was read from."""

    def __init__(self, log_probs: Mapping[str, float], skipped: int = 0) -> None:
        for word, log_prob in log_probs.items():
            if not _WORD.fullmatch(word):
                raise ValueError(f"lexicon word {word!r} is not upper-case letters A-Z")
            if not log_prob <= 0.0:
                raise ValueError(f"log-probability {log_prob} of {word!r} is not <= 0")
        self.log_probs = dict(log_probs)
        self.skipped = skipped

    def __len__(self) -> int:
        return len(self.log_probs)

    def __contains__(self, word: object) -> bool:
        return word in self.log_probs

    def items(self) -> Iterator[tuple[str, float]]:
        """(word, log-probability) pairs."""
        return iter(self.log_probs.items())

    @classmethod
    def english(cls, size: int = ENGLISH_SIZE) -> Lexicon:
        """The `size` most frequent A-Z words of wordfreq's English list (fewer if it has fewer)."""
        import wordfreq  # lazy: loading its data takes a few tenths of a second

        log_probs: dict[str, float] = {}
        # Bucket i of wordfreq's frequency list holds the words of frequency 10 ** (-i / 100).
        for bucket, words in enumerate(wordfreq.get_frequency_list("en")):
            for word in words:
                if _ENGLISH_WORD.fullmatch(word):
                    log_probs.setdefault(word.upper(), -bucket / 100 * math.log(10))
                    if len(log_probs) == size:
                        return cls(log_probs)
        return cls(log_probs)

    @classmethod
    def from_file(cls, path: str | Path) -> Lexicon:
        """A user's word list: one word a line, an optional count after it (see the module doc)."""
        counts: dict[str, float] = {}
        skipped = 0
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                fields = line.split()
                if not fields or fields[0].startswith("#"):
                    continue
                problem = _bad_line(fields)
                if problem:
                    shown = line.strip() if len(line.strip()) <= 40 else line.strip()[:37] + "..."
                    print(f"warning: {path}:{number}: skipped ({problem}): {shown!r}", file=sys.stderr)
                    skipped += 1
                    continue
                word = fields[0].upper()
                counts[word] = counts.get(word, 0.0) + (float(fields[1]) if len(fields) == 2 else 1.0)
        log_probs = {word: min(0.0, math.log(USER_WORD_FREQUENCY * count)) for word, count in counts.items()}
        return cls(log_probs, skipped)

    def without(self, words: Iterable[str]) -> Lexicon:
        """This lexicon less `words` (upper-case; words it does not hold are ignored)."""
        gone = set(words)
        return Lexicon({w: lp for w, lp in self.log_probs.items() if w not in gone}, self.skipped)

    def merge(self, other: Lexicon) -> Lexicon:
        """This lexicon plus `other`'s words; a word in both keeps the higher log-probability."""
        log_probs = dict(self.log_probs)
        for word, log_prob in other.items():
            log_probs[word] = max(log_prob, log_probs.get(word, -math.inf))
        return Lexicon(log_probs, self.skipped + other.skipped)


def _bad_line(fields: list[str]) -> str | None:
    """Why a user file line's fields are not `WORD [COUNT]`, or None when they are."""
    if len(fields) > 2:
        return "more than a word and a count"
    if not _WORD.fullmatch(fields[0].upper()) or not fields[0].isascii():
        return "the word is not letters A-Z"
    if len(fields) == 2:
        try:
            count = float(fields[1])
        except ValueError:
            return "the count is not a number"
        if not (count > 0 and math.isfinite(count)):
            return "the count is not a positive number"
    return None


def split_spec(spec: str) -> tuple[bool, str | None]:
    """(the English list wanted, the path of the user's own word list or None) of a command-line
    value: `none`, `en`, `FILE` or `en+FILE`."""
    if spec in ("none", "en"):
        return spec == "en", None
    return (True, spec[3:]) if spec.startswith("en+") else (False, spec)


def load_user_words(path: str) -> Lexicon:
    """A user's word list; FileNotFoundError for a missing file and ValueError for one without a
    single word, each with a one-line message."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"word list {path!r} not found (the lexicon is none, en, FILE or en+FILE)")
    words = Lexicon.from_file(path)
    if not len(words):
        raise ValueError(f"word list {path!r} has no word of letters A-Z")
    return words


def read_spec(spec: str) -> tuple[bool, Lexicon | None]:
    """(the English list wanted, the user's own words read now or None) of a command-line value
    (`split_spec`); a user's list is checked as `load_user_words` does."""
    english, path = split_spec(spec)
    return english, load_user_words(path) if path else None


def load_lexicon(spec: str) -> Lexicon | None:
    """The lexicon of a command-line value (`split_spec`): None for `none`; a user's list is
    checked as `load_user_words` does."""
    english, own = read_spec(spec)
    return english_with(own) if english else own


def in_background(work: Callable[[], T], after: threading.Event | None = None,
                  wait_s: float | None = None) -> Future[T]:
    """`work()` on a daemon thread (a process that quits never waits for it), started once `after`
    is set (or `wait_s` seconds have passed, when given); its result or error lands in the Future.
    The English list takes most of a second of Python to build, which is why it is loaded this way."""
    future: Future[T] = Future()

    def run() -> None:
        if after is not None:
            after.wait(wait_s)
        try:
            future.set_result(work())
        except BaseException as err:  # handed to whoever waits for the result
            future.set_exception(err)

    threading.Thread(target=run, name="lexicon", daemon=True).start()
    return future


def english_with(own: Lexicon | None) -> Lexicon:
    """The English list, plus the user's words when there are any."""
    return Lexicon.english().merge(own) if own is not None else Lexicon.english()
