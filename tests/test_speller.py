"""speller.py (and text_entry.py without a lexicon) on synthetic probability streams: smoothing,
threshold, hold-to-commit spelling, bridged dips."""
from __future__ import annotations

import numpy as np
import pytest

from spelling import speller
from dataset.dataset_layout import KAGGLE_CLASSES
from spelling.text_entry import TextEntry

CLASSES = KAGGLE_CLASSES


def proba(letter: str | None, confidence: float = 0.9) -> np.ndarray | None:
    """A probability vector with `confidence` on `letter` and the rest spread evenly (None: no hand)."""
    if letter is None:
        return None
    p = np.full(len(CLASSES), (1 - confidence) / (len(CLASSES) - 1), np.float32)
    p[CLASSES.index(letter)] = confidence
    return p


def spell(script: list[tuple[str | None, float]], fps: float = 30, hold_s: float = 0.5,
          threshold: float = 0.6, window_ms: float = 200, confidence: float = 0.9, gap_ms: float = 0.0) -> str:
    """Run a script of (letter or None for no hand, seconds) through Smoother + Speller +
    TextEntry at `fps`."""
    smoother = speller.Smoother(CLASSES, window_ms, threshold)
    spelling, text = speller.Speller(hold_s * 1000, gap_ms), TextEntry()
    t, end = 0.0, 0.0
    for letter, seconds in script:
        end += seconds * 1000
        while t < end:
            committed = spelling.update(t, smoother.update(t, proba(letter, confidence)).letter)
            if committed:
                text.commit(committed)
            t += 1000 / fps
    return text.text


def test_hold_commits_once_while_held():
    assert spell([("A", 3.0)]) == "A"


def test_short_sign_does_not_commit():
    assert spell([("A", 0.3), (None, 1.0)]) == ""


def test_word_with_releases_between_letters():
    assert spell([("C", 1), (None, 0.5), ("A", 1), ("nothing", 0.5), ("B", 1)]) == "CAB"


def test_changing_letter_without_release_commits_each():
    assert spell([("C", 1), ("A", 1), ("B", 1)]) == "CAB"


def test_double_letter_needs_release():
    assert spell([("L", 2), ("L", 2)]) == "L"
    assert spell([("L", 1), (None, 0.5), ("L", 1)]) == "LL"
    assert spell([("L", 1), ("nothing", 0.5), ("L", 1)]) == "LL"


def test_flicker_to_other_letter_does_not_repeat_committed_letter():
    """A brief other letter (shorter than the hold) between the same letter is no release."""
    assert spell([("L", 1), ("V", 0.4), ("L", 1)], window_ms=0) == "L"


def test_space_and_delete():
    script = [("H", 1), ("I", 1), ("space", 1), ("X", 1), ("del", 1), ("Y", 1), (None, 0.5), ("del", 1),
              (None, 0.5), ("del", 1)]
    assert spell(script) == "HI"


def test_delete_on_empty_text_is_harmless():
    assert spell([("del", 1)]) == ""


def test_below_threshold_shows_no_letter_and_spells_nothing():
    assert spell([("A", 2)], confidence=0.5, threshold=0.6) == ""
    smoother = speller.Smoother(CLASSES, 0, 0.6)
    low = smoother.update(0, proba("A", 0.5))
    assert low.letter is None and low.confidence == pytest.approx(0.5)
    assert smoother.update(33, proba("A", 0.7)).letter == "A"


@pytest.mark.parametrize("fps", [5, 10, 15, 30, 60, 120])
def test_same_text_at_any_fps(fps):
    script = [("C", 1.2), (None, 0.6), ("O", 1.2), ("O", 0.3), ("nothing", 0.6), ("O", 1.2), ("L", 1.2),
              ("space", 1.2), ("X", 1.2), ("del", 1.2)]
    assert spell(script, fps=fps) == "COOL "


def test_smoothing_ignores_single_frame_glitches():
    """One wrong frame or one lost frame in a window of several does not change the letter."""
    smoother = speller.Smoother(CLASSES, 200, 0.6)
    stream = ["A", "A", "B", "A", None, "A", "A"]
    letters = [smoother.update(i * 33.3, proba(x)).letter for i, x in enumerate(stream)]
    assert letters == ["A"] * len(stream)


def test_smoothing_majority_of_no_hand_means_no_letter():
    smoother = speller.Smoother(CLASSES, 200, 0.6)
    for i, x in enumerate(["A", None, None]):
        result = smoother.update(i * 33.3, proba(x))
    assert result == speller.NO_HAND


def test_smoothing_averages_probabilities():
    smoother = speller.Smoother(CLASSES, 1000, 0.0)
    smoother.update(0, proba("A", 0.9))
    result = smoother.update(100, proba("A", 0.5))
    assert result.letter == "A" and result.confidence == pytest.approx(0.7)


def test_window_is_time_based():
    smoother = speller.Smoother(CLASSES, 200, 0.6)
    for t in (0, 50, 100):
        smoother.update(t, proba("A"))
    assert smoother.update(150, proba("B")).letter == "A"  # 3 A, 1 B in the window
    assert smoother.update(400, proba("B")).letter == "B"  # the A frames have left the window


def test_nan_probabilities_count_as_no_hand():
    smoother = speller.Smoother(CLASSES, 0, 0.6)
    assert smoother.update(0, np.full(len(CLASSES), np.nan, np.float32)) == speller.NO_HAND
    assert smoother.empty


def test_best_hand_is_highest_confidence_with_a_letter():
    hands = [speller.Prediction("A", 0.7), speller.Prediction(None, 0.95), speller.Prediction("B", 0.9)]
    assert speller.best(hands) == speller.Prediction("B", 0.9)
    assert speller.best([speller.NO_HAND, speller.Prediction(None, 0.4)]) == speller.NO_HAND


def test_progress_and_release():
    s = speller.Speller(1000)
    s.update(0, "A")
    assert s.progress(500) == pytest.approx(0.5)
    assert s.update(1000, "A") == "A"
    assert s.progress(1500) == 0.0  # committed: nothing pending
    s.release()
    assert s.update(2000, "A") is None  # the hold restarts after a release
    assert s.update(3000, "A") == "A"


def test_zero_hold_commits_immediately_once():
    s = speller.Speller(0)
    assert s.update(0, "A") == "A"
    assert s.update(10, "A") is None
    s.release()
    assert s.update(20, "A") == "A"


def test_short_dips_are_bridged_with_a_gap():
    """Without a gap, a 0.1 s dip below threshold restarts the 0.5 s hold every time and the
    letter never commits; with a 0.2 s gap the hold goes on through the dips."""
    script = [("A", 0.3), (None, 0.1)] * 6
    assert spell(script, window_ms=0) == ""
    assert spell(script, window_ms=0, gap_ms=200) == "A"
    flicker = [("A", 0.3), ("B", 0.1)] * 6  # a letter misread for a few frames, again and again
    assert spell(flicker, window_ms=0, gap_ms=200) == "A"


def test_gap_still_releases_for_double_letters_and_switches_letters():
    assert spell([("L", 1), (None, 0.5), ("L", 1)], gap_ms=200) == "LL"
    assert spell([("L", 1), (None, 0.1), ("L", 1)], window_ms=0, gap_ms=200) == "L"  # too short: no release
    assert spell([("C", 1), ("A", 1), ("B", 1)], gap_ms=200) == "CAB"
    # a new letter's hold counts from when it first appeared, not from when the gap ran out
    s = speller.Speller(500, 200)
    s.update(0, "A")
    s.update(100, "B")
    assert s.update(350, "B") is None and s.current == "B"
    assert s.update(600, "B") == "B"
