"""J and Z spelled from motion on streams (recogniser.py with a motion model): a held I then a J
traced from it spells J (not IJ, nor J then the end pose's I), a D then a Z spells Z, a still I
stays I, a still hand is never read as J or Z, nor a hand cut from letter to letter along a Z's
steps, letters before the motion stay, and the rules the recogniser applies (speller.Speller.claim,
text_entry.TextEntry.commit_motion) on their own."""
from __future__ import annotations

import functools

import numpy as np
import pytest

from conftest import REPO, SHARED_DATA, jumping_stream, needs_data, static_hands, traced_stream, z_then

from classifiers import motion_letters as ml
from dataset import motion_paths
from dataset import motion_streams as ms
from hand import keypoints
from realtime import recogniser as live
from spelling.speller import Speller
from spelling.text_entry import TextEntry

FPS = 30.0
CLASSES = ["I", "J", "H", "A", "D", "Z"]


def one_hot(letter: str) -> np.ndarray:
    p = np.full(len(CLASSES), 0.02, np.float32)
    p[CLASSES.index(letter)] = 0.9
    return p


# ----------------------------------------------------------------------------- the rules
def test_a_claimed_sign_and_the_next_commit_nothing_when_they_look_like_the_motion():
    speller = Speller(300.0, 150.0)
    assert speller.update(0, "I") is None
    speller.claim(1200.0, "IJ")  # a J read while the I is held: that sign is the J's
    assert all(speller.update(t, "I") is None for t in range(33, 1000, 33))
    speller.update(1000, None, moving=True)  # the hand comes to rest in the J's end pose
    assert all(speller.update(t, "J") is None for t in range(1033, 1500, 33))
    speller.update(1500, None, moving=True)  # and moves on to the next letter, an I ("JI")
    assert speller.update(1533, "I") is None and speller.update(1840, "I") == "I"


def test_the_end_pose_after_a_claim_during_the_motion_commits_nothing_and_an_x_after_it_commits():
    """A Z read while the hand still moves: the sign it comes to rest in is its end pose (read as
    D), and an X the hand then moves on to, still within the claim's time, is a letter ("ZX")."""
    speller = Speller(300.0, 150.0)
    speller.update(0, None, moving=True)
    speller.claim(1000.0, "DGLRXZ")
    assert all(speller.update(t, "D") is None for t in range(33, 400, 33))
    speller.update(400, None, moving=True)
    assert speller.update(433, "X") is None and speller.update(740, "X") == "X"


def test_the_next_letter_commits_even_when_it_begins_within_the_claim():
    speller = Speller(300.0, 150.0)
    speller.update(0, "I", moving=True)
    speller.claim(1000.0, "IJ")
    assert all(speller.update(t, "A") is None for t in range(100, 400, 33))
    assert speller.update(400, "A") == "A"


def test_a_motion_letter_replaces_its_start_and_what_the_motion_passed_through():
    text = TextEntry()
    for cls, t in (("H", 0.0), ("I", 900.0), ("A", 1500.0), ("D", 1700.0)):
        text.commit(cls, one_hot(cls), None, t)
    text.commit_motion("J", one_hot("J"), 1400.0, "IJ", 1000.0)  # A, D: during the motion; I: its start
    assert text.letters == "HJ"


def test_a_motion_letter_keeps_letters_that_are_not_its_start_or_too_old():
    text = TextEntry()
    text.commit("H", one_hot("H"), None, 0.0)
    text.commit("A", one_hot("A"), None, 900.0)
    text.commit_motion("J", one_hot("J"), 1400.0, "IJ", 1000.0)
    text.commit("I", one_hot("I"), None, 3000.0)
    text.commit_motion("J", one_hot("J"), 4500.0, "IJ", 1000.0)  # the I was 1.5 s before: a letter of its own
    assert text.letters == "HAJIJ"
    text.end_word()
    text.commit_motion("Z", one_hot("Z"), 9000.0, "DZ", 1000.0)  # a new word: nothing to replace
    assert text.letters == "HAJIJ Z"


# ----------------------------------------------------------------------------- on streams
@functools.lru_cache(maxsize=None)
def shipped_models() -> tuple:
    """The shipped letter model (ONNX) and motion model, loaded once for every stream."""
    from classifiers.classifier_base import default_class_mapping
    from classifiers.onnx_classifier import OnnxClassifier
    weights = REPO / "keypoint_model_L_cnn_50.onnx"
    return OnnxClassifier(weights, default_class_mapping(weights)), ml.MotionModel.load()


def spell(stream: ms.Stream, motion: bool) -> str:
    """The letters main.py's live path commits for a landmark stream (the tracker's output)."""
    letters, motion_model = shipped_models()
    recogniser = live.Recogniser(None, letters, motion_model=motion_model if motion else None)
    for t, lm in zip(stream.times, stream.landmarks):
        hands = [] if np.isnan(lm).any() else [keypoints.Hand(lm.astype(np.float32), stream.handedness, 0.95)]
        recogniser.process_hands(hands, float(t))
    recogniser.finish()
    return recogniser.text.letters


@needs_data
@pytest.mark.parametrize("letter,start", [("J", "I"), ("Z", "D")])
def test_a_letter_traced_from_a_held_sign_spells_that_letter_once(letter, start):
    spelled = [spell(traced_stream(letter, start, seed), motion=True) for seed in range(6)]
    assert sum(s == letter for s in spelled) >= 5, spelled
    assert all(s in (letter, start) for s in spelled), spelled  # never both, never the end pose too


@needs_data
def test_a_letter_like_the_end_pose_after_a_z_is_a_letter():
    """ZX, ZD: once the hand moves on from a Z's end pose, the letter it signs next commits, though
    it looks like the Z at rest and begins soon after it."""
    spelled = [spell(z_then(c, seed), motion=True) for c in "XD" for seed in range(3)]
    assert sum(s == "Z" + c for s, c in zip(spelled, "XXXDDD")) >= 5, spelled


@needs_data
@pytest.mark.parametrize("fps", [15.0, 30.0])
def test_a_hand_that_jumps_from_letter_to_letter_and_stops_is_no_z(fps):
    """K, C, D held still one after the other, the hand cut from place to place along a Z's steps
    (photos cut one to the next): the steps' path reads as a Z to the motion model in 10 of these
    12 streams, but the hand is still when it does, so every stream spells KCD."""
    spelled = [spell(jumping_stream("KCD", seed, fps), motion=True) for seed in range(6)]
    assert spelled == ["KCD"] * 6, spelled


@needs_data
def test_a_still_i_spells_i_with_motion_letters_on():
    hand = motion_paths.normalise(static_hands("I")[:1])[0] * 0.25 + np.float32([0.5, 0.5, 0.0])
    rng = np.random.default_rng(0)
    times = np.arange(0, 3000, 1000 / FPS)
    frames = hand[None] + rng.normal(0, 0.001, (len(times), 21, 3))
    assert spell(ms.Stream(times, frames.astype(np.float32), "Right"), motion=True) == "I"


class ReadsAs:
    """A letter model that reads every hand as `letter` (confidence 0.9)."""

    def __init__(self, letter: str) -> None:
        from dataset.dataset_layout import KAGGLE_CLASSES
        self.classes = list(KAGGLE_CLASSES)
        self.proba = np.full(len(self.classes), 0.1 / (len(self.classes) - 1), np.float32)
        self.proba[self.classes.index(letter)] = 0.9

    def predict_proba(self, landmarks: np.ndarray, right: np.ndarray) -> np.ndarray:
        return np.tile(self.proba, (len(landmarks), 1))


def test_a_still_hand_read_as_z_spells_the_letter_it_is_read_as_next_with_motion_letters_on():
    """On streams J and Z come from motion only: a still hand (one frame of a Z looks like D) read
    0.6 Z and 0.3 D spells D with motion letters on, and Z without them (the single-frame reading)."""
    from conftest import synthetic_hand

    class ReadsZ(ReadsAs):
        def __init__(self) -> None:
            super().__init__("Z")
            self.proba[:] = 0.1 / (len(self.classes) - 2)
            self.proba[[self.classes.index("Z"), self.classes.index("D")]] = 0.6, 0.3

    hand = synthetic_hand(np.random.default_rng(0)).astype(np.float32)
    rng = np.random.default_rng(1)

    def play(motion: bool) -> str:
        recogniser = live.Recogniser(None, ReadsZ(), motion_model=ml.MotionModel.load() if motion else None)
        for t in np.arange(0, 2000, 1000 / FPS):
            still = hand + rng.normal(0, 0.001, hand.shape).astype(np.float32)
            recogniser.process_hands([keypoints.Hand(still, "Right", 0.95)], float(t))
        recogniser.finish()
        return recogniser.text.letters
    assert (play(True), play(False)) == ("D", "Z")


@needs_data
def test_a_j_path_traced_by_a_hand_of_another_shape_is_no_j():
    """The same J path: a hand read as I all along spells J; one read as T (a hand moving between
    other letters along a hook) gives no J and spells what it spells without motion letters."""
    def play(reads: str, motion: bool) -> tuple[str, list[str]]:
        recogniser = live.Recogniser(None, ReadsAs(reads), motion_model=ml.MotionModel.load() if motion else None)
        stream = traced_stream("J", "I", 0)
        found = [recogniser.process_hands([keypoints.Hand(lm, "Right", 0.95)], float(t)).motion
                 for t, lm in zip(stream.times, stream.landmarks)]
        recogniser.finish()
        return recogniser.text.letters, [m for m in found if m]
    assert play("I", True) == ("J", ["J"])
    assert play("T", True) == (play("T", False)[0], [])


@needs_data
def test_recorded_j_and_z_spell_through_the_live_path():
    """tresajoby's 100 recorded J and 100 Z (the shipped motion model was trained on them: a check
    that the live path keeps what the model reads, not a held-out figure), each after its first
    frame held 0.5 s, at 15 fps, through the shipped letter model: at least 94 Js and 97 Zs spell
    just that letter (95 and 98 while the hold counted from the first still frame: one J's start
    pose, read as Y after a hitch, now commits before the J), and none the other one."""
    for letter, sequences in motion_paths.read_sequences(SHARED_DATA).items():
        spelled = [spell(ms.recorded_stream(sequence.reshape(-1, 21, 3), letter, np.random.default_rng(k), fps=15.0),
                         motion=True) for k, sequence in enumerate(sequences)]
        assert sum(s == letter for s in spelled) >= {"J": 94, "Z": 97}[letter], (letter, spelled)
        assert not any(({"J", "Z"} - {letter}) & set(s) for s in spelled), (letter, spelled)
