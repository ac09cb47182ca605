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


MOVE_S = 0.1  # how long the hand moves between two different signs in the scripts below


def spell(script: list[tuple[str | None, float]], fps: float = 30, hold_s: float = 0.5,
          threshold: float = 0.6, window_ms: float = 200, confidence: float = 0.9, gap_ms: float = 0.0,
          still: bool = False) -> str:
    """Run a script of (letter or None for no hand, seconds) through Smoother + Speller +
    TextEntry at `fps`.  Between two different letters the hand moves for MOVE_S (a new sign
    needs a movement), unless `still`: the whole script is one still hand whose reading changes."""
    smoother = speller.Smoother(CLASSES, window_ms, threshold)
    spelling, text = speller.Speller(hold_s * 1000, gap_ms, CLASSES), TextEntry()
    t, end, before = 0.0, 0.0, None
    for letter, seconds in script:
        moves = not still and None not in (before, letter) and letter != before
        moves_until, end = end + MOVE_S * 1000, end + seconds * 1000
        first = True
        while t < end:  # the segment's first frame and those of its first MOVE_S move, at any frame rate
            prediction = smoother.update(t, proba(letter, confidence))
            committed = spelling.update(t, prediction.letter, prediction.proba, moving=moves and (first or t < moves_until))
            if committed:
                text.commit(committed)
            t += 1000 / fps
            first = False
        before = letter
    return text.text


def test_hold_commits_once_while_held():
    assert spell([("A", 3.0)]) == "A"


def test_short_sign_does_not_commit():
    assert spell([("A", 0.3), (None, 1.0)]) == ""


def test_word_with_releases_between_letters():
    assert spell([("C", 1), (None, 0.5), ("A", 1), ("nothing", 0.5), ("B", 1)]) == "CAB"


def test_changing_letter_with_a_movement_commits_each():
    assert spell([("C", 1), ("A", 1), ("B", 1)]) == "CAB"


def test_a_flickering_held_sign_is_one_letter_the_one_read_most():
    """The hand does not move but its reading flickers between two letters for longer than the
    hold: one sign, so one letter (T, read most of the time), not TATA."""
    flicker = [("T", 0.6), ("A", 0.5), ("T", 0.6), ("A", 0.3)]
    assert spell(flicker, still=True) == "T"
    assert spell([(letter, 1.0) for letter, _ in flicker]) == "TATA"  # moving between: four signs


def test_a_moving_hand_commits_nothing_until_it_stops():
    s = speller.Speller(300, 150, CLASSES)
    for t in range(0, 2000, 33):  # a letter read all along, but the hand is on its way
        assert s.update(t, "A", proba("A"), moving=True) is None
    assert s.update(2000, "A", proba("A")) is None
    assert s.update(2300, "A", proba("A")) == "A"  # held still for the hold


def test_the_hold_counts_from_when_the_hand_came_to_rest():
    """The motion drops below the threshold only once the whole motion window is still: a new
    letter right after a movement commits `hold_ms` after the hand came to rest, `still_ms` before
    its first still frame; a repeat of the last letter after a small movement (a double letter)
    still needs the whole hold from its first still frame."""
    s = speller.Speller(300, 0, CLASSES, still_ms=150)
    assert s.update(0, "A", proba("A")) is None and s.update(300, "A", proba("A")) == "A"  # no movement before
    assert s.update(400, "A", proba("A"), moving=True) is None
    assert s.update(500, "B", proba("B")) is None  # still since 350
    assert s.update(650, "B", proba("B")) == "B"
    assert s.update(700, "B", proba("B"), moving=True) is None
    assert s.update(800, "B", proba("B")) is None and s.update(1000, "B", proba("B")) is None  # a repeat
    assert s.update(1100, "B", proba("B")) == "B"


def test_an_unsure_reading_on_a_still_hand_does_not_end_the_sign():
    """Below the threshold on a still hand (a hand, no letter) pauses the sign; it does not release it."""
    assert spell([("L", 1), ("L", 0.4), ("L", 1)], still=True) == "L"
    s = speller.Speller(300, 0, CLASSES)
    assert s.update(0, "L", proba("L")) is None and s.update(300, "L", proba("L")) == "L"
    assert s.update(400, None, proba("L", 0.4)) is None  # unsure
    assert s.update(900, "L", proba("L")) is None and s.update(1300, "L", proba("L")) is None
    assert s.update(1400, None, None) is None  # the hand goes: released
    assert s.update(1500, "L", proba("L")) is None and s.update(1800, "L", proba("L")) == "L"


def test_the_sign_keeps_its_mean_probabilities_for_the_lexicon():
    s = speller.Speller(200, 0, CLASSES)
    s.update(0, "T", proba("T", 0.8))
    s.update(100, "T", proba("A", 0.6))  # a frame read as A while the letter shown is still T
    assert s.update(200, "T", proba("T", 0.8)) == "T"
    expected = (2 * proba("T", 0.8) + proba("A", 0.6)) / 3
    np.testing.assert_allclose(s.sign_proba, expected, rtol=1e-6)


def test_hand_motion_ignores_the_landmarker_settling_on_a_hand_it_has_just_found():
    """After the hand appears, its landmarks drift for a few frames (the landmarker settling):
    no motion for settle_ms; a hand that comes back elsewhere after a loss has moved, once."""
    rng = np.random.default_rng(1)
    hand = rng.uniform(0.4, 0.6, (21, 3))
    hand[0], hand[5], hand[17] = (0.5, 0.7, 0), (0.45, 0.55, 0), (0.58, 0.57, 0)
    motion = speller.HandMotion(150, 300)
    drift = [motion.update(t, hand + 0.01 * k) for k, t in enumerate(range(0, 300, 50))]
    assert drift == [0.0] * len(drift)  # settling
    assert motion.update(450, hand + 0.2) == 0.0  # settled, but one frame's jump is a glitch
    assert motion.update(500, hand + 0.4) > 0.3  # settled: a move over frames counts
    motion.lost()
    assert motion.update(600, hand + 0.4) == 0.0  # back where it was
    assert motion.update(650, hand + 0.45) == 0.0  # settling again
    motion.lost()
    assert motion.update(900, hand + 0.6) > 0.3  # back somewhere else: it moved while away


def test_hand_motion_is_scale_free_and_ignores_jitter():
    rng = np.random.default_rng(0)
    hand = rng.uniform(0.4, 0.6, (21, 3))
    hand[0], hand[5], hand[17] = (0.5, 0.7, 0), (0.45, 0.55, 0), (0.58, 0.57, 0)
    for scale in (0.5, 1.0, 2.0):  # the same hand far from the camera and near it
        motion = speller.HandMotion(150)
        still = [motion.update(t, hand * scale + rng.normal(0, 0.001 * scale, hand.shape)) for t in range(0, 300, 33)]
        assert max(still) < 0.1
        other = hand.copy()
        other[5:] += 0.05  # the fingers move to another handshape
        moved = [motion.update(300 + t, (hand + (other - hand) * min(1, t / 150)) * scale) for t in range(0, 200, 33)]
        assert max(moved) > 0.3
        assert speller.HandMotion(150).update(0, hand * scale) == 0.0  # a first frame has not moved


def test_hand_motion_does_not_count_shifts_within_the_noise_floor():
    """A hand a few dozen pixels across (a 64-pixel frame): the camera's jitter of a pixel or two
    is a tenth of its palm or more, but within the noise floor, so it is not movement; a change of
    handshape and place larger than the floor still is."""
    rng = np.random.default_rng(0)
    side = 64
    hand = (rng.uniform(0.4, 0.6, (21, 3)) - 0.5) * 0.8 + 0.5
    hand[0], hand[5], hand[17] = (0.5, 0.58, 0), (0.46, 0.46, 0), (0.56, 0.47, 0)  # a palm of about 8 px
    noise = 3.0 / side
    jittered = [hand + np.array([k % 3, 0, 0]) / side for k in range(10)]
    plain, floored = speller.HandMotion(150), speller.HandMotion(150)
    assert max(plain.update(t * 66, lm) for t, lm in enumerate(jittered)) > 0.12  # without a floor: moving
    assert max(floored.update(t * 66, lm, noise) for t, lm in enumerate(jittered)) == 0.0
    other = hand.copy()
    other[5:] = hand[0] + (hand[5:] - hand[0]) * 0.2  # the fingers fold into a fist
    other[:, 0] += 6 / side  # as the hand moves on by 6 pixels
    assert max(floored.update(700 + t * 66, hand + (other - hand) * min(1, t / 3), noise) for t in range(6)) > 0.3


def test_hand_motion_sees_a_move_between_signs_at_a_few_frames_a_second():
    """At 4 frames a second (a slow machine) the hand is at one sign on one frame and at the next
    on the following one: that jump is a movement, seen on the frame after it, as at 30 fps."""
    rng = np.random.default_rng(0)
    hand = rng.uniform(0.4, 0.6, (21, 3))
    hand[0], hand[5], hand[17] = (0.5, 0.7, 0), (0.45, 0.55, 0), (0.58, 0.57, 0)
    other = hand.copy()
    other[5:] = hand[0] + (hand[5:] - hand[0]) * 0.5  # the fingers fold to the next sign
    for fps in (4, 30):
        motion, step = speller.HandMotion(150), 1000 / fps
        held = [motion.update(i * step, hand) for i in range(fps)]
        moved = [motion.update((fps + i) * step, other) for i in range(fps)]
        assert max(held) == 0.0 and moved[0] == 0.0 and moved[1] > 0.3, fps


def test_double_letter_needs_release():
    assert spell([("L", 2), ("L", 2)]) == "L"
    assert spell([("L", 1), (None, 0.5), ("L", 1)]) == "LL"
    assert spell([("L", 1), ("nothing", 0.5), ("L", 1)]) == "LL"


def test_flicker_to_other_letter_does_not_repeat_committed_letter():
    """A brief other letter between the same letter, on a still hand, is no release."""
    assert spell([("L", 1), ("V", 0.4), ("L", 1)], window_ms=0, still=True) == "L"


def test_double_letter_by_a_small_movement():
    """LL signed as L, a small release movement, L: two letters."""
    s = speller.Speller(300, 150, CLASSES)
    assert s.update(0, "L", proba("L")) is None and s.update(300, "L", proba("L")) == "L"
    assert s.update(400, "L", proba("L"), moving=True) is None
    assert s.update(500, "L", proba("L")) is None and s.update(800, "L", proba("L")) == "L"


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
    assert speller.best([speller.NO_HAND, speller.Prediction(None, 0.4)]) == speller.Prediction(None, 0.4)
    assert speller.best([speller.NO_HAND]) == speller.NO_HAND


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
    assert spell(flicker, window_ms=0, gap_ms=200, still=True) == "A"


def test_gap_still_releases_for_double_letters_and_switches_letters():
    assert spell([("L", 1), (None, 0.5), ("L", 1)], gap_ms=200) == "LL"
    assert spell([("L", 1), (None, 0.1), ("L", 1)], window_ms=0, gap_ms=200) == "L"  # too short: no release
    assert spell([("C", 1), ("A", 1), ("B", 1)], gap_ms=200) == "CAB"
    # a reading that changes on a still hand does not restart the sign's hold, and the sign is
    # the letter read most over it
    s = speller.Speller(500, 200, CLASSES)
    s.update(0, "A", proba("A"))
    s.update(100, "B", proba("B"))
    assert s.update(350, "B", proba("B")) is None and s.current == "B"
    assert s.update(500, "B", proba("B")) == "B"
