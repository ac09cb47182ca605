"""export.py, onnx_export.py and onnx_classifier.py: ONNX Runtime gives PyTorch's answers, without torch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from dataset import dataset_layout as layout
import evaluate
import export
from hand import keypoints
import model as model_lib
from classifiers import onnx_export
from classifiers.classifier import CheckpointError, TorchClassifier, load_classifier, read_class_mapping, write_class_mapping
from conftest import REPO, SHARED_DATA, needs_data
from realtime.adaptation import SignerAdapter
from classifiers.onnx_classifier import OnnxClassifier

CLASSES = layout.KAGGLE_CLASSES


def random_checkpoint(path: Path, temperature: float = 1.7) -> Path:
    """A checkpoint whose every weight and BatchNorm statistic is random (so the export's
    BatchNorm folding is really exercised), with a fitted-looking temperature."""
    torch.manual_seed(0)
    net = model_lib.build_model(len(CLASSES))
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if name.startswith("embedder."):
                continue  # keeps its own initialisation: random weights of this size would overflow its residual stream
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 2.0)
            elif tensor.is_floating_point():
                tensor.normal_(0, 0.3)
    model_lib.save_checkpoint(path, net, CLASSES, {}, {"temperature": temperature})
    write_class_mapping(path.with_name("class_mapping.txt"), CLASSES)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(.pth, .onnx) in one folder with their class_mapping.txt."""
    folder = tmp_path_factory.mktemp("export")
    weights = random_checkpoint(folder / "model.pth")
    assert export.main(["--weights", str(weights), "--out", str(folder / "model.onnx")]) == 0
    return weights, folder / "model.onnx"


def real_landmarks(limit: int = 600) -> np.ndarray:
    files = sorted((SHARED_DATA / "landmarks-boris").glob("*/*.npy"))[::7][:limit]
    return np.stack([np.load(f).astype(np.float32).reshape(21, 3) for f in files])


@needs_data
def test_onnx_matches_torch_on_real_keypoints(exported: tuple[Path, Path]) -> None:
    weights, onnx_path = exported
    lm = real_landmarks()
    left = np.arange(len(lm)) % 2 == 0  # both chiralities
    inputs = keypoints.model_inputs(lm, left)
    first = keypoints.ModelInputs(*(part[:1] for part in inputs))
    torch_clf, onnx_clf = TorchClassifier(weights), load_classifier(onnx_path)
    assert isinstance(onnx_clf, OnnxClassifier)
    np.testing.assert_allclose(onnx_clf.logits(inputs), torch_clf.logits(inputs), rtol=0, atol=1e-5)
    np.testing.assert_allclose(onnx_clf.logits(first), torch_clf.logits(first), rtol=0, atol=1e-5)
    # softmax moves a probability by at most 2 x the largest logit change / temperature, here about
    # 1e-5 (a 1e-6 bound held on one CPU and was missed by 1.2e-6 on another's float32 kernels)
    np.testing.assert_allclose(onnx_clf.predict_proba(lm, left), torch_clf.predict_proba(lm, left), rtol=0, atol=1e-5)


def test_hidden_layer_and_signer_adaptation_match_torch(exported: tuple[Path, Path]) -> None:
    """The export's second output (what main.py --adapt learns from) is PyTorch's hidden layer, and
    one adapter gives the same probabilities through either back-end."""
    weights, onnx_path = exported
    torch_clf, onnx_clf = TorchClassifier(weights), OnnxClassifier(onnx_path)
    assert [o.name for o in onnx_clf.session.get_outputs()] == ["logits", "hidden"]
    assert torch_clf.can_adapt and onnx_clf.can_adapt
    inputs = onnx_export.example_inputs(50, seed=3)
    for got, want in zip(onnx_clf.logits_and_hidden(inputs), torch_clf.logits_and_hidden(inputs)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    lm = np.random.default_rng(4).normal(size=(20, 21, 3)).astype(np.float32)
    scores = torch_clf.predict(lm, "Right")  # no adapter: nothing kept for it
    assert scores.hidden is None and scores.calibrated is None
    adapter = SignerAdapter(CLASSES)
    torch_clf.adapter = onnx_clf.adapter = adapter
    scores = torch_clf.predict(lm, "Right")
    adapter.learn(object(), "A" * 20, "A" * 20, list(zip(scores.calibrated, scores.hidden)), True)
    adapted = onnx_clf.predict(lm, "Right").proba
    np.testing.assert_allclose(adapted, torch_clf.predict(lm, "Right").proba, rtol=0, atol=1e-5)
    assert (adapted.argmax(1) == CLASSES.index("A")).mean() > (scores.proba.argmax(1) == CLASSES.index("A")).mean()


def test_metadata_and_dynamic_batch(exported: tuple[Path, Path]) -> None:
    _, onnx_path = exported
    meta = {p.key: p.value for p in onnx.load(onnx_path).metadata_props}
    assert json.loads(meta["classes"]) == CLASSES
    assert meta["feature_version"] == str(keypoints.FEATURE_VERSION)
    assert float(meta["temperature"]) == pytest.approx(1.7)
    clf = OnnxClassifier(onnx_path)
    assert clf.classes == CLASSES and clf.temperature == pytest.approx(1.7)
    assert [i.name for i in clf.session.get_inputs()] == list(keypoints.MODEL_INPUT_NAMES)  # the fused default
    for n in (1, 7, 300):
        assert clf.logits(onnx_export.example_inputs(n, seed=n)).shape == (n, len(CLASSES))


def test_export_writes_class_mapping_and_refuses_a_conflicting_one(exported: tuple[Path, Path],
                                                                    tmp_path: Path) -> None:
    weights, _ = exported
    assert export.main(["--weights", str(weights), "--out", str(tmp_path / "new" / "m.onnx")]) == 0
    assert read_class_mapping(tmp_path / "new" / "class_mapping.txt") == CLASSES
    write_class_mapping(tmp_path / "class_mapping.txt", CLASSES[::-1])
    with pytest.raises(CheckpointError, match="other classes"):
        onnx_export.export(weights, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_onnx_classifier_does_not_import_torch(exported: tuple[Path, Path]) -> None:
    _, onnx_path = exported
    code = (f"import sys; sys.path.insert(0, {str(REPO)!r}); import numpy as np\n"
            f"from classifiers.classifier import load_classifier\n"
            f"clf = load_classifier({str(onnx_path)!r})\n"
            f"hand = np.random.default_rng(0).uniform(0.3, 0.7, (21, 3))\n"
            f"assert clf.predict_proba(hand, 'Right').shape == (1, {len(CLASSES)})\n"
            f"assert 'torch' not in sys.modules, 'torch was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _with_metadata(source: Path, target: Path, **changes: str) -> Path:
    proto = onnx.load(source)
    meta = {p.key: p.value for p in proto.metadata_props}
    meta.update(changes)
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {k: v for k, v in meta.items() if v is not None})
    onnx.save(proto, target)
    return target


def test_mismatch_errors(exported: tuple[Path, Path], tmp_path: Path) -> None:
    _, onnx_path = exported
    cases = {
        "feature version": _with_metadata(onnx_path, tmp_path / "version.onnx", feature_version="99"),
        "not an ASL_Recognition export": _with_metadata(onnx_path, tmp_path / "plain.onnx", classes=None),
        "metadata lists": _with_metadata(onnx_path, tmp_path / "short.onnx", classes=json.dumps(CLASSES[:5])),
        "not found": tmp_path / "missing.onnx",
    }
    (tmp_path / "garbage.onnx").write_bytes(b"not a model")
    cases["not a readable ONNX model"] = tmp_path / "garbage.onnx"
    for message, path in cases.items():
        with pytest.raises(CheckpointError, match=message) as err:
            OnnxClassifier(path)
        assert "\n" not in str(err.value)
    mapping = tmp_path / "class_mapping.txt"
    write_class_mapping(mapping, CLASSES[:-1] + ["blank"])
    with pytest.raises(CheckpointError, match=r"classes do not match .*blank"):
        load_classifier(onnx_path, mapping)
    write_class_mapping(mapping, CLASSES[::-1])
    with pytest.raises(CheckpointError, match="another order"):
        OnnxClassifier(onnx_path, mapping)


@needs_data
def test_evaluate_onnx_matches_pth(exported: tuple[Path, Path], tmp_path: Path) -> None:
    weights, onnx_path = exported
    images = tmp_path / "images" / "t32rahman"
    for letter in "ABLY":
        folder = images / letter
        folder.mkdir(parents=True)
        for path in sorted((SHARED_DATA / "more-signers" / "t32rahman" / letter).glob("*.jpg"))[:2]:
            os.symlink(path, folder / path.name)
    results = []
    for w in (weights, onnx_path):
        out = tmp_path / f"{w.suffix[1:]}.json"
        assert evaluate.main([str(tmp_path / "images"), "--weights", str(w), "--workers", "1",
                              "--json", str(out)]) == 0
        results.append(json.loads(out.read_text()))
    pth, onx = results
    assert pth["images"] == onx["images"] == 8
    for key in ("accuracy", "hands_found", "confusion", "per_class", "top_confusions"):
        assert pth[key] == onx[key], key
