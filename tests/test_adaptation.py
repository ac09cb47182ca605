"""adaptation.py through the live path: a signer whose R the model reads as L.  Once the lexicon
has put one such word right, the model reads their R as R (RED stays RED, where the misread LED is
a word the lexicon would keep), their L stays L, and words nobody confirmed teach nothing.

The classifier is a real `classifier_base.Classifier` whose network is a lookup table: each hand
shape has fixed logits and a fixed hidden layer, so the adapter's correction is applied exactly as
for a real model."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import synthetic_hand

from hand import keypoints
from realtime import recogniser as live
from realtime.adaptation import SignerAdapter
from realtime.jsonl_records import frame_record
from classifiers.classifier_base import Classifier, CheckpointError
from dataset.dataset_layout import KAGGLE_CLASSES
from spelling.lexicon import Lexicon
from spelling.text_entry import TextEntry
from spelling.word_decoder import WordDecoder

CLASSES = KAGGLE_CLASSES
FPS = 15
LETTER_S = 0.8
HIDDEN = 64


class Shapes:
    """Hand shapes of one signer: landmarks, and the logits and hidden layer the 'model' gives them."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)
        self.landmarks: dict[str, np.ndarray] = {}
        self.table: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def add(self, name: str, reads: dict[str, float]) -> None:
        """Shape `name`, read with these logits (the rest at 0) and a hidden layer of its own."""
        lm = synthetic_hand(self.rng, len(self.landmarks)).astype(np.float32)
        lm[:, 0] += 0.03 * len(self.landmarks)  # each shape where the hand is for it: signs are apart
        logits = np.zeros(len(CLASSES), np.float32)
        for cls, value in reads.items():
            logits[CLASSES.index(cls)] = value
        self.landmarks[name] = lm
        self.table[self.key(keypoints.model_inputs(lm[None], np.ones(1, np.float32)), 0)] = (
            logits, np.abs(self.rng.normal(size=HIDDEN)).astype(np.float32))

    @staticmethod
    def key(inputs: keypoints.ModelInputs, i: int) -> bytes:
        return np.round(inputs.hand[i], 4).tobytes()


class TableClassifier(Classifier):
    """Logits and hidden layer looked up per hand shape (`Shapes`)."""
    can_adapt = True

    def __init__(self, shapes: Shapes) -> None:
        super().__init__(list(CLASSES), temperature=1.0)
        self.shapes = shapes

    def logits_and_hidden(self, inputs: keypoints.ModelInputs) -> tuple[np.ndarray, np.ndarray]:
        rows = [self.shapes.table[Shapes.key(inputs, i)] for i in range(len(inputs.hand))]
        return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])

    def logits(self, inputs: keypoints.ModelInputs) -> np.ndarray:
        return self.logits_and_hidden(inputs)[0]


class ShapeDetector:
    """VIDEO-mode stand-in: a frame is a shape name (or None: no hand)."""
    mode = "video"
    last_resort_confidence = None

    def __init__(self, shapes: Shapes) -> None:
        self.shapes = shapes

    def read(self, frame: str | None, border: float = 0.0, timestamp_ms: int | None = None) -> list:
        return [] if frame is None else [keypoints.Hand(self.shapes.landmarks[frame], "Right", 0.9)]


@pytest.fixture()
def shapes() -> Shapes:
    s = Shapes()
    for letter in "WATEDHOS":
        s.add(letter, {letter: 8.0})
    s.add("L", {"L": 8.0})
    s.add("my R", {"L": 6.0, "R": 5.0})  # this signer's R: read as L, R a close second
    return s


def spelled(*words: list[str]) -> list[str | None]:
    """Frames: each shape of each word held LETTER_S, then a second with no hand."""
    frames: list[str | None] = [None] * FPS
    for word in words:
        for shape in word:
            frames += [shape] * round(LETTER_S * FPS)
        frames += [None] * FPS
    return frames


def play(shapes: Shapes, frames: list[str | None], adapt: bool, lexicon: Lexicon) -> live.Recogniser:
    recogniser = live.Recogniser(ShapeDetector(shapes), TableClassifier(shapes), hold_s=0.3,
                                 text=TextEntry(WordDecoder(lexicon, CLASSES)), adapt=adapt,
                                 motion_floor_px=0.0)  # the frames are names of shapes, no pictures
    return play_on(recogniser, frames, 0)


def play_on(recogniser: live.Recogniser, frames: list[str | None], start: int) -> live.Recogniser:
    """Feed `frames` as frames number `start`, `start` + 1, ... of the stream."""
    for i, frame in enumerate(frames, start):
        recogniser.process(frame, i * 1000 / FPS)
    return recogniser


def adapted(recogniser: live.Recogniser, t_ms: float) -> int | None:
    """What main.py's JSONL line for a frame (no hand) at `t_ms` says adaptation has learnt from."""
    return json.loads(frame_record(0, t_ms, recogniser.process(None, t_ms)))["adapted"]


@pytest.fixture(scope="module")
def english() -> Lexicon:
    return Lexicon.english()


def test_a_letter_the_lexicon_put_right_is_read_right_the_next_time(shapes: Shapes, english: Lexicon):
    water, red, hold = list("WATE") + ["my R"], ["my R", "E", "D"], ["H", "O", "L", "D"]
    assert play(shapes, spelled(water, red, hold), False, english).text.text == "WATER LED HOLD "
    adapted = play(shapes, spelled(water, red, hold), True, english)
    assert adapted.text.text == "WATER RED HOLD "  # and this signer's real L is still an L
    assert adapted.text.letters == "WATEL RED HOLD "
    assert adapted.adapter.samples == 5 + 3 + 4


def test_a_new_signer_starts_from_the_model_and_the_jsonl_says_what_was_learnt(shapes: Shapes, english: Lexicon):
    """Key n (Recogniser.new_signer): after someone else has taught the model their R, the next
    person's L-like R is read as the model reads it; the JSONL's "adapted" counts the letters."""
    water, red = spelled(list("WATE") + ["my R"]), spelled(["my R", "E", "D"])
    r = play(shapes, water, True, english)
    assert r.text.text == "WATER " and adapted(r, len(water) * 1000 / FPS) == 5
    r.new_signer()
    assert adapted(r, (len(water) + 1) * 1000 / FPS) == 0
    assert play_on(r, red, len(water) + 2).text.text == "WATER LED "
    assert adapted(play(shapes, water, False, english), 10_000) is None


def test_words_nobody_confirmed_teach_nothing(shapes: Shapes, english: Lexicon):
    """A name the lexicon does not know (its letters are not confirmed), and an undone correction
    taken back before the next word: the model reads this signer's R as before."""
    unknown = play(shapes, spelled(["H", "E", "D", "W", "A", "my R", "T", "H"]), True, english.without(["HEDWARTH"]))
    assert unknown.text.text == "HEDWALTH " and unknown.adapter.samples == 0
    r = play(shapes, spelled(list("WATE") + ["my R"]), True, english)
    assert r.text.undo() and r.text.text == "WATEL "  # the user keeps the letters as committed: L it was
    probs = r.classifier.predict_proba(shapes.landmarks["my R"], "Right")[0]
    assert CLASSES[int(np.argmax(probs))] == "L"


def test_adapter_keeps_the_most_recent_words_and_can_start_over():
    adapter = SignerAdapter(CLASSES, max_samples=6)
    rng = np.random.default_rng(1)
    sample = (np.zeros(len(CLASSES), np.float32), np.abs(rng.normal(size=HIDDEN)).astype(np.float32))
    words = [object() for _ in range(3)]
    for word in words:
        adapter.learn(word, "CAT", "CAT", [sample] * 3, True)
    assert adapter.samples == 6  # the first word was forgotten
    adapter.learn(words[-1], "CAT", "CAT", [sample] * 3, False)  # the last word no longer confirmed
    assert adapter.samples == 3
    adapter.learn(object(), "CATS", "CAT", [sample] * 3, True)  # a missed letter: no position to label
    assert adapter.samples == 3
    assert np.argmax(adapter.correction(sample[1][None])[0]) in [CLASSES.index(c) for c in "CAT"]


def test_a_model_without_a_hidden_output_cannot_adapt(shapes: Shapes, english: Lexicon):
    plain = TableClassifier(shapes)
    plain.can_adapt = False
    with pytest.raises(CheckpointError, match="export it again"):
        live.Recogniser(ShapeDetector(shapes), plain, adapt=True)


def export_without_hidden(folder) -> str:
    """The shipped ONNX export with its hidden-layer output removed: an export from before --adapt."""
    import onnx
    from conftest import REPO
    proto = onnx.load(REPO / "keypoint_model_L_cnn_50.onnx")
    kept = [o for o in proto.graph.output if o.name != "hidden"]
    del proto.graph.output[:]
    proto.graph.output.extend(kept)
    path = folder / "old.onnx"
    onnx.save(proto, path)
    (folder / "class_mapping.txt").write_text((REPO / "class_mapping.txt").read_text())
    return str(path)


def test_main_and_web_refuse_adapt_with_an_older_export_in_one_line(tmp_path):
    import subprocess
    import sys

    from serving import web_server
    from conftest import REPO
    old = export_without_hidden(tmp_path)
    photo = tmp_path / "A.png"
    import cv2
    cv2.imwrite(str(photo), np.full((64, 64, 3), 127, np.uint8))
    run = subprocess.run([sys.executable, str(REPO / "main.py"), "--source", str(photo), "--no-display",
                          "--weights", old, "--adapt"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stderr.strip().count("\n") == 0 and "export it again" in run.stderr
    ok = subprocess.run([sys.executable, str(REPO / "main.py"), "--source", str(photo), "--no-display",
                         "--weights", old, "--no-adapt"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    with pytest.raises(web_server.StartupError, match="export it again"):
        web_server.App(old, lexicon="none", settings=web_server.Settings(adapt=True))
