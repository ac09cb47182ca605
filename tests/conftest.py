"""Shared test fixtures: the repo on sys.path, the real data folder, a synthetic keypoint fixture."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED_DATA = Path(os.environ.get("ASL_SHARED_DATA", REPO.parent / "shared" / "data"))
WEIGHTS = REPO / "keypoint_model_L_cnn_50.pth"

needs_data = pytest.mark.skipif(not SHARED_DATA.is_dir(),
                                reason=f"real data folder {SHARED_DATA} is absent (set ASL_SHARED_DATA)")


def synthetic_hand(rng: np.random.Generator, letter: int = 0) -> np.ndarray:
    """A plausible 21x3 hand (image units): a palm and five fingers whose bend depends on `letter`."""
    wrist = np.array([0.5, 0.8, 0.0])
    points = [wrist]
    for finger in range(5):
        angle = np.deg2rad(-60 + 30 * finger)
        bend = 0.3 + 0.5 * ((letter >> finger) & 1)
        direction = np.array([np.sin(angle), -np.cos(angle), 0.0])
        point = wrist + direction * 0.08
        for joint in range(4):
            points.append(point.copy())
            direction = direction + np.array([0.0, bend * 0.5, -0.1 * bend])
            direction /= np.linalg.norm(direction)
            point = point + direction * 0.04
    hand = np.array(points, np.float32)
    return hand + rng.normal(0, 0.002, hand.shape).astype(np.float32)


@pytest.fixture
def keypoint_dataset(tmp_path: Path) -> Path:
    """A tiny split folder (the layout preprocess.py writes) of synthetic hands, 3 classes."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("valid", 10), ("test", 10)):
        for label, name in enumerate(("A", "B", "C")):
            folder = tmp_path / "data" / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                np.save(folder / f"synthetic__{name}{i}.jpg.npy", synthetic_hand(rng, label * 7 + 3))
    return tmp_path / "data"


@pytest.fixture(scope="module")
def playwright():
    """Playwright driving the system's Chromium, for the page's tests (serving/browser_session.py)."""
    from serving import browser_session
    with browser_session.driver() as driver:
        yield driver
