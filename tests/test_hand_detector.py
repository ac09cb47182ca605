"""keypoints.HandDetector on real photos: the last-resort reading at a lower confidence finds hands
the palm detector misses at its own confidence, and changes nothing for photos it already reads."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import SHARED_DATA, WEIGHTS, needs_data

from hand import keypoints

# Photos where no reading at the default confidence finds the hand (borders included).
MISSED = ["more-signers/meyyappan_in/C/20.jpg", "more-signers/evriel_crop/N/314.jpg"]
FOUND = ["keptsecret/train/A/A10.jpg", "more-signers/t32rahman/B/17.jpg", "more-signers/meyyappan_in/C/0.jpg"]


@pytest.fixture(scope="module")
def detectors():
    with keypoints.HandDetector(max_hands=1) as default, \
            keypoints.HandDetector(max_hands=1, last_resort_confidence=None) as plain:
        yield default, plain


def photo(name: str) -> np.ndarray:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return keypoints.read_image(path)


@needs_data
@pytest.mark.parametrize("name", MISSED)
def test_last_resort_finds_a_hand_every_border_missed(detectors, name):
    default, plain = detectors
    rgb = photo(name)
    assert not any(hands for _, hands in plain.readings(rgb, every_border=True))
    hands = default.detect(rgb)
    assert len(hands) == 1 and hands[0].landmarks.shape == (21, 3)
    assert np.all(np.isfinite(hands[0].landmarks))
    readings = default.readings(rgb, every_border=True)
    borders = (0.0, *keypoints.FALLBACK_BORDERS)
    assert [b for b, _ in readings] == [*borders, *borders]  # every border, then every border once more
    assert not any(hands for _, hands in readings[:len(borders)]) and any(hands for _, hands in readings[len(borders):])


@needs_data
@pytest.mark.parametrize("name", FOUND)
def test_photos_read_at_the_default_confidence_are_unchanged(detectors, name):
    default, plain = detectors
    rgb = photo(name)
    for every_border in (False, True):
        got, want = default.readings(rgb, every_border), plain.readings(rgb, every_border)
        assert [b for b, _ in got] == [b for b, _ in want] and any(hands for _, hands in want)
        for (_, a), (_, b) in zip(got, want):
            assert [h.handedness for h in a] == [h.handedness for h in b]
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x.landmarks, y.landmarks)


@needs_data
@pytest.mark.parametrize("name", MISSED)
def test_streams_find_those_hands_through_the_last_resort(name):
    """The live path's re-acquisition tries the last resort in turn: a held letter that every
    border misses at the default confidence still commits on a stream."""
    from realtime import recogniser as live
    from classifiers.classifier import load_classifier
    rgb, clf = photo(name), load_classifier(WEIGHTS.with_suffix(".onnx"))
    letter = name.split("/")[-2]
    for last_resort, want in ((False, ""), (True, letter)):
        with keypoints.HandDetector(mode="video") as video:
            r = live.Recogniser(video, clf, last_resort=last_resort)
            found = sum(bool(r.process(rgb, i * 1000 / 15).hands) for i in range(30))
            r.finish()
        assert r.text.letters == want and (found > 15) == last_resort


def test_the_last_resort_keeps_the_mode_and_is_made_once():
    with keypoints.HandDetector(mode="video") as video:
        assert video.fallback_borders == () and video.last_resort_confidence == keypoints.LAST_RESORT_CONFIDENCE
        twin = video.last_resort()
        assert twin is video.last_resort() and twin.mode == "video" and twin.last_resort() is None
    with keypoints.HandDetector(min_confidence=0.1) as low:  # already below the last resort's confidence
        assert low.last_resort_confidence is None and low.last_resort() is None
