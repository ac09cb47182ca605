"""The model users run is the ONNX export: it records its checkpoint's sha256, a .pth of the same
stem beside it that does not match is refused in one line, train.py and personalize.py write it
beside their checkpoint, and main.py and evaluate.py run the shipped one by default."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch

import evaluate
import export
import main
import model as model_lib
import personalize
import train
from classifiers.classifier import CheckpointError, TorchClassifier, load_classifier, write_class_mapping
from conftest import REPO, WEIGHTS, synthetic_hand
from classifiers.onnx_classifier import CHECKPOINT_SHA256, OnnxClassifier

CLASSES = ["A", "B", "C"]
LETTERS = {"A": 3, "B": 10, "C": 17}  # the `letter` codes of the keypoint_dataset fixture
ENV = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}


def checkpoint(path: Path, seed: int) -> Path:
    """A random-weight 3-class checkpoint with its class_mapping.txt."""
    torch.manual_seed(seed)
    model_lib.save_checkpoint(path, model_lib.build_model(len(CLASSES)), CLASSES, {})
    write_class_mapping(path.with_name("class_mapping.txt"), CLASSES)
    return path


def metadata(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(path).metadata_props}


def hands(n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic hands of the three letters and alternating handedness."""
    rng = np.random.default_rng(1)
    codes = list(LETTERS.values())
    return (np.stack([synthetic_hand(rng, codes[i % 3]) for i in range(n)]),
            np.arange(n) % 2 == 0)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """m.pth and, beside it, m.onnx written by export.py's default output."""
    weights = checkpoint(tmp_path_factory.mktemp("exported") / "m.pth", seed=0)
    assert export.main(["--weights", str(weights)]) == 0
    return weights.with_suffix(".onnx")


def test_export_records_the_checkpoint_sha256(exported: Path) -> None:
    weights = exported.with_suffix(".pth")
    assert metadata(exported)[CHECKPOINT_SHA256] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert isinstance(load_classifier(exported), OnnxClassifier)


@pytest.mark.parametrize("change", ["retrained", "tampered", "old export"])
def test_a_pth_beside_that_does_not_match_is_refused(exported: Path, tmp_path: Path, change: str) -> None:
    onnx_path, weights = tmp_path / "m.onnx", tmp_path / "m.pth"
    proto = onnx.load(exported)
    if change == "old export":  # written before the sha256 was recorded
        kept = {p.key: p.value for p in proto.metadata_props if p.key != CHECKPOINT_SHA256}
        del proto.metadata_props[:]
        onnx.helper.set_model_props(proto, kept)
    onnx.save(proto, onnx_path)
    original = exported.with_suffix(".pth").read_bytes()
    if change == "retrained":
        checkpoint(weights, seed=1)
    else:
        weights.write_bytes(original + b"\0" if change == "tampered" else original)
    with pytest.raises(CheckpointError) as err:
        load_classifier(onnx_path)
    message = str(err.value)
    assert "\n" not in message and message.endswith(f"; run: python export.py --weights {weights}")
    expected = ("records no checkpoint sha256" if change == "old export"
                else "was exported from another checkpoint than m.pth beside it")
    assert message.startswith(f"{onnx_path} {expected}")


def test_an_onnx_without_its_pth_loads_as_before(exported: Path, tmp_path: Path) -> None:
    alone = tmp_path / "m.onnx"
    alone.write_bytes(exported.read_bytes())
    lm, left = hands()
    np.testing.assert_allclose(load_classifier(alone).predict_proba(lm, left),
                               load_classifier(exported).predict_proba(lm, left), atol=1e-6)


def test_main_and_evaluate_refuse_it_in_one_line(exported: Path, tmp_path: Path, capsys) -> None:
    onnx_path, weights = tmp_path / "m.onnx", tmp_path / "m.pth"
    onnx_path.write_bytes(exported.read_bytes())
    checkpoint(weights, seed=2)
    photo = tmp_path / "plain.png"
    cv2.imwrite(str(photo), np.full((64, 64, 3), 128, np.uint8))
    done = subprocess.run([sys.executable, str(REPO / "main.py"), "--weights", str(onnx_path), "--source", str(photo),
                           "--no-display"], capture_output=True, text=True, timeout=120, cwd=REPO, env=ENV)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [f"error: {onnx_path} was exported from another checkpoint than m.pth beside it; "
                     f"run: python export.py --weights {weights}"], done.stderr
    assert evaluate.main([str(tmp_path), "--weights", str(onnx_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "was exported from another checkpoint" in err[0]


def test_train_and_personalize_write_the_export_beside(keypoint_dataset: Path, tmp_path: Path, capsys) -> None:
    torch.set_num_threads(1)
    weights = tmp_path / "run" / "m.pth"
    assert train.main(["--data", str(keypoint_dataset), "--weights", str(weights), "--epochs", "2",
                       "--batch-size", "32"]) == 0
    assert f"wrote {weights.with_suffix('.onnx')}" in capsys.readouterr().out.strip().splitlines()[-1]
    samples = tmp_path / "mine"
    rng = np.random.default_rng(5)
    for name, code in LETTERS.items():
        (samples / name).mkdir(parents=True)
        for i in range(3):
            np.save(samples / name / f"mine{i}.npy", synthetic_hand(rng, code))
    mine = tmp_path / "personal" / "mine.pth"
    assert personalize.main([str(samples), "--weights", str(weights), "--out", str(mine), "--epochs", "1"]) == 0
    assert f"its ONNX export {mine.with_suffix('.onnx')}" in capsys.readouterr().out
    lm, left = hands()
    for pth in (weights, mine):
        onnx_clf = load_classifier(pth.with_suffix(".onnx"))  # checked against the .pth beside it
        assert isinstance(onnx_clf, OnnxClassifier) and onnx_clf.classes == CLASSES
        np.testing.assert_allclose(onnx_clf.predict_proba(lm, left), TorchClassifier(pth).predict_proba(lm, left),
                                   atol=1e-5)


def test_train_refuses_an_onnx_checkpoint_name(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        train.main(["--weights", str(tmp_path / "m.onnx")])
    assert exit_.value.code == 2 and "its .onnx export is written beside it" in capsys.readouterr().err


def test_main_and_evaluate_run_the_shipped_export_by_default() -> None:
    default = Path(main.WEIGHTS)
    assert default == REPO / "keypoint_model_L_cnn_50.onnx" and default.is_file()
    assert Path(evaluate.WEIGHTS) == default
    clf = main.load_weights(main.WEIGHTS)  # also checks it was exported from the shipped .pth
    assert isinstance(clf, OnnxClassifier)
    lm, left = hands()
    np.testing.assert_allclose(clf.predict_proba(lm, left), TorchClassifier(WEIGHTS).predict_proba(lm, left),
                               atol=1e-5)
