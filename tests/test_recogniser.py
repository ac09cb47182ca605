"""recogniser.py + text_entry.py: the live path from frames to words, on synthetic streams.

A fake landmarker and a fake classifier stand in for MediaPipe and the model: each frame carries
the class probabilities its hand should get, so the tests exercise what users rely on (words
rescored at the right boundaries, a misread letter corrected, a name kept, a missed letter
restored, undo, hands found again on streams) without any image."""
from __future__ import annotations

import json

import numpy as np
import pytest

from hand import keypoints
from realtime import recogniser as live
from realtime.jsonl_records import end_record, frame_record
from dataset.dataset_layout import KAGGLE_CLASSES
from spelling.lexicon import Lexicon
from spelling.text_entry import TextEntry
from spelling.word_decoder import WordDecoder

CLASSES = KAGGLE_CLASSES
FPS = 30
HOLD_S = 0.5
LETTER_S = 0.8  # each letter shown this long
RELEASE_S = 0.4  # no hand between double letters


def proba(letter: str, confidence: float = 0.9, second: str | None = None, p2: float = 0.0) -> np.ndarray:
    """`confidence` on `letter`, `p2` on `second`, the rest spread evenly over the other classes."""
    p = np.full(len(CLASSES), (1 - confidence - p2) / (len(CLASSES) - 1 - (second is not None)), np.float32)
    p[CLASSES.index(letter)] = confidence
    if second is not None:
        p[CLASSES.index(second)] = p2
    return p


class FakeDetector:
    """VIDEO-mode stand-in: a frame is a probability vector (or None: no hand); the hand is found
    only when the frame is read with one of `finds` borders (by its last resort: `last_finds`), and
    never when it signs one of the letters `blind`."""
    mode = "video"

    def __init__(self, finds: tuple[float, ...] = (0.0,), last_finds: tuple[float, ...] | None = None,
                 blind: str = "", finds_for: dict[str, tuple[float, ...]] | None = None) -> None:
        self.finds, self.blind, self.borders = finds, blind, []
        self.finds_for = finds_for or {}  # letter -> the borders its hand is found with (else `finds`)
        self.last_resort_confidence = None if last_finds is None else keypoints.LAST_RESORT_CONFIDENCE
        self._twin = None if last_finds is None else FakeDetector(last_finds)

    def last_resort(self) -> FakeDetector | None:
        return self._twin

    def read(self, frame: np.ndarray | None, border: float = 0.0, timestamp_ms: int | None = None) -> list:
        self.borders.append(border)
        letter = None if frame is None else signs(frame)
        if letter is None or border not in self.finds_for.get(letter, self.finds) or letter in self.blind:
            return []
        landmarks = np.zeros((21, 3), np.float32)
        landmarks[:, 0] = np.resize(frame, 21)  # the probabilities ride along in the landmarks
        return [keypoints.Hand(landmarks, "Right", 0.9)]

    def readings(self, frame: np.ndarray | None, every_border: bool = False, timestamp_ms: int | None = None) -> list:
        return [(0.0, self.read(frame, 0.0, timestamp_ms))]


class FakeClassifier:
    """Returns the probabilities each fake hand carries."""
    classes = CLASSES

    def predict_proba(self, landmarks: np.ndarray, right: np.ndarray) -> np.ndarray:
        return np.stack([FakeClassifier.probs[int(round(row[0, 0] * 1e6))] for row in landmarks])

    probs: list[np.ndarray] = []


def frame_of(p: np.ndarray | None) -> np.ndarray | None:
    """A frame whose hand gets probabilities `p`: an index into FakeClassifier.probs."""
    if p is None:
        return None
    FakeClassifier.probs.append(p)
    return np.full(21, (len(FakeClassifier.probs) - 1) / 1e6, np.float32)


def signs(frame: np.ndarray) -> str:
    """The class a fake frame's hand signs."""
    return CLASSES[int(np.argmax(FakeClassifier.probs[int(round(frame[0] * 1e6))]))]


def signed(word: str, misreads: dict[int, str] | None = None, pause_s: float = 2.0) -> list:
    """Frames of `word` signed at FPS: each letter for LETTER_S (a double letter after a release),
    then `pause_s` with no hand.  misreads {i: X}: letter i reads 0.65 as X and 0.3 as itself."""
    frames: list = []
    for i, letter in enumerate(word):
        if i and word[i - 1] == letter:
            frames += [None] * round(RELEASE_S * FPS)
        p = proba(misreads[i], 0.65, letter, 0.3) if misreads and i in misreads else proba(letter)
        frames += [frame_of(p)] * round(LETTER_S * FPS)
    return frames + [None] * round(pause_s * FPS)


def run(frames: list, lexicon: Lexicon | None = None, detector: FakeDetector | None = None, finish: bool = True,
        hold_s: float = HOLD_S, **options) -> live.Recogniser:
    """Play frames through a Recogniser at FPS; `finish` ends the stream."""
    text = TextEntry(WordDecoder(lexicon, CLASSES) if lexicon is not None else None)
    options.setdefault("motion_floor_px", 0.0)  # the fake frames are no pictures: no pixels to measure in
    recogniser = live.Recogniser(detector or FakeDetector(), FakeClassifier(), hold_s=hold_s, text=text, **options)
    for i, frame in enumerate(frames):
        recogniser.process(frame, i * 1000 / FPS)
    if finish:
        recogniser.finish()
    return recogniser


@pytest.fixture(scope="module")
def english() -> Lexicon:
    return Lexicon.english()


def test_misread_letter_is_corrected_and_undo_restores_it(english: Lexicon):
    r = run(signed("WATER", {4: "P"}), english)
    assert (r.text.text, r.text.letters) == ("WATER ", "WATEP ")  # the word pause added the space
    assert r.text.suggestions[0] == "WATER" and len(r.text.suggestions) == 3
    assert r.text.undo() and r.text.text == "WATEP "
    assert not r.text.undo()  # already as committed
    assert r.text.choose(0) and r.text.text == "WATER "


def test_a_name_spelled_right_stays_right(english: Lexicon):
    r = run(signed("ZOLTAN") + signed("KAYLEE"), english)
    assert r.text.text == "ZOLTAN KAYLEE "


def test_a_letter_held_but_never_read_is_restored_and_one_with_no_time_for_it_is_not(english: Lexicon):
    """WATER whose A was held but never read (below the threshold) is restored; WTER signed at an
    even pace has no time for a missed letter and stays."""
    unread_a = signed("W", pause_s=0.0) + [frame_of(proba("A", 0.2))] * round(LETTER_S * FPS) + signed("TER")
    assert run(unread_a, english).text.text == "WATER "
    assert run(signed("WTER"), english).text.text == "WTER "


def test_without_lexicon_the_letters_are_kept(english: Lexicon):
    r = run(signed("WATER", {4: "P"}))
    assert r.text.text == r.text.letters == "WATEP " and r.text.suggestions == ()


def test_word_pause_ends_a_word_only_after_its_length(english: Lexicon):
    short = run(signed("CAT", pause_s=1.0) + signed("S", pause_s=0.0), english, finish=False, word_pause_s=1.5)
    assert short.text.text == "CATS" and short.text.spelling  # 1 s < the word pause: one word
    long = run(signed("CAT", pause_s=1.6) + signed("S", pause_s=0.0), english, finish=False, word_pause_s=1.5)
    assert long.text.text == "CAT S"
    long.finish()
    assert long.text.text == "CAT S" and not long.text.spelling  # the end of a stream adds no space


def test_double_letters_and_space_and_delete_signs():
    frames = signed("HELLO", pause_s=0.0) + [frame_of(proba("space"))] * 24 + signed("XY", pause_s=0.0)
    frames += [None] * 12 + [frame_of(proba("del"))] * 24
    assert run(frames).text.text == "HELLO X"


def test_hands_the_stream_misses_are_found_with_a_border():
    """A hand the tracker finds only in a bordered frame (one that fills the frame): found again
    within a few frames, and the border is kept while the hand stays."""
    detector = FakeDetector(finds=(0.5,))
    r = run(signed("CAB"), detector=detector)
    assert r.text.text == "CAB "
    found = [b for b in detector.borders if b == 0.5]
    assert len(found) > 0.8 * len(detector.borders) - 3 * 2 * FPS  # mostly read with the border that works
    assert run(signed("CAB"), detector=FakeDetector(finds=(0.5,)), reacquire=False).text.text == ""


def test_a_hand_lost_at_a_new_letter_is_looked_for_one_way_a_frame_from_the_plain_reading():
    """The C's hand is found only with a 0.5 border, the A's only without one: when the letter
    changes, the frame after the loss is read plainly, then each further frame with the next
    border, so no frame is spent on a reading that just failed."""
    detector = FakeDetector(finds_for={"C": (0.5,)})
    frames = signed("CAC")
    assert run(frames, detector=detector).text.text == "CAC "
    letter = round(LETTER_S * FPS)
    a_start, c_start = letter, 2 * letter
    assert detector.borders[a_start:a_start + 2] == [0.5, 0.0]  # lost with the C's border, then plain
    assert detector.borders[c_start:c_start + 4] == [0.0, 0.0, 0.25, 0.5]  # plain twice, then in turn
    assert detector.borders[c_start + 4:c_start + letter] == [0.5] * (letter - 4)  # kept while it stays


def test_hands_only_a_lower_confidence_finds_are_found_by_the_last_resort():
    """A hand the tracker misses at every border but its last resort finds: found in turn, and
    that reading is kept while the hand stays; without the last resort it is never found."""
    detector = FakeDetector(finds=(), last_finds=(0.25,))
    assert run(signed("CAB"), detector=detector).text.text == "CAB "
    assert len(detector.last_resort().borders) > 0.6 * len(detector.borders)
    assert set(detector.last_resort().borders) == {0.0, *keypoints.FALLBACK_BORDERS}
    assert run(signed("CAB"), detector=FakeDetector(finds=(), last_finds=(0.25,)), last_resort=False).text.text == ""
    assert run(signed("CAB"), detector=FakeDetector(finds=())).text.text == ""  # a detector without one


def test_the_detector_takes_the_hand_back_from_the_last_resort():
    """Only the last resort finds the C; the detector reads the A and B again within PROBE_FRAMES
    frames of their start, so the last resort reads only the hands the detector cannot."""
    detector = FakeDetector(last_finds=(0.0,), blind="C")
    # the second C is found ~0.3 s late (the borders are tried first), and a sign commits only
    # while the hand stays still, not once the next letter's movement has begun: a shorter hold
    spelled = run(signed("CAB", pause_s=0.0) + signed("CAB"), detector=detector, hold_s=0.4).text.text
    assert spelled == "CABCAB "
    c_frames = 2 * round(LETTER_S * FPS)  # the frames of the two Cs
    assert c_frames <= len(detector.last_resort().borders) < 1.5 * c_frames  # (never taken back: 3.5 x)


def test_jsonl_records_carry_text_letters_and_suggestions(english: Lexicon):
    r = run(signed("WATER", {4: "P"}), english, finish=False)
    record = json.loads(frame_record(7, 233.3, r.process(None, 10_000)))
    assert (record["text"], record["letters"], record["suggestions"][0]) == ("WATER ", "WATEP ", "WATER")
    end = json.loads(end_record(r.text))
    assert end == {"end": True, "text": "WATER ", "letters": "WATEP ", "suggestions": record["suggestions"]}


def test_finished_words_go_to_on_word(english: Lexicon):
    said: list[str] = []
    text = TextEntry(WordDecoder(english, CLASSES), on_word=said.append)
    recogniser = live.Recogniser(FakeDetector(), FakeClassifier(), hold_s=HOLD_S, text=text, motion_floor_px=0.0)
    for i, frame in enumerate(signed("WATER", {4: "P"}) + signed("NO", pause_s=0.5)):
        recogniser.process(frame, i * 1000 / FPS)
    recogniser.finish()
    assert said == ["WATER", "NO"]


def test_delete_after_a_finished_word_edits_the_text():
    text = TextEntry()
    for c in "AB":
        text.commit(c)
    text.end_word()
    text.commit("space")  # a signed space after the word's own: a second space
    assert text.text == "AB  "
    for _ in range(3):
        text.commit("del")
    assert text.text == "A" and text.last is None and not text.undo()


class NearestHand:
    """Reads a hand as the letter whose template hand it lies nearest to (confidence 0.9)."""
    classes = CLASSES

    def __init__(self, templates: dict[str, np.ndarray]) -> None:
        self.templates = templates

    def predict_proba(self, landmarks: np.ndarray, right: np.ndarray) -> np.ndarray:
        return np.stack([proba(min(self.templates, key=lambda c: float(np.abs(lm - self.templates[c]).sum())))
                         for lm in landmarks])


def letter_hands(letters: str) -> dict[str, np.ndarray]:
    """A synthetic hand for each of `letters` (five at most), two folded fingers apart or more."""
    from conftest import synthetic_hand
    open_hand = synthetic_hand(np.random.default_rng(0))
    templates = {}
    for c, folded in zip(sorted(set(letters)), ((), (0, 1), (2, 3), (1, 4), (0, 2, 4))):
        hand = open_hand.copy()
        for finger in folded:  # folded halfway to the wrist
            hand[1 + 4 * finger:5 + 4 * finger] = hand[0] + (hand[1 + 4 * finger:5 + 4 * finger] - hand[0]) * 0.5
        templates[c] = hand
    return templates


def spell_hands(word: str, labels: list[str], seconds: float = LETTER_S, jitter: float = 0.0) -> str:
    """`word` as synthetic hands through process_hands, a cut between letters (as between photos),
    the frames' handedness labels taken from `labels` in turn; the letters committed."""
    rng = np.random.default_rng(0)
    templates = letter_hands(word)
    recogniser = live.Recogniser(None, NearestHand(templates), hold_s=HOLD_S, text=TextEntry())
    frame = 0
    for letter in word:
        for _ in range(round(seconds * FPS)):
            hand = templates[letter] + rng.normal(0, jitter, (21, 3)).astype(np.float32)
            recogniser.process_hands([keypoints.Hand(hand, labels[frame % len(labels)], 0.9)], frame * 1000 / FPS)
            frame += 1
    recogniser.finish()
    return recogniser.text.letters.strip()


def test_a_hand_read_as_the_other_hand_at_each_letter_still_spells_every_letter():
    """Photos saved part mirrored (or the landmarker's handedness flipping between letters): each
    letter's hand comes under the other label, and each is still a new sign."""
    per_letter = [label for label in ("Right", "Left") for _ in range(round(LETTER_S * FPS))]
    assert spell_hands("DANCE", per_letter) == "DANCE"


def test_a_still_hand_whose_handedness_flickers_is_one_letter():
    """The landmarker's handedness flickering on a held sign is not a movement: one letter."""
    assert spell_hands("A", ["Right"] * 3 + ["Left"] * 3, seconds=2.0, jitter=0.001) == "A"


def spell_scenes(scenes: list[tuple[int, list[tuple[str, str, float]]]]) -> str:
    """Frames of synthetic hands through process_hands: each scene is (frames, its hands), a hand
    (letter, handedness label, shift to the right in palm sizes), no hands: the landmarker found
    none; the letters committed."""
    templates = letter_hands("".join(c for _, hands in scenes for c, _, _ in hands))
    hand = next(iter(templates.values()))  # the first letter's: the open hand
    palm = float(np.linalg.norm(hand[5, :2] - hand[0, :2]))
    recogniser = live.Recogniser(None, NearestHand(templates), hold_s=HOLD_S, text=TextEntry())
    frame = 0
    for count, hands in scenes:
        for _ in range(count):
            recogniser.process_hands([keypoints.Hand(templates[c] + np.float32([shift * palm, 0, 0]), label, 0.9)
                                      for c, label, shift in hands], frame * 1000 / FPS)
            frame += 1
    recogniser.finish()
    return recogniser.text.letters.strip()


def test_a_hand_lost_for_a_frame_and_back_as_the_other_hand_is_a_new_sign():
    """The landmarker misses the hand for a frame as it changes letter and reads it as the other
    hand after: at the same place, or far off (more than relabel_palms away): each a new sign."""
    held = round(LETTER_S * FPS)
    for shift in (0.0, 2 * live.RELABEL_PALMS):
        assert spell_scenes([(held, [("A", "Right", 0.0)]), (1, []), (held, [("B", "Left", shift)])]) == "AB", shift


def test_a_sign_ends_when_its_hand_leaves_as_another_hand_is_read():
    """As the letter changes, one frame reads two hands: the signing hand far off (a glitch) and the
    new letter under the other label, which the frames after read alone: a new sign.  A second
    hand that comes into view while the first holds its sign adds no letter."""
    held = round(LETTER_S * FPS)
    glitch = [("A", "Left", 4 * live.RELABEL_PALMS), ("B", "Right", 0.0)]
    assert spell_scenes([(held, [("A", "Left", 0.0)]), (1, glitch), (held, [("B", "Right", 0.0)])]) == "AB"
    resting = [("C", "Right", 4 * live.RELABEL_PALMS), ("A", "Left", 0.0)]  # read first: it wins a tie
    assert spell_scenes([(held, [("A", "Left", 0.0)]), (held, resting)]) == "A"


def test_a_signing_hand_missed_for_a_frame_beside_a_resting_hand_is_one_letter():
    """Two hands in view, one resting far off: the landmarker misses the signing hand for a frame
    while it holds its sign; the sign goes on: one letter."""
    held = round(LETTER_S * FPS)
    both = [("A", "Left", 0.0), ("C", "Right", 4 * live.RELABEL_PALMS)]  # the signing hand read first
    assert spell_scenes([(held, both), (1, [("C", "Right", 4 * live.RELABEL_PALMS)]), (held, both)]) == "A"


class SmallFrameDetector:
    """VIDEO-mode stand-in for a camera of small frames: a frame's first pixel names the letter's
    hand (an index into `hands`) and how many pixels the camera's jitter shifts it to the right."""
    mode = "video"
    last_resort_confidence = None

    def __init__(self, hands: list[np.ndarray]) -> None:
        self.hands = hands

    def read(self, frame: np.ndarray, border: float = 0.0, timestamp_ms: int | None = None) -> list:
        letter, shift = int(frame[0, 0, 0]), int(frame[0, 0, 1])
        return [keypoints.Hand(self.hands[letter] + np.float32([shift / frame.shape[1], 0, 0]), "Right", 0.9)]


def test_a_hand_a_few_dozen_pixels_across_spells_through_the_cameras_jitter():
    """64-pixel frames (Kaggle's small photos): the hand's palm is about 8 pixels, and the camera's
    jitter of up to 2 pixels a frame, a quarter of it, is within the motion's noise floor, so each
    held sign still commits; the hand moving on between letters starts the next one."""
    from conftest import synthetic_hand
    rng = np.random.default_rng(0)
    open_hand = (synthetic_hand(rng) - 0.5) * 1.7 + 0.5
    templates, hands = {}, []
    for i, (c, folded) in enumerate(zip("ACDEN", ((), (0, 1), (2, 3), (1, 4), (0, 2, 4)))):
        hand = open_hand.copy()
        for finger in folded:  # folded halfway to the wrist
            hand[1 + 4 * finger:5 + 4 * finger] = hand[0] + (hand[1 + 4 * finger:5 + 4 * finger] - hand[0]) * 0.5
        hand[:, 0] += 6 * (i % 2) / 64  # each letter's photo has the hand in its own place
        templates[c] = hand
        hands.append(hand)
    recogniser = live.Recogniser(SmallFrameDetector(hands), NearestHand(templates), hold_s=HOLD_S, text=TextEntry())
    frame = 0
    for letter in "DANCE":
        for _ in range(round(LETTER_S * FPS)):
            rgb = np.zeros((64, 64, 3), np.uint8)
            rgb[0, 0] = ("ACDEN".index(letter), frame % 3, 0)
            recogniser.process(rgb, frame * 1000 / FPS)
            frame += 1
    recogniser.finish()
    assert recogniser.text.letters.strip() == "DANCE"
