"""personalize.py: fine-tuning on a signer's samples, both input layouts, refusals, real photos."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hand import keypoints
import model as model_lib
import personalize
from classifiers import personal_tuning
import train
from conftest import REPO, SHARED_DATA, WEIGHTS, needs_data, synthetic_hand
from realtime.run_outputs import Recorder

LETTERS = {"A": 3, "B": 10, "C": 17}  # the `letter` codes of the keypoint_dataset fixture


@pytest.fixture
def base_weights(keypoint_dataset: Path, tmp_path: Path) -> Path:
    """A quickly trained base checkpoint on the synthetic 3-class fixture."""
    weights = tmp_path / "base" / "model.pth"
    assert train.main(["--data", str(keypoint_dataset), "--epochs", "15", "--batch-size", "32",
                       "--weights", str(weights)]) == 0
    return weights


def write_samples(folder: Path, letters: dict[str, int], n: int, seed: int = 5) -> Path:
    """Plain class folders of synthetic landmark .npy files."""
    rng = np.random.default_rng(seed)
    for name, code in letters.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            np.save(folder / name / f"mine{i}.npy", synthetic_hand(rng, code))
    return folder


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    """personalize.main in-process (landmark files only: no detector); exit code and stderr."""
    code = personalize.main(args)
    return code, capsys.readouterr().err


def test_personalise_plain_folders(base_weights, keypoint_dataset, tmp_path, capsys):
    samples = write_samples(tmp_path / "mine", {"A": 3, "B": 10}, 4)
    (samples / "notes").mkdir()
    write_samples(samples, {"D": 5}, 2)  # a letter the base model does not know
    out = tmp_path / "personal" / "mine.pth"
    code, err = run_cli([str(samples), "--weights", str(base_weights), "--out", str(out), "--shots", "3",
                         "--epochs", "3", "--base-data", str(keypoint_dataset)], capsys)
    assert code == 0, err
    assert "skipped folder notes" in err and "skipped folder D" in err
    net, payload = model_lib.load_checkpoint(out, out.with_name("class_mapping.txt"))
    base = model_lib.load_checkpoint(base_weights)[1]
    assert payload["classes"] == base["classes"] == ["A", "B", "C"]
    assert payload["model_config"] == base["model_config"]
    assert payload["meta"]["temperature"] == base["meta"]["temperature"]
    info = payload["meta"]["personalized"]
    assert info["samples"] == 6 and info["samples_per_class"] == {"A": 3, "B": 3} and info["shots"] == 3
    assert info["replay_samples"] == 3 * 40
    hands = np.stack([synthetic_hand(np.random.default_rng(9), code) for code in LETTERS.values()])
    with_model = personal_tuning.accuracy(net, personal_tuning.Samples(hands, np.zeros(3, bool), np.zeros(3, bool),
                                                                       np.arange(3)), np.ones(3, bool))
    assert with_model == 1.0  # C, without samples, keeps the base behaviour


def test_personalise_recorded_layout(base_weights, tmp_path, capsys):
    rng = np.random.default_rng(3)
    for name, code in LETTERS.items():
        recorder = Recorder(tmp_path / "rec", name, interval_ms=0)
        for t in range(3):
            assert recorder.offer([keypoints.Hand(keypoints.mirror_landmarks(synthetic_hand(rng, code)), "Left", 0.9)],
                                  float(t))
    out = tmp_path / "rec_model.pth"
    code, err = run_cli([str(tmp_path / "rec"), "--weights", str(base_weights), "--out", str(out), "--epochs", "2"],
                        capsys)
    assert code == 0, err
    assert model_lib.load_checkpoint(out)[1]["meta"]["personalized"]["samples_per_class"] == {"A": 3, "B": 3, "C": 3}
    assert personalize.read_samples(tmp_path / "rec", ["A", "B", "C"], 0, 0, 1, None)[0].left.all()


def test_a_letter_signed_the_own_way_is_learnt(base_weights, keypoint_dataset, tmp_path, capsys):
    """The signer's A looks like everyone else's B: after personalising on 5 of each, their A reads A,
    their B still B, and C (not recorded) still C."""
    own_a = 14  # one finger from the fixture's B (10), three from its A (3)
    samples = tmp_path / "mine"
    write_samples(samples, {"A": own_a, "B": LETTERS["B"]}, 5)
    rng = np.random.default_rng(11)
    fresh = {name: np.stack([synthetic_hand(rng, code) for _ in range(10)])
             for name, code in (("A", own_a), ("B", LETTERS["B"]), ("C", LETTERS["C"]))}
    base = model_lib.load_checkpoint(base_weights)[0]
    def reads(net: torch.nn.Module, name: str) -> float:
        hands = fresh[name]
        label = np.full(len(hands), ["A", "B", "C"].index(name))
        return personal_tuning.accuracy(net, personal_tuning.Samples(hands, np.ones(len(hands), np.float32),
                                                                     np.zeros(len(hands), bool), label),
                                        np.ones(len(hands), bool))
    assert reads(base, "A") == 0.0  # the base model reads this A as another letter
    out = tmp_path / "mine.pth"
    code = personalize.main([str(samples), "--weights", str(base_weights), "--out", str(out),
                             "--base-data", str(keypoint_dataset)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    net, payload = model_lib.load_checkpoint(out)
    assert (reads(net, "A"), reads(net, "B"), reads(net, "C")) == (1.0, 1.0, 1.0)
    # what the signer is told: their A was misread by the base model and is learnt now
    assert printed.out.splitlines()[-1] == "your own samples read right: 5/10 with the base model, 10/10 personalised"
    assert payload["meta"]["personalized"]["own_samples_right"] == {"base": 5, "personalised": 10, "samples": 10}


def test_a_letter_not_learnt_is_named(base_weights, tmp_path, capsys):
    """Samples the fine-tuning cannot fit (the same hands under two letters) are named, with what
    they still read as."""
    samples = tmp_path / "mine"
    write_samples(samples, {"A": LETTERS["A"], "B": LETTERS["B"]}, 4)
    write_samples(samples / "C", {"": LETTERS["B"]}, 4, seed=6)  # this signer's C: their B again
    out = tmp_path / "mine.pth"
    assert personalize.main([str(samples), "--weights", str(base_weights), "--out", str(out), "--epochs", "5"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert "; still read as another letter: " in last and "mostly as " in last, last


@pytest.mark.parametrize("case", ["missing", "one_class", "no_hands", "bad_weights"])
def test_refusals(case, base_weights, tmp_path, capsys):
    samples, weights = tmp_path / "mine", base_weights
    if case == "one_class":
        write_samples(samples, {"A": 3}, 3)
    elif case == "no_hands":
        for name in ("A", "B"):
            (samples / name).mkdir(parents=True)
            np.save(samples / name / "flat.npy", np.zeros((21, 3), np.float32))
            (samples / name / "empty.npy").write_bytes(b"")
    elif case == "bad_weights":
        write_samples(samples, {"A": 3, "B": 10}, 2)
        weights = tmp_path / "bad.pth"
        weights.write_bytes(b"not a checkpoint")
    out = tmp_path / "out.pth"
    code, err = run_cli([str(samples), "--weights", str(weights), "--out", str(out)], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("personalize.py: error:"), err
    assert not out.exists()


def test_pick_is_seeded_and_capped():
    labels = ["A"] * 5 + ["B"] * 2
    first = personalize.pick(labels, 3, seed=1)
    assert list(first) == list(personalize.pick(labels, 3, seed=1))
    assert sorted(labels[i] for i in first) == ["A", "A", "A", "B", "B"]
    assert len(personalize.pick(labels, 0, seed=1)) == 7


def test_measure_on_synthetic_signers(tmp_path, capsys):
    rng = np.random.default_rng(2)
    data = tmp_path / "data"
    for split, n in (("train", 20), ("valid", 5), ("test", 5)):
        for name, code in LETTERS.items():
            (data / split / name).mkdir(parents=True)
            for source in ("crowd", "signer"):
                for i in range(n):
                    np.save(data / split / name / f"{source}__{name}{i}.jpg.npy", synthetic_hand(rng, code))
    base = tmp_path / "base.pth"
    assert train.main(["--data", str(data), "--epochs", "2", "--weights", str(base)]) == 0
    out = tmp_path / "measure.json"
    code = personalize.main(["--measure", "--base-data", str(data), "--weights", str(base), "--measure-sources",
                             "signer", "--measure-shots", "2", "--base-epochs", "5", "--epochs", "2",
                             "--work", str(tmp_path / "work"), "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    row = json.loads(out.read_text())["results"]["signer"]["K=2"]
    assert row["enrolled"] == 3 * 2 and row["scored"] == 3 * 30 - 6
    assert 0 <= row["signer_after"] <= 1 and 0 <= row["base_test_after"] <= 1
    assert (tmp_path / "work" / "signer" / "model.pth").is_file()
    assert personalize.main(["--measure", "--base-data", str(data), "--weights", str(base),
                             "--measure-sources", "nobody"]) == 2


def run_subprocess(args: list[str]) -> subprocess.CompletedProcess:
    """personalize.py in its own process (the hand detector redirects file descriptor 2)."""
    return subprocess.run([sys.executable, str(REPO / "personalize.py"), *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO)


@needs_data
def test_real_photos_end_to_end(tmp_path):
    source = SHARED_DATA / "more-signers" / "t32rahman"
    for letter in ("A", "B", "L"):
        (tmp_path / "mine" / letter).mkdir(parents=True)
        for photo in sorted((source / letter).glob("*.jpg"))[:2]:
            shutil.copy(photo, tmp_path / "mine" / letter)
    out = tmp_path / "personal" / "mine.pth"
    done = run_subprocess([str(tmp_path / "mine"), "--weights", str(WEIGHTS), "--out", str(out), "--epochs", "5"])
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    payload = model_lib.load_checkpoint(out, out.with_name("class_mapping.txt"))[1]
    assert payload["classes"] == model_lib.load_checkpoint(WEIGHTS)[1]["classes"]
    assert payload["meta"]["personalized"]["photos"] == 6 and payload["meta"]["personalized"]["hands"] >= 5


@needs_data
def test_photos_without_hands_are_refused(tmp_path):
    import cv2
    for letter in ("A", "B"):
        (tmp_path / "mine" / letter).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "mine" / letter / "wall.png"), np.full((96, 96, 3), 200, np.uint8))
    done = run_subprocess([str(tmp_path / "mine"), "--weights", str(WEIGHTS), "--out", str(tmp_path / "x.pth")])
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("personalize.py: error:")]
    assert len(lines) == 1 and "no usable hands" in lines[0] and "Traceback" not in done.stderr
