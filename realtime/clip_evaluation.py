"""evaluate.py --clip-frames: each photo played as a still clip through the live path main.py runs
on a camera (recogniser.py: VIDEO-mode tracking, smoothing), scored on the clip's last frame."""
from __future__ import annotations

import contextlib
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from hand import keypoints
from classifiers.classifier import Classifier


def evaluate_clips(photos: list[tuple[str, str, str]], clf: Classifier, flip: bool, frames: int, both_views: bool,
                   hand_model: str | None, skipped: Counter, fps: float, no_hand: str
                   ) -> tuple[list, list, list, list, list]:
    """Truth, prediction, confidence, found, source with each (path, class, source) photo shown as a
    still clip of `frames` frames at `fps` to main.py's live path: VIDEO-mode tracking, one view
    (with `both_views`, the frame and its mirror image, as `main.py --both-views`), smoothing over
    recogniser.SMOOTH_MS.  A photo scores the smoothed prediction of the clip's last frame (`no_hand`
    when it has none); clips are spaced so that no smoothing window spans two photos.  Raises
    FileNotFoundError when photos are missing."""
    from realtime import recogniser as live  # here: evaluate.py's other modes do without the live path
    from tqdm import tqdm
    missing = [path for path, _, _ in photos if not Path(path).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} photo(s) not found, e.g. {missing[0]} (a manifest's paths are "
                                f"relative to the folder preprocess.py ran in)")
    truth, predicted, confidence, found_hand, sources = [], [], [], [], []
    step_ms, t_ms = 1000.0 / fps, 0.0
    with contextlib.ExitStack() as stack:
        detector = stack.enter_context(keypoints.HandDetector(hand_model, mode="video", max_hands=live.MAX_HANDS))
        mirror = (stack.enter_context(keypoints.HandDetector(hand_model, mode="video", max_hands=live.MAX_HANDS))
                  if both_views else None)
        recogniser = live.Recogniser(detector, clf, threshold=0.0, mirror_detector=mirror)
        stack.callback(recogniser.close)
        for path, label, source in tqdm(photos, unit="clip", desc="evaluate", dynamic_ncols=True):
            rgb = keypoints.read_image(path)
            if rgb is None:
                skipped["unreadable"] += 1
                tqdm.write(f"warning: skipped {path}: unreadable", file=sys.stderr)
                continue
            frame = np.ascontiguousarray(rgb[:, ::-1]) if flip else rgb
            for _ in range(frames):
                result = recogniser.process(frame, t_ms)
                t_ms += step_ms
            t_ms += live.SMOOTH_MS
            best = result.hands[result.spelling].prediction if result.spelling is not None else None
            ok = best is not None and best.letter is not None
            truth.append(label)
            predicted.append(best.letter if ok else no_hand)
            confidence.append(float(best.confidence) if ok else 0.0)
            found_hand.append(ok)
            sources.append(source)
    return truth, predicted, confidence, found_hand, sources
