"""benchmark.py's photo-file timings: preprocess.py against a bare loop over the same files
(np.fromfile + cv2.imdecode + MediaPipe HandLandmarker.detect, nothing else; optionally with
preprocess's bordered retries), with the same workers.  Also the bare landmarker itself, which the
frame and photo timings (bench_live.py) compare against.  The jobs run in benchmark.py's child
processes; heavy imports happen inside them."""
from __future__ import annotations

import contextlib
import runpy
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

PREPROCESS = Path(__file__).resolve().parents[1] / "preprocess.py"


def bare_landmarker(video: bool, max_hands: int) -> Any:
    """A MediaPipe HandLandmarker with keypoints.HandDetector's options, made directly."""
    from hand import keypoints
    path = keypoints.resolve_hand_model()
    keypoints.silence_native_stderr()
    from mediapipe.tasks.python import BaseOptions, vision
    mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
    return vision.HandLandmarker.create_from_options(vision.HandLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(path)), running_mode=mode, num_hands=max_hands,
        min_hand_detection_confidence=0.5, min_hand_presence_confidence=0.5, min_tracking_confidence=0.5))


_bare = None


def _bare_init() -> None:
    global _bare
    _bare = bare_landmarker(False, 1)


def _bare_detect(job: tuple[str, bool]) -> tuple[int, int]:
    """Decode and detect, nothing else; with `retry`, the same bordered retries as
    keypoints.HandDetector when no hand is found.  (hands found, detect calls)."""
    import cv2
    import mediapipe as mp
    from hand import keypoints
    path, retry = job
    rgb = cv2.cvtColor(cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    found = len(_bare.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)).hand_landmarks)
    calls = 1
    for border in keypoints.FALLBACK_BORDERS if retry else ():
        if found:
            break
        pad = round(border * max(rgb.shape[:2]))
        padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        found = len(_bare.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=padded)).hand_landmarks)
        calls += 1
    return found, calls


def job_bare(paths: list[str], workers: int, retry: bool) -> dict:
    """The bare landmarker loop over image files (optionally with preprocess's bordered retries)."""
    jobs = [(p, retry) for p in paths]
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if workers == 1:
            _bare_init()
            results = map(_bare_detect, jobs)
        else:
            import multiprocessing
            pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(workers, _bare_init))
            results = pool.imap_unordered(_bare_detect, jobs, chunksize=4)
        first = next(results)
        first_s = time.perf_counter() - t0
        results = [first, *results]
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "images_per_s": len(paths) / seconds, "first_result_s": first_s,
            "no_hand_fraction": sum(n == 0 for n, _ in results) / len(paths),
            "detects_per_image": sum(c for _, c in results) / len(paths)}


def job_preprocess(images: str, workers: int, count: int) -> dict:
    """preprocess.py's main on a folder tree of `count` images, into a fresh output folder: the
    program run in this process (runpy), its imports before the clock starts."""
    main = runpy.run_path(str(PREPROCESS))["main"]
    with tempfile.TemporaryDirectory(prefix="bench-pre-") as out:
        t0 = time.perf_counter()
        code = main(["--data", images, "--out", out, "--workers", str(workers), "--no-mirror",
                     "--border-views"])  # each photo read as the bare loop reads it
        seconds = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"preprocess.py exited with {code}")
    return {"seconds": seconds, "images_per_s": count / seconds}
