"""Shared test fixtures: the repo on sys.path, the real data folder, a synthetic keypoint fixture, the web page in Chromium."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dataset import motion_paths, motion_streams  # noqa: E402  (the repo is on sys.path now)
SHARED_DATA = Path(os.environ.get("ASL_SHARED_DATA", REPO.parent / "shared" / "data"))
WEIGHTS = REPO / "keypoint_model_L_cnn_50.pth"
ONNX_WEIGHTS = REPO / "keypoint_model_L_cnn_50.onnx"

needs_data = pytest.mark.skipif(not SHARED_DATA.is_dir(),
                                reason=f"real data folder {SHARED_DATA} is absent (set ASL_SHARED_DATA)")


def _page_missing() -> str | None:
    """Why the web page cannot be driven here (None when it can): serving/browser_session.py."""
    from serving import browser_session
    return browser_session.missing()


PAGE_MISSING = _page_missing()
# The page's tests: skipped where Chromium, Playwright or the npm packages are absent, but never in
# CI, which installs them (there the `server` fixture fails and says why).
needs_page = pytest.mark.skipif(PAGE_MISSING is not None and not os.environ.get("CI"),
                                reason=f"the page cannot run here: {PAGE_MISSING}")


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


@pytest.fixture(scope="module")
def server() -> str:
    """The page served by web.py's server with the shipped model and word list (a module may
    serve it otherwise by a `server` fixture of its own)."""
    from serving import browser_session
    if PAGE_MISSING is not None:
        pytest.fail(f"the page cannot run in CI: {PAGE_MISSING}")
    with browser_session.PageServer(weights=ONNX_WEIGHTS) as url:
        yield url


@pytest.fixture(scope="module")
def page(playwright, server: str):
    """A ready page on Chromium's built-in fake camera (a test pattern: no hands)."""
    from serving import browser_session
    with browser_session.browser(playwright) as chromium:
        yield browser_session.open_page(chromium, server)


def static_hands(letter: str) -> np.ndarray:
    """tresajoby's static hands of `letter` (raw landmarks, image units)."""
    return np.load(SHARED_DATA / "more-signers" / "tresajoby" / "static" / f"{letter}.npy").reshape(-1, 21, 3)


def camera_jitter(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`frames` (N x 21 x 3, one hand) shaken on every frame by 0.5% of the first frame's hand size."""
    size = np.linalg.norm(frames[0, 1:, :2] - frames[0, :1, :2], axis=1).mean()
    return frames + rng.normal(0, 0.005 * size, frames.shape)


def traced_stream(letter: str, start: str, seed: int, fps: float = 30.0) -> motion_streams.Stream:
    """A still `start` hand (1 s, long enough to commit), `letter` traced from it (0.7 s), its end
    pose held 1 s: camera jitter on every frame (tests of J and Z spelled from motion)."""
    rng = np.random.default_rng(seed)
    hand = motion_paths.normalise(static_hands(start)[seed][None])[0]
    key = motion_paths.synthetic_motion(hand, letter, rng, 60)
    times = np.arange(0, 2700, 1000 / fps)
    poses = np.stack([np.interp(np.clip(times, 1000, 1700), np.linspace(1000, 1700, len(key)), key[:, i // 3, i % 3])
                      for i in range(63)], axis=1).reshape(-1, 21, 3)
    frames = camera_jitter(poses * 0.25 + np.float32([0.5, 0.5, 0.0]), rng)  # a hand a quarter of the frame, in its middle
    return motion_streams.Stream(times, frames.astype(np.float32), "Right", [(letter, 1000.0, 1700.0)])


def jumping_stream(letters: str, seed: int, fps: float = 15.0) -> motion_streams.Stream:
    """tresajoby's `letters`, each held still 0.6 s and the hand cut to the next one at another
    place in the frame (right, then down and left: the steps of a Z), as photos cut one to the next
    give the tracker: camera jitter on every frame, no frame between two letters."""
    rng = np.random.default_rng(seed)
    steps = np.float32([[0.45, 0.45, 0.0], [0.12, 0.0, 0.0], [-0.1, 0.1, 0.0]])
    frames = []
    for i, letter in enumerate(letters):
        hand = motion_paths.normalise(static_hands(letter)[seed:seed + 1])[0] * 0.25 + steps[:i + 1].sum(axis=0)
        frames.append(camera_jitter(np.repeat(hand[None], int(0.6 * fps), axis=0), rng))
    frames = np.concatenate(frames).astype(np.float32)
    return motion_streams.Stream(np.arange(len(frames)) * 1000.0 / fps, frames, "Right")


def z_then(next_letter: str, seed: int) -> motion_streams.Stream:
    """`traced_stream`'s Z traced from a held D, its end pose held 0.3 s, then the hand moves on to
    `next_letter` (held 1 s): the letter after the Z begins within MOTION_ABSORB_MS of it."""
    z = traced_stream("Z", "D", seed)
    keep = z.times < 2000.0
    hand = motion_paths.normalise(static_hands(next_letter)[seed:seed + 1])[0] * 0.25 + np.float32([0.5, 0.5, 0.0])
    times = np.arange(2000.0, 3000.0, 1000 / 30.0)
    frames = np.concatenate([z.landmarks[keep], np.repeat(hand[None], len(times), axis=0)])
    return motion_streams.Stream(np.concatenate([z.times[keep], times]), frames.astype(np.float32), "Right", z.motions)
