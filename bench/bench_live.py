"""benchmark.py's live-path timings: main.py's frame path (Recogniser.process + annotate + JSONL
line, VIDEO mode) on a test video and its photo path (IMAGE mode: one view, both views, all
views) on real photos, each interleaved with a bare landmarker on the same input.  The jobs run in
benchmark.py's child processes; heavy imports happen inside them."""
from __future__ import annotations

import time

import numpy as np

from bench.bench_files import bare_landmarker
from bench.bench_inputs import FPS

NO_HAND_FRAMES = 60  # frames with nobody in view after the video (2 s at FPS)

def percentiles(values: list[float], prefix: str) -> dict:
    p50, p95 = np.percentile(values, [50, 95])
    return {f"{prefix}.p50_ms": float(p50), f"{prefix}.p95_ms": float(p95)}


def job_frames(video: str, weights: str, warmup_frames: int) -> dict:
    """Per-frame times of a bare VIDEO-mode landmarker and of main.py's frame path, interleaved;
    the first `warmup_frames` are left out.  Then NO_HAND_FRAMES frames with nobody in view
    (`no_hand.*`), where the frame path reads each frame with the next fallback border."""
    import cv2
    import mediapipe as mp
    from hand import keypoints
    from realtime import overlay
    from realtime import recogniser as live
    from realtime.jsonl_records import frame_record
    from classifiers.classifier import load_classifier
    from classifiers.motion_letters import MotionModel
    from spelling.confusion_channel import SHIPPED, SignerSubstitutions, load_channel
    from spelling.lexicon import Lexicon
    from spelling.text_entry import TextEntry
    from spelling.word_decoder import WordDecoder
    capture = cv2.VideoCapture(video)
    frames = []
    while (frame := capture.read()[1]) is not None:
        frames.append(frame)
    bare = bare_landmarker(True, live.MAX_HANDS)
    detector = keypoints.HandDetector(mode="video", max_hands=live.MAX_HANDS)
    clf = load_classifier(weights)
    # main.py's defaults: --lexicon en, the shipped --channel with the signer's swaps, --adapt, --motion-letters
    text = TextEntry(WordDecoder(Lexicon.english(), clf.classes, channel=load_channel(SHIPPED),
                                 signer=SignerSubstitutions()))
    recogniser = live.Recogniser(detector, clf, text=text, adapt=live.ADAPT,
                                 motion_model=MotionModel.load() if live.MOTION_LETTERS else None)
    two = [keypoints.HandDetector(mode="video", max_hands=live.MAX_HANDS) for _ in range(2)]
    both_views = live.Recogniser(two[0], clf, mirror_detector=two[1])  # --both-views: frame + mirror image
    canvas = np.empty_like(frames[0])
    times: dict[str, list[float]] = {k: [] for k in ("landmarker", "frame", "frame.landmarker", "frame.model",
                                                      "frame.draw", "both_views", "no_hand.landmarker",
                                                      "no_hand.frame")}
    hands = 0
    for i, bgr in enumerate(frames):
        ts = int(i * 1000 / FPS)
        t0 = time.perf_counter()
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        bare.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), ts)
        t1 = time.perf_counter()
        np.copyto(canvas, bgr)
        t2 = time.perf_counter()
        rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
        result = recogniser.process(rgb, ts)
        t3 = time.perf_counter()
        overlay.annotate(canvas, result, overlay.Status(30.0, result.timings))
        frame_record(i, ts, result)
        t4 = time.perf_counter()
        both_views.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), ts)
        t5 = time.perf_counter()
        if i >= warmup_frames:
            for key, value in (("landmarker", t1 - t0), ("frame", t4 - t2), ("frame.landmarker",
                               result.timings["landmarker"] / 1000), ("frame.model", result.timings["model"] / 1000),
                               ("frame.draw", t4 - t3), ("both_views", t5 - t4)):
                times[key].append(value * 1000)
            hands += len(result.hands)
    blank = np.full_like(frames[0], 127)  # nobody in view: the stream path looks for a hand with borders
    for i in range(len(frames), len(frames) + NO_HAND_FRAMES):
        ts = int(i * 1000 / FPS)
        t0 = time.perf_counter()
        bare.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB,
                                       data=cv2.cvtColor(blank, cv2.COLOR_BGR2RGB)), ts)
        t1 = time.perf_counter()
        result = recogniser.process(cv2.cvtColor(blank, cv2.COLOR_BGR2RGB), ts)
        overlay.annotate(canvas, result, overlay.Status(30.0, result.timings))
        frame_record(i, ts, result)
        t2 = time.perf_counter()
        times["no_hand.landmarker"].append((t1 - t0) * 1000)
        times["no_hand.frame"].append((t2 - t1) * 1000)
    both_views.close()
    for closing in (detector, bare, *two):
        closing.close()
    out = {"frame_vs_landmarker": sum(times["frame"]) / sum(times["landmarker"]),
           "both_views_vs_landmarker": sum(times["both_views"]) / sum(times["landmarker"]),
           "no_hand.frame_vs_landmarker": sum(times["no_hand.frame"]) / sum(times["no_hand.landmarker"]),
           "frames": len(times["frame"]), "hands_per_frame": hands / len(times["frame"])}
    for key, values in times.items():
        out.update(percentiles(values, key))
    return out


def job_photos(paths: list[str], weights: str, count: int) -> dict:
    """main.py's photo path (IMAGE mode, Recogniser.process on one photo at a time) in one view,
    both views and all views (both, each with every border: the default for photos), against one
    bare IMAGE-mode landmarker call on the same photo, interleaved; a first pass warms up."""
    import mediapipe as mp
    from hand import keypoints
    from realtime import recogniser as live
    from classifiers.classifier import load_classifier
    photos = [rgb for rgb in map(keypoints.read_image, paths) if rgb is not None and min(rgb.shape[:2]) >= 200]
    photos = photos[:count]
    if not photos:
        return {"photos": 0}
    bare = bare_landmarker(False, live.MAX_HANDS)
    clf = load_classifier(weights)
    one, two = (keypoints.HandDetector(mode="image", max_hands=live.MAX_HANDS) for _ in range(2))
    recognisers = {"photo.one_view": live.Recogniser(one, clf, independent_frames=True),
                   "photo.both_views": live.Recogniser(one, clf, independent_frames=True, mirror_detector=two),
                   "photo.all_views": live.Recogniser(one, clf, independent_frames=True, mirror_detector=two,
                                                      every_border=True)}
    times: dict[str, list[float]] = {k: [] for k in ("photo.landmarker", *recognisers)}
    for timed in (False, True):
        for rgb in photos:
            t0 = time.perf_counter()
            bare.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            t1 = time.perf_counter()
            if timed:
                times["photo.landmarker"].append((t1 - t0) * 1000)
            for name, recogniser in recognisers.items():
                t0 = time.perf_counter()
                recogniser.process(rgb, 0)
                if timed:
                    times[name].append((time.perf_counter() - t0) * 1000)
    for closing in (*recognisers.values(), one, two, bare):
        closing.close()
    out = {f"{k}_vs_landmarker": sum(times[k]) / sum(times["photo.landmarker"]) for k in recognisers}
    out["photos"] = len(photos)
    for key, values in times.items():
        out.update(percentiles(values, key))
    return out
