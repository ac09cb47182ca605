"""J and Z from motion (classifiers/motion_letters.py): the shipped weights read a synthetic J as
J and a synthetic Z as Z, a still I as I (the letter model) and as no motion letter, a still hand
shaken by camera jitter as nothing; paths do not depend on the frame rate; weights that are
altered or made for other classes fail with one clear line; the page's twin
(web/motion_letters.js, run with node) computes the same as Python on the same streams."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, SHARED_DATA, needs_data, synthetic_hand

from classifiers import motion_evaluation
from classifiers import motion_letters as ml
from classifiers import motion_training as mt
from dataset import motion_paths
from dataset import motion_streams as ms

I_BITS, INDEX_BITS = 0b01111, 0b11101  # conftest.synthetic_hand: a set bit bends that finger (thumb first)


def hand_set(*pairs: tuple[str, np.ndarray]) -> motion_paths.HandSet:
    """A HandSet of (letter, hand) pairs, normalised as static_hands makes them."""
    lm = motion_paths.normalise(np.stack([hand for _, hand in pairs]))
    return motion_paths.HandSet(lm, np.array([letter for letter, _ in pairs]), np.array(["test"] * len(pairs)))


def synthetic_hands() -> motion_paths.HandSet:
    """An I hand (pinky out) and an index-finger hand (index out) made by conftest.synthetic_hand."""
    rng = np.random.default_rng(0)
    return hand_set(("I", synthetic_hand(rng, I_BITS)), ("D", synthetic_hand(rng, INDEX_BITS)))


def real_hands() -> motion_paths.HandSet:
    """tresajoby's static I and D hands (the first ten of each)."""
    folder = SHARED_DATA / "more-signers" / "tresajoby" / "static"
    return hand_set(*[(letter, hand) for letter in ("I", "D")
                      for hand in np.load(folder / f"{letter}.npy").reshape(-1, 21, 3)[:10]])


def still_stream(hand: np.ndarray, seconds: float, jitter: float, fps: float = 30.0,
                 seed: int = 0) -> ms.Stream:
    """A hand (image units) held still, each frame shaken by `jitter` x its size."""
    rng = np.random.default_rng(seed)
    times = np.arange(int(seconds * fps)) * 1000.0 / fps
    size = np.linalg.norm(hand[1:, :2] - hand[:1, :2], axis=1).mean()
    frames = hand[None] + rng.normal(0, jitter * size, (len(times), 21, 3))
    return ms.Stream(times, frames.astype(np.float32), "Right")


@pytest.fixture(scope="module")
def model() -> ml.MotionModel:
    return ml.MotionModel.load()


@needs_data
@pytest.mark.parametrize("letter", ["J", "Z"])
@pytest.mark.parametrize("fps", [15.0, 30.0])
def test_a_synthetic_motion_reads_its_letter(model, letter, fps):
    """Synthetic J and Z (motion_streams.motion_stream) traced by tresajoby's static I and D hands:
    nine in ten at least read right, none as the other letter."""
    hands = real_hands()
    found = [[m.letter for m in motion_evaluation.play(ml.MotionLetters(model), ms.motion_stream(
        hands, letter, np.random.default_rng(seed), fps, (0.5, 0.8)))] for seed in range(10)]
    assert sum(f == [letter] for f in found) >= 9, found
    assert not any(set(f) - {letter} for f in found), found


@needs_data
def test_a_report_says_when_the_motion_began(model):
    stream = ms.motion_stream(real_hands(), "J", np.random.default_rng(0), 30.0, (0.6, 0.6))
    (report,) = motion_evaluation.play(ml.MotionLetters(model), stream)
    _, start, end = stream.motions[0]
    assert start - 2 * model.settings.dt_ms <= report.start_ms <= start + 0.5 * (end - start)
    assert start < report.t_ms <= end + model.settings.window_ms


@needs_data
def test_a_motion_is_reported_only_while_the_hand_moves_and_a_held_back_one_is_not_used_up(model):
    """The same synthetic J: never reported on frames the live path says the hand is still; said
    to be still until the moment it would be reported, it is reported on the next frame instead."""
    stream = ms.motion_stream(real_hands(), "J", np.random.default_rng(0), 30.0, (0.6, 0.6))
    (report,) = motion_evaluation.play(ml.MotionLetters(model), stream)
    detector = ml.MotionLetters(model)
    assert not any(detector.update(float(t), lm, "Right", moving=False) for t, lm in zip(stream.times, stream.landmarks))
    detector.reset()
    found = [(t, detector.update(float(t), lm, "Right", moving=t > report.t_ms))
             for t, lm in zip(stream.times, stream.landmarks)]
    later = [(t, m.letter) for t, m in found if m is not None]
    assert later == [(stream.times[stream.times > report.t_ms][0], "J")]


@needs_data
def test_a_still_i_reads_i_and_no_motion_letter(model):
    from classifiers.classifier_base import default_class_mapping
    from classifiers.onnx_classifier import OnnxClassifier
    hand = real_hands().landmarks[0] * 0.1 + np.float32([0.5, 0.6, 0.0])
    stream = still_stream(hand, 3.0, 0.01)
    assert motion_evaluation.play(ml.MotionLetters(model), stream) == []
    weights = REPO / "keypoint_model_L_cnn_50.onnx"
    letters = OnnxClassifier(weights, default_class_mapping(weights))
    read = np.array(letters.classes)[letters.predict_proba(stream.landmarks, "Right").argmax(axis=1)]
    assert (read == "I").all()


@pytest.mark.parametrize("jitter", [0.005, 0.02])
def test_a_still_hand_with_camera_jitter_gives_nothing(model, jitter):
    for letter in (I_BITS, INDEX_BITS, 0b00000, 0b11111):
        hand = synthetic_hand(np.random.default_rng(letter), letter)
        assert motion_evaluation.play(ml.MotionLetters(model), still_stream(hand, 20.0, jitter, seed=letter)) == []


def test_the_path_does_not_depend_on_the_frame_rate():
    rng = np.random.default_rng(3)
    hands = synthetic_hands()
    key = motion_paths.synthetic_motion(hands.landmarks[0], "J", rng, 60) * 0.1 + np.float32([0.5, 0.5, 0.0])
    key_t = 600.0 + np.linspace(0, 600.0, len(key))
    windows = []
    for fps in (15.0, 60.0):
        times = np.arange(0, 2000.0, 1000.0 / fps)
        stream = ms.Stream(times, ms._at(key_t, key, times).astype(np.float32), "Right")
        features, at = mt.stream_windows(stream, ml.Settings())
        windows.append({round(float(t), 3): f for t, f in zip(at, features)})
    shared = [t for t in windows[0] if t in windows[1] and 1200.0 <= t <= 1600.0]  # the whole motion in the window
    assert len(shared) >= 3
    gap = max(np.abs(windows[0][t] - windows[1][t]).max() for t in shared)
    assert gap < 0.1


def test_a_left_hand_reads_as_its_mirror_image(model):
    stream = ms.motion_stream(synthetic_hands(), "Z", np.random.default_rng(1), 30.0, (0.6, 0.6))
    mirrored = ms.Stream(stream.times, stream.landmarks.copy(), "Left" if stream.handedness == "Right" else "Right")
    mirrored.landmarks[:, :, 0] = 1.0 - mirrored.landmarks[:, :, 0]
    a, b = (mt.stream_windows(s, model.settings)[0] for s in (stream, mirrored))
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_a_lost_hand_starts_a_new_path(model):
    path = ml.MotionPath(model.settings)
    hand = synthetic_hand(np.random.default_rng(0), I_BITS)
    assert path.observe(0.0, hand, "Right") and path.features is None  # one frame: no motion yet
    assert not path.observe(100.0, None, None) and path.gap_ms(100.0) == 100.0
    assert not path.observe(400.0, None, None) and path.gap_ms(400.0) == float("inf")


# ----------------------------------------------------------------------------- weights
def altered(tmp_path: Path, change) -> Path:
    """A copy of the shipped weights with `change(payload)` applied."""
    payload = json.loads(ml.MOTION_WEIGHTS.read_text())
    change(payload)
    out = tmp_path / "motion.json"
    out.write_text(json.dumps(payload))
    return out


def test_the_shipped_weights_load_and_say_how_they_were_made(model):
    assert model.sha256 == ml.content_sha256(json.loads(ml.MOTION_WEIGHTS.read_text()))
    about = json.loads(ml.MOTION_WEIGHTS.read_text())["about"]
    assert "train_motion.py" in about["command"] and "synthetic" in about


def test_altered_weights_fail_their_checksum(tmp_path):
    path = altered(tmp_path, lambda p: p["layers"][0]["bias"].__setitem__(0, 1.5))
    with pytest.raises(ml.MotionWeightsError, match="sha256"):
        ml.MotionModel.load(path)


def test_weights_for_other_classes_are_refused(tmp_path):
    def other_classes(p):
        p["classes"] = ["none", "J", "X"]
        p["sha256"] = ml.content_sha256(p)
    with pytest.raises(ml.MotionWeightsError, match=r"classes \['none', 'J', 'X'\]"):
        ml.MotionModel.load(altered(tmp_path, other_classes))


def test_missing_or_broken_weights_give_one_line(tmp_path):
    for path, text in ((tmp_path / "absent.json", None), (tmp_path / "broken.json", "{not json")):
        if text is not None:
            path.write_text(text)
        with pytest.raises(ml.MotionWeightsError) as err:
            ml.MotionModel.load(path)
        assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_saved_weights_round_trip(tmp_path):
    settings = ml.Settings()
    rng = np.random.default_rng(0)
    n = ml.inputs(settings)
    layers = [(rng.normal(size=(n, 4)), rng.normal(size=4)), (rng.normal(size=(4, 3)), rng.normal(size=3))]
    payload = ml.weights_payload(settings, rng.normal(size=n), rng.uniform(0.5, 2, n), layers, {"command": "test"})
    ml.save_weights(tmp_path / "w.json", payload)
    loaded = ml.MotionModel.load(tmp_path / "w.json")
    x = rng.normal(size=n)
    h = np.maximum(((x - loaded.mean) / loaded.std) @ loaded.layers[0][0] + loaded.layers[0][1], 0)
    np.testing.assert_allclose(loaded.logits(x), h @ loaded.layers[1][0] + loaded.layers[1][1], rtol=1e-9)


@needs_data
@pytest.mark.parametrize("case", ["no sequences", "no static hands", "unknown held-out signer"])
def test_train_motion_gives_one_line_for_bad_data(tmp_path, capsys, case):
    import train_motion
    tresajoby = str(SHARED_DATA / "more-signers" / "tresajoby" / "static")
    args = {"no sequences": ["--data", str(tmp_path), "--static", tresajoby],
            "no static hands": ["--data", str(SHARED_DATA), "--static", str(tmp_path / "absent")],
            "unknown held-out signer": ["--data", str(SHARED_DATA), "--static", tresajoby, "--eval-sources", "nobody"]}
    assert train_motion.main(args[case] + ["--weights", str(tmp_path / "w.json")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("train_motion.py: error: "), lines
    assert not (tmp_path / "w.json").exists()


# ----------------------------------------------------------------------------- the page's twin
NODE = shutil.which("node")
DRIVER = """
import { MotionLetters, MotionModel } from "./motion_letters.mjs";
import { readFileSync } from "node:fs";
const payload = JSON.parse(readFileSync(process.argv[2], "utf8"));
const streams = JSON.parse(readFileSync(process.argv[3], "utf8"));
const detector = new MotionLetters(new MotionModel(payload));
const out = streams.map((s) => {
  detector.reset();
  return s.times.map((t, k) => {
    const lm = s.landmarks[k];
    const report = detector.update(t, lm, lm === null ? null : s.handedness);
    return { proba: detector.proba, report };
  });
});
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_page_computes_what_python_computes(model, tmp_path):
    rng = np.random.default_rng(7)
    hands = synthetic_hands()
    made = [ms.motion_stream(hands, "J", rng, 30.0, (0.5, 0.8)), ms.motion_stream(hands, "Z", rng, 15.0, (0.6, 1.0)),
            ms.motion_stream(hands, "Z", rng, 30.0, (0.6, 1.0)), ms.motion_stream(hands, "Z", rng, 24.0, (0.6, 1.0)),
            ms.move_stream(hands, rng, 24.0), ms.letter_stream(hand_set(("A", synthetic_hand(rng, 31)),
                                                                        ("I", synthetic_hand(rng, I_BITS))), rng, 30.0)]
    for stream in made:
        stream.landmarks[5:8] = np.nan  # a hand lost for three frames
    (tmp_path / "motion_letters.mjs").write_text((REPO / "web" / "motion_letters.js").read_text())
    (tmp_path / "driver.mjs").write_text(DRIVER)
    data = [{"times": s.times.tolist(), "handedness": s.handedness,
             "landmarks": [None if np.isnan(lm).any() else lm.ravel().tolist() for lm in s.landmarks]} for s in made]
    (tmp_path / "streams.json").write_text(json.dumps(data))
    run = subprocess.run([NODE, "driver.mjs", str(ml.MOTION_WEIGHTS), "streams.json"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    page = json.loads(run.stdout)
    detector = ml.MotionLetters(model)
    compared = reports = 0
    for stream, frames in zip(made, page):
        detector.reset()
        for t, lm, js in zip(stream.times.tolist(), stream.landmarks, frames):
            seen = not np.isnan(lm).any()
            report = detector.update(t, lm if seen else None, stream.handedness if seen else None)
            if detector.proba is None:
                assert js["proba"] is None
            else:
                np.testing.assert_allclose(js["proba"], detector.proba, atol=1e-9)
                compared += 1
            if report is None:
                assert js["report"] is None
            else:
                reports += 1
                assert js["report"]["letter"] == report.letter
                assert js["report"]["startMs"] == pytest.approx(report.start_ms)
    assert compared > 20 and reports >= 1
