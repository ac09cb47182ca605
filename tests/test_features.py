"""keypoints.features: shape, invariances, mirroring, batch == single, and degenerate input
(non-finite or collapsed landmarks) that must never turn into a letter."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hand import keypoints
from classifiers.classifier import Classifier
from conftest import synthetic_hand

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def hand(seed: int = 0, letter: int = 5) -> np.ndarray:
    return synthetic_hand(np.random.default_rng(seed), letter).astype(np.float64)


# Landmarks in image units; a real hand lies within a few image sides of the frame.
coords = st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False, width=64)
landmark_arrays = arrays(np.float64, (21, 3), elements=coords)
# Hand-like landmarks: a synthetic hand (any of 32 finger poses) with free per-point noise.
hand_like = st.builds(
    lambda letter, noise: hand(0, letter) + noise,
    st.integers(0, 31), arrays(np.float64, (21, 3), elements=st.floats(-0.015, 0.015)))
handedness = st.sampled_from(["Left", "Right", "left", "RIGHT", "Unknown"])


def well_conditioned(lm: np.ndarray) -> bool:
    """Every bone clearly longer than zero compared with the hand size: the features are then a
    smooth function of the landmarks, so float rounding cannot flip a bone direction."""
    centred = lm - lm[0]
    size = np.linalg.norm(centred[1:, :2], axis=1).mean()
    bones = np.linalg.norm(lm[1:] - lm[keypoints.PARENTS[1:]], axis=1)
    return size > 1e-3 and bones.min() > 1e-2 * size


class FixedLogits(Classifier):
    """A classifier whose model always prefers class 0: tests predict_proba's own handling."""

    def logits(self, inputs: keypoints.ModelInputs) -> np.ndarray:
        assert all(np.isfinite(part).all() for part in inputs), "non-finite inputs reached the model"
        z = np.zeros((len(inputs.features), len(self.classes)), np.float32)
        z[:, 0] = 3.0
        return z


# ----------------------------------------------------------------------------- fixed examples
def test_shape_and_dtype_single_and_batch():
    f = keypoints.features(hand(), "Right")
    assert f.shape == (keypoints.FEATURE_CHANNELS, 21) == (6, 21)
    assert f.dtype == np.float32
    batch = np.stack([hand(i) for i in range(5)])
    fb = keypoints.features(batch, ["Right", "Left", "Right", "Left", "Unknown"])
    assert fb.shape == (5, 6, 21) and fb.dtype == np.float32


def test_batch_equals_single():
    batch = np.stack([hand(i, letter=i) for i in range(6)])
    labels = ["Right", "Left", "Left", "Right", "Unknown", "Left"]
    fb = keypoints.features(batch, labels)
    for i in range(len(batch)):
        np.testing.assert_array_equal(fb[i], keypoints.features(batch[i], labels[i]))


def test_wrist_is_origin_and_bones_are_unit():
    f = keypoints.features(hand(), "Right")
    np.testing.assert_array_equal(f[:3, 0], 0)
    lengths = np.linalg.norm(f[3:, 1:], axis=0)
    np.testing.assert_allclose(lengths, 1, atol=1e-5)


def test_translation_and_scale_invariance():
    lm = hand()
    base = keypoints.features(lm, "Right")
    moved = keypoints.features(lm + np.array([0.3, -0.2, 0.05]), "Right")
    scaled = keypoints.features(lm * 2.5, "Right")
    np.testing.assert_allclose(moved, base, atol=1e-5)
    np.testing.assert_allclose(scaled, base, atol=1e-5)


def test_mirror_with_other_hand_gives_same_features():
    lm = hand(3, letter=9)
    for label in ("Right", "Left"):
        mirrored = keypoints.features(keypoints.mirror_landmarks(lm), keypoints.other_hand(label))
        np.testing.assert_allclose(mirrored, keypoints.features(lm, label), atol=1e-5)


def test_handedness_matters():
    """The left/right label is used (otherwise mirrored letters would collide)."""
    lm = hand()
    assert not np.allclose(keypoints.features(lm, "Left"), keypoints.features(lm, "Right"))


def test_handedness_labels_must_match_batch():
    with pytest.raises(ValueError):
        keypoints.features(np.stack([hand(0), hand(1)]), ["Left", "Right", "Left"])


@pytest.mark.parametrize("make_bad", [
    lambda lm: np.where(np.arange(63).reshape(21, 3) == 7, np.nan, lm),
    lambda lm: np.where(np.arange(63).reshape(21, 3) == 30, np.inf, lm),
    lambda lm: np.where(np.arange(63).reshape(21, 3) == 0, -np.inf, lm),
    lambda lm: np.zeros_like(lm),
    lambda lm: np.tile(lm[4], (21, 1)),
], ids=["nan", "inf", "-inf", "zeros", "all-equal"])
def test_degenerate_raises_and_never_predicts(make_bad):
    bad = make_bad(hand())
    with pytest.raises(keypoints.DegenerateHandError):
        keypoints.features(bad, "Right")
    with pytest.raises(keypoints.DegenerateHandError):  # one bad hand in a batch is not hidden
        keypoints.features(np.stack([hand(), bad]), "Right")
    clf = FixedLogits(["A", "B", "C"])
    probs = clf.predict_proba(np.stack([hand(), bad, hand(1)]), ["Right", "Left", "Right"])
    assert np.isnan(probs[1]).all()
    assert np.isfinite(probs[[0, 2]]).all()
    np.testing.assert_allclose(probs[[0, 2]].sum(axis=1), 1, atol=1e-5)
    assert np.isnan(clf.predict_proba(bad, "Right")).all()


# ----------------------------------------------------------------------------- properties
@SETTINGS
@given(landmark_arrays, handedness)
def test_finite_output_for_finite_non_degenerate_input(lm, label):
    assume(keypoints.valid_landmarks(lm)[0])
    f = keypoints.features(lm, label)
    assert f.shape == (6, 21)
    assert np.isfinite(f).all()
    probs = FixedLogits(["A", "B"]).predict_proba(lm, label)
    assert np.isfinite(probs).all()


@SETTINGS
@given(hand_like, handedness,
       arrays(np.float64, 3, elements=st.floats(-2, 2, allow_nan=False)),
       st.floats(0.05, 20.0))
def test_invariance_property(lm, label, shift, factor):
    assume(well_conditioned(lm))
    base = keypoints.features(lm, label)
    np.testing.assert_allclose(keypoints.features(lm + shift, label), base, atol=2e-4, rtol=1e-4)
    np.testing.assert_allclose(keypoints.features(lm * factor, label), base, atol=2e-4, rtol=1e-4)
    if label.lower() not in ("left", "right"):
        return  # an unknown hand has no mirror label: it is read as a right hand either way
    mirrored = keypoints.features(keypoints.mirror_landmarks(lm).astype(np.float64),
                                  keypoints.other_hand(label))
    # mirror_landmarks works in float32 (landmark storage precision)
    np.testing.assert_allclose(mirrored, base, atol=2e-3, rtol=1e-3)


@SETTINGS
@given(landmark_arrays, st.integers(0, 20), st.sampled_from([np.nan, np.inf, -np.inf]), st.integers(0, 2))
def test_non_finite_input_raises_property(lm, point, value, axis):
    lm = lm.copy()
    lm[point, axis] = value
    with pytest.raises(keypoints.DegenerateHandError):
        keypoints.features(lm, "Right")
    assert np.isnan(FixedLogits(["A", "B"]).predict_proba(lm, "Right")).all()


@SETTINGS
@given(arrays(np.float64, 3, elements=coords), st.floats(-1e-8, 1e-8))
def test_collapsed_hand_raises_property(point, wobble):
    lm = np.tile(point, (21, 1))
    lm[5, 0] += wobble  # far below any real hand size
    with pytest.raises(keypoints.DegenerateHandError):
        keypoints.features(lm, "Left")
    assert np.isnan(FixedLogits(["A", "B"]).predict_proba(lm, "Left")).all()


def test_predict_proba_takes_labels_or_left_flags(tmp_path):
    """Handedness as MediaPipe labels or as left-hand flags gives the same probabilities."""
    from dataset import dataset_layout
    import model
    from classifiers.classifier import load_classifier
    from conftest import synthetic_hand
    weights = tmp_path / "m.pth"
    model.save_checkpoint(weights, model.build_model(len(dataset_layout.KAGGLE_CLASSES)),
                          dataset_layout.KAGGLE_CLASSES, {})
    clf = load_classifier(weights)
    rng = np.random.default_rng(3)
    lm = np.stack([synthetic_hand(rng, i) for i in range(6)])
    labels = ["Left", "Right", "Left", "Right", "Right", "Left"]
    flags = np.array([h == "Left" for h in labels])
    np.testing.assert_allclose(clf.predict_proba(lm, labels), clf.predict_proba(lm, flags), atol=1e-6)
    assert not np.allclose(clf.predict_proba(lm, flags), clf.predict_proba(lm, ~flags), atol=1e-6)


@pytest.mark.parametrize("label", ["Left", "Right", "left", "RIGHT", "Other"])
def test_hand_right_probability_is_the_embedders_handedness_input(label: str):
    """A detected hand's right-hand probability is what `keypoints.right_probability` gives for
    its label and score."""
    hand = keypoints.Hand(synthetic_hand(np.random.default_rng(0)), label, 0.8317)
    assert hand.right_probability == float(keypoints.right_probability(label, 0.8317)[0])
