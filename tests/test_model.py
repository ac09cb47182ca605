"""The 1D CNN and its checkpoint: shapes, size, round trip, and every mismatch -> CheckpointError."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hand import keypoints
import model as model_lib
from classifiers.classifier import CheckpointError, load_classifier, read_class_mapping, write_class_mapping
from conftest import synthetic_hand

CLASSES = ["A", "B", "C", "del"]


def saved(tmp_path, classes=CLASSES, seed=0):
    torch.manual_seed(seed)
    net = model_lib.build_model(len(classes))
    weights = tmp_path / "w.pth"
    model_lib.save_checkpoint(weights, net, classes, dict(model_lib.DEFAULT_CONFIG), {"note": "test"})
    write_class_mapping(tmp_path / "class_mapping.txt", classes)
    return net.eval(), weights


def sample_inputs(n=8):
    rng = np.random.default_rng(1)
    lm = np.stack([synthetic_hand(rng, i) for i in range(n)])
    inputs = keypoints.model_inputs(lm, ["Left", "Right"] * (n // 2))
    return tuple(torch.from_numpy(part) for part in inputs), lm


@pytest.mark.parametrize("inputs", model_lib.INPUTS)
def test_shapes_and_size(inputs):
    net = model_lib.build_model(29, {"inputs": inputs}).eval()
    x, _ = sample_inputs()
    with torch.no_grad():
        out = net(*x)
        assert out.shape == (8, 29)
        assert net(*(part[:1] for part in x)).shape == (1, 29)
    model_lib.freeze_embedder(net)
    assert model_lib.count_parameters(net) < 100_000  # what is trained besides the pretrained embedder


def test_checkpoint_round_trip(tmp_path):
    net, weights = saved(tmp_path)
    loaded, payload = model_lib.load_checkpoint(weights, tmp_path / "class_mapping.txt")
    assert payload["classes"] == CLASSES and payload["feature_version"] == keypoints.FEATURE_VERSION
    assert payload["meta"] == {"note": "test"}
    assert not loaded.training
    x, lm = sample_inputs()
    with torch.no_grad():
        torch.testing.assert_close(loaded(*x), net(*x), rtol=0, atol=0)
    assert read_class_mapping(tmp_path / "class_mapping.txt") == CLASSES
    clf = load_classifier(weights)  # finds class_mapping.txt beside the weights
    probs = clf.predict_proba(lm, ["Left", "Right"] * 4)
    assert clf.classes == CLASSES and probs.shape == (8, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".*.part"))


def expect_error(weights, *words, mapping=None):
    with pytest.raises(CheckpointError) as info:
        load_classifier(weights, mapping)
    message = str(info.value)
    assert "\n" not in message and str(weights) in message
    for word in words:
        assert word in message, message
    return message


def test_other_classes_than_class_mapping(tmp_path):
    _, weights = saved(tmp_path)
    write_class_mapping(tmp_path / "class_mapping.txt", ["A", "B", "C", "space"])
    expect_error(weights, "class_mapping.txt", "space")
    write_class_mapping(tmp_path / "class_mapping.txt", ["B", "A", "C", "del"])
    expect_error(weights, "another order")


def test_other_feature_version(tmp_path):
    _, weights = saved(tmp_path)
    payload = torch.load(weights, weights_only=True)
    payload["feature_version"] = keypoints.FEATURE_VERSION + 1
    torch.save(payload, weights)
    expect_error(weights, "feature version", "re-train")


def test_weights_that_do_not_fit_the_config(tmp_path):
    _, weights = saved(tmp_path)
    payload = torch.load(weights, weights_only=True)
    payload["classes"] = CLASSES + ["space"]  # head has 4 outputs, 5 classes claimed
    torch.save(payload, weights)
    (tmp_path / "class_mapping.txt").unlink()
    expect_error(weights, "model_config")


def test_truncated_file(tmp_path):
    _, weights = saved(tmp_path)
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    expect_error(weights, "not a readable checkpoint")
    weights.write_bytes(b"")
    expect_error(weights)


@pytest.mark.parametrize("content", ["text", "hello", "html", "zeros", "tensor", "dict"])
def test_not_a_checkpoint(tmp_path, content):
    weights = tmp_path / "w.pth"
    if content == "text":
        weights.write_text("this is not a model\n")
    elif content == "hello":
        weights.write_text("hello")
    elif content == "html":
        weights.write_text("<html><body>404 Not Found</body></html>\n")
    elif content == "zeros":
        weights.write_bytes(bytes(1000))
    elif content == "tensor":
        torch.save(torch.zeros(3, 3), weights)
    else:
        torch.save({"weights": torch.zeros(3)}, weights)
    message = expect_error(weights)
    assert "checkpoint" in message


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.pth", "not found", "train.py")


def test_combine_views_is_order_free_skips_unusable_views_and_keeps_agreeing_confidence():
    from classifiers.classifier import combine_views
    a, b = np.array([0.7, 0.2, 0.1]), np.array([0.5, 0.4, 0.1])
    nan = np.full(3, np.nan)
    rows, p = combine_views(np.stack([a, b, nan, a, nan, nan]), ["x", "y", "y", "z", "w", "z"])
    assert rows.tolist() == [0, 1, 3, 4]  # first row of each photo, in order of appearance
    assert np.allclose(p[1], b) and np.allclose(p[2], a)  # an unusable view is left out
    assert np.isnan(p[3]).all()  # no usable view: no prediction
    _, ab = combine_views(np.stack([a, b]), [0, 0])
    _, ba = combine_views(np.stack([b, a]), [0, 0])
    assert np.allclose(ab, ba) and ab.sum() == pytest.approx(1.0)  # a photo and its mirror image agree
    assert ab[0, 0] > ab[0, 1] > ab[0, 2]
    _, same = combine_views(np.stack([a, a]), [0, 0])
    assert np.allclose(same[0], a)  # views that agree keep the calibrated confidence
