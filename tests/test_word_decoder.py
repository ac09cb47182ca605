"""lexicon.py + word_decoder.py on synthetic probability streams: misreads, missed and extra
letters, names kept, user word lists, speed."""
from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dataset.dataset_layout import KAGGLE_CLASSES
from spelling.lexicon import USER_WORD_FREQUENCY, Lexicon, load_lexicon
from spelling.word_decoder import WordDecoder

CLASSES = KAGGLE_CLASSES
REPO = Path(__file__).resolve().parents[1]


def proba(letter: str, confidence: float = 0.9, second: str | None = None, p2: float = 0.0) -> np.ndarray:
    """`confidence` on `letter`, `p2` on `second`, the rest spread evenly over the other classes."""
    p = np.full(len(CLASSES), (1 - confidence - p2) / (len(CLASSES) - 1 - (second is not None)))
    p[CLASSES.index(letter)] = confidence
    if second is not None:
        p[CLASSES.index(second)] = p2
    return p


def stream(letters: str, **misreads: str) -> list[np.ndarray]:
    """Confident vectors for `letters`; misreads={"4": "R"} puts 0.6 on the committed letter at
    position 4 and 0.3 on R."""
    return [proba(c, 0.6, misreads[str(i)], 0.3) if str(i) in misreads else proba(c)
            for i, c in enumerate(letters)]


@pytest.fixture(scope="module")
def english() -> Lexicon:
    return Lexicon.english()


@pytest.fixture(scope="module")
def decoder(english: Lexicon) -> WordDecoder:
    return WordDecoder(english, CLASSES)


def test_english_lexicon_is_upper_case_words_with_frequencies(english: Lexicon):
    assert 45_000 <= len(english) <= 50_000
    assert all(w.isascii() and w.isalpha() and w.isupper() for w, _ in english.items())
    assert max(english.items(), key=lambda item: item[1])[0] == "THE"
    assert all(lp <= 0 for _, lp in english.items())
    assert english.log_probs["WATER"] > english.log_probs["AQUIFER"]
    assert len(Lexicon.english(size=1000)) == 1000


def test_importing_lexicon_does_not_load_wordfreq():
    code = "import sys; from spelling import lexicon, word_decoder; print('wordfreq' in sys.modules)"
    out = subprocess.run([sys.executable, "-B", "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_misread_letter_is_corrected(decoder: WordDecoder):
    result = decoder.decode("WATEP", stream("WATEP", **{"4": "R"}))
    assert (result.text, result.corrected) == ("WATER", True)


@pytest.mark.parametrize("name", ["ZOLTAN", "KAYLEE"])
def test_confidently_spelled_name_is_kept(decoder: WordDecoder, english: Lexicon, name: str):
    if name == "ZOLTAN":
        assert name not in english  # an out-of-vocabulary name, not merely a listed one
    result = decoder.decode(name, stream(name))
    assert (result.text, result.corrected) == (name, False)


def test_raw_letters_that_are_a_word_stay(decoder: WordDecoder):
    # THEY is more frequent and Y is the second choice, but THEN is a word of its own.
    result = decoder.decode("THEN", stream("THEN", **{"3": "Y"}))
    assert (result.text, result.corrected) == ("THEN", False)
    assert {"THEN", "THEY"} <= {c.word for c in result.suggestions}


def test_margin_keeps_raw_letters_unless_beaten_by_it(english: Lexicon):
    letters, probs = "WATEP", stream("WATEP", **{"4": "R"})
    assert WordDecoder(english, CLASSES, margin=50.0).decode(letters, probs).text == "WATEP"
    assert WordDecoder(english, CLASSES, margin=0.0).decode(letters, probs).text == "WATER"


def test_missed_letter_is_restored(decoder: WordDecoder):
    result = decoder.decode("WTER", stream("WTER"))
    assert (result.text, result.corrected) == ("WATER", True)


def test_a_missed_letter_needs_time_for_it(english: Lexicon):
    """An unknown name spelled at the signer's pace stays (DMITRI, not DIMITRI); with time for a
    sign between two letters (held but never committed) the word's missing letter comes back,
    and without commit times a missed letter is allowed anywhere."""
    names = english.without(["DMITRI"])
    even = [700.0 * i for i in range(6)]
    decoder = WordDecoder(names, CLASSES)
    assert decoder.decode("DMITRI", stream("DMITRI"), even).text == "DMITRI"
    slow = [0.0, *(t + 700.0 for t in even[1:])]  # 1.4 s from D to M
    assert decoder.decode("DMITRI", stream("DMITRI"), slow).text == "DIMITRI"
    assert WordDecoder(names, CLASSES).decode("DMITRI", stream("DMITRI")).text == "DIMITRI"
    assert decoder.decode("WTER", stream("WTER"), [0.0, 1400.0, 2100.0, 2800.0]).text == "WATER"
    # QUIET's I unread while its U was read late: the time is before the U, the gap after it
    assert decoder.decode("QUET", stream("QUET"), [0.0, 1400.0, 2100.0, 2800.0]).text == "QUIET"
    docgor = stream("DOCGOR")
    docgor[3] = proba("G", 0.6)  # T is not among G's likeliest letters: a misread replaced, not a missed sign
    assert decoder.decode("DOCGOR", docgor, even).text == "DOCTOR"
    slower = WordDecoder(names, CLASSES)
    for _ in range(2):  # a signer who takes 1.4 s a letter: 1.4 s from W to T is their pace
        slower.decode("WATER", stream("WATER"), [1400.0 * i for i in range(5)])
    assert slower.decode("WTER", stream("WTER"), [1400.0 * i for i in range(4)]).text == "WTER"
    slower.new_signer()  # someone else, faster: their pace is learnt anew
    assert slower.decode("WTER", stream("WTER"), [0.0, 1400.0, 2100.0, 2800.0]).text == "WATER"


def test_extra_letter_is_removed(decoder: WordDecoder):
    result = decoder.decode("WAATER", stream("WAATER"))
    assert (result.text, result.corrected) == ("WATER", True)


def test_unsure_extra_letter_is_removed(decoder: WordDecoder):
    result = decoder.decode("WATKER", stream("WATKER", **{"3": "E"}))
    assert (result.text, result.corrected) == ("WATER", True)


@pytest.mark.parametrize("code", ["USB", "KLM", "BJORN"])
def test_confidently_read_letter_is_not_dropped_to_make_a_word(english: Lexicon, code: str):
    # Codes and names the list does not know, each letter read at 0.98: dropping one would make
    # US, KM or BORN, far likelier words, but a confident letter is rarely an extra commit.
    unknown = WordDecoder(english.without([code]), CLASSES)
    probs = [proba(c, 0.98) for c in code]
    assert unknown.decode(code, probs).text == code


def test_with_the_channel_confident_misreads_are_corrected_and_short_codes_kept(english: Lexicon):
    """With the shipped channel, a confidently misread letter in a word people often misread that
    way is corrected (E read as S, K as P), while a short code the list does not know, each letter
    read at 0.9, stays though a common word is one letter away (USB/USE, DJ/DO, GWEN/OWEN): an
    unknown string's prior falls with its length, so a short one needs a likelier word to lose."""
    from spelling.confusion_channel import SHIPPED, Channel
    channel = Channel.load(SHIPPED)
    fixes = WordDecoder(english, CLASSES, channel=channel)
    for read, word in (("HSLLO", "HELLO"), ("WATSR", "WATER"), ("THANP", "THANK")):
        assert fixes.decode(read, [proba(c) for c in read]).text == word
    for code in ("USB", "DJ", "GWEN", "KLM", "PDF"):
        unknown = WordDecoder(english.without([code]), CLASSES, channel=channel)
        assert unknown.decode(code, [proba(c) for c in code]).text == code


def test_suggestions_are_three_distinct_words_best_first(decoder: WordDecoder, english: Lexicon):
    result = decoder.decode("WATEP", stream("WATEP", **{"4": "R"}))
    words = [c.word for c in result.suggestions]
    scores = [c.score for c in result.suggestions]
    assert len(words) == 3 == len(set(words))
    assert all(w in english for w in words)
    assert words[0] == result.text
    assert scores == sorted(scores, reverse=True)


def test_no_lexicon_returns_raw_letters():
    assert load_lexicon("none") is None
    result = WordDecoder(None, CLASSES).decode("WATEP", stream("WATEP", **{"4": "R"}))
    assert (result.text, result.suggestions, result.corrected) == ("WATEP", (), False)


def test_user_file_adds_a_name_that_then_wins(tmp_path: Path, decoder: WordDecoder):
    names = tmp_path / "names.txt"
    names.write_text("Zoltan\n", encoding="utf-8")
    letters, probs = "ZOLTAM", stream("ZOLTAM", **{"5": "N"})
    assert decoder.decode(letters, probs).text != "ZOLTAN"
    for spec in (f"en+{names}", str(names)):
        lexicon = load_lexicon(spec)
        assert "ZOLTAN" in lexicon and ("WATER" in lexicon) == spec.startswith("en+")
        result = WordDecoder(lexicon, CLASSES).decode(letters, probs)
        assert (result.text, result.corrected) == ("ZOLTAN", True)


def test_malformed_user_lines_are_skipped_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture):
    path = tmp_path / "words.txt"
    path.write_text("# my words\nZoltan 5\nJEAN-LUC\n\nKAYLEE often\nMira\nmira 2\nTOBY 1 2\n", encoding="utf-8")
    lexicon = Lexicon.from_file(path)
    warnings = capsys.readouterr().err.splitlines()
    assert sorted(w for w, _ in lexicon.items()) == ["MIRA", "ZOLTAN"]
    assert lexicon.skipped == 3 and len(warnings) == 3
    assert all(w.startswith(f"warning: {path}:") for w in warnings)
    assert [w.split(":")[2] for w in warnings] == ["3", "5", "8"]
    assert lexicon.log_probs["ZOLTAN"] == pytest.approx(math.log(5 * USER_WORD_FREQUENCY))
    assert lexicon.log_probs["MIRA"] == pytest.approx(math.log(3 * USER_WORD_FREQUENCY))


def test_missing_or_empty_user_file_is_a_one_line_error(tmp_path: Path):
    for spec in (str(tmp_path / "missing.txt"), f"en+{tmp_path / 'missing.txt'}"):
        with pytest.raises(FileNotFoundError, match="missing.txt") as error:
            load_lexicon(spec)
        assert "\n" not in str(error.value)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no word"):
        load_lexicon(str(empty))


def test_rescoring_a_ten_letter_word_is_fast(decoder: WordDecoder):
    # Uncertain positions (0.5 / 0.2 / 0.1 ...) widen the beam: a worse case than confident ones.
    letters = "UNDERSTAMD"
    probs = [proba(c, 0.5, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(ord(c) - 64) % 26], 0.2) for c in letters]
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        result = decoder.decode(letters, probs)
        timings.append(time.perf_counter() - start)
    assert result.text == "UNDERSTAND"
    assert min(timings) < 0.2, timings


def test_mismatched_lengths_are_rejected(decoder: WordDecoder):
    with pytest.raises(ValueError):
        decoder.decode("WATER", stream("WATE"))
