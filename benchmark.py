"""Measure the pipeline's speed and memory on real images, against the performance targets.

    python benchmark.py [--data DIR] [--repeats 3] [--workers 2] [--json OUT] [--skip-train]
    python benchmark.py --quick --json OUT          # a smoke run in well under a minute

Every job runs in a fresh Python process (`--job`, internal), so each figure includes what a user
waits for inside that process and ru_maxrss is the peak memory of that job's largest process
(Python start-up itself is excluded from the timed figures, except for main.py start-up).  Each
figure is the median over --repeats rounds; each ratio is taken within one round, between jobs
run back to back, and its median reported.

- preprocess: `preprocess.main(--no-mirror --border-views)` (one reading per photo) on a fixed, evenly spaced slice of the images,
  versus a bare loop (np.fromfile + cv2.imdecode + MediaPipe HandLandmarker.detect, nothing
  else) on the same files with the same workers.  Both include creating the landmarker(s) and,
  for more than one worker, spawning the worker processes (their imports included).
- frame: a 640x480 video of real images (VIDEO mode), each frame through a bare landmarker and
  through main.py's per-frame path (Recogniser.process + annotate + JSONL line), interleaved.
- photos: main.py's photo path (IMAGE mode) in one view, both views and all views (the default
  for photos: both views, each read with every fallback border), against one bare landmarker
  call on the same photos (at least 200 px).
- classifier: logits and predict_proba at batch 1 (median latency) and batch 1024 (throughput),
  PyTorch eager and ONNX Runtime; batch-1 latency as a fraction of the landmarker's frame time.
- train: `train.py` on a preprocess.py output of all shared data (--train-data).
- startup: `main.py --no-display --jsonl` on a short video, from process start to its first
  JSONL line (the first processed frame), after one untimed warm-up run (warm file cache), with
  the .pth and the .onnx weights.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parent

# ----------------------------------------------------------------------------- settings
DATA = REPO.parent / "shared" / "data"
IMAGES = 400  # images in the preprocess / bare-loop slice (start-up is a fixed cost per run)
WORKERS = 2  # N in "1 vs N workers"
REPEATS = 3
VIDEO_IMAGES = 30  # real images in the 640x480 test video ...
HOLD_FRAMES = 10  # ... each held for this many frames (a signer holding a letter)
WARMUP_FRAMES = 5  # first frames left out of the per-frame statistics
STARTUP_FRAMES = 15  # frames of the short video main.py start-up is timed on
PHOTOS = 30  # photos of at least 200 px from the slice, for main.py's photo path
CALLS = 2000  # batch-1 classifier calls per round
BATCH = 1024
BATCH_CALLS = 20
WEIGHTS = REPO / "keypoint_model_L_cnn_50.pth"
TRAIN_DATA = "data_processed"  # preprocess.py output of all shared data (--train-data)
TRAIN_EPOCHS = 50
TARGETS = {  # name: (figure, "min" or "max", limit)
    "preprocess_vs_bare, same workers": ("preprocess_vs_bare", "min", 0.95),
    "preprocess_vs_bare, same retries": ("preprocess_vs_bare_retry", "min", 0.95),
    "preprocess N workers / 1 worker": ("preprocess_scaling", "min", 1.8),
    "frame_vs_landmarker": ("frame_vs_landmarker", "max", 1.10),
    "classifier batch-1 / landmarker frame": ("classifier.torch.batch1_fraction", "max", 0.01),
    "train 50 epochs, all data (s)": ("train.50_epochs_s", "max", 300.0),
    "main.py start-up to first frame (s)": ("startup.pth_s", "max", 2.0),
}
# -----------------------------------------------------------------------------
FPS = 30.0
SIZE = (640, 480)


# ----------------------------------------------------------------------------- jobs (child processes)
def _landmarker(video: bool, max_hands: int) -> Any:
    """A MediaPipe HandLandmarker with keypoints.HandDetector's options, made directly."""
    import keypoints
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
    _bare = _landmarker(False, 1)


def _bare_detect(job: tuple[str, bool]) -> tuple[int, int]:
    """Decode and detect, nothing else; with `retry`, the same bordered retries as
    keypoints.HandDetector when no hand is found.  (hands found, detect calls)."""
    import cv2
    import mediapipe as mp
    import keypoints
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
    """preprocess.main on a folder tree of `count` images, into a fresh output folder."""
    import preprocess
    with tempfile.TemporaryDirectory(prefix="bench-pre-") as out:
        t0 = time.perf_counter()
        code = preprocess.main(["--data", images, "--out", out, "--workers", str(workers), "--no-mirror",
                                "--border-views"])  # each photo read as the bare loop reads it
        seconds = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"preprocess.py exited with {code}")
    return {"seconds": seconds, "images_per_s": count / seconds}


def _stats(values: list[float], prefix: str) -> dict:
    p50, p95 = np.percentile(values, [50, 95])
    return {f"{prefix}.p50_ms": float(p50), f"{prefix}.p95_ms": float(p95)}


def job_frames(video: str, weights: str) -> dict:
    """Per-frame times of a bare VIDEO-mode landmarker and of main.py's frame path, interleaved."""
    import cv2
    import mediapipe as mp
    import keypoints
    import overlay
    import recogniser as live
    from classifier import load_classifier
    from lexicon import Lexicon
    from text_entry import TextEntry
    from word_decoder import WordDecoder
    capture = cv2.VideoCapture(video)
    frames = []
    while (frame := capture.read()[1]) is not None:
        frames.append(frame)
    bare = _landmarker(True, live.MAX_HANDS)
    detector = keypoints.HandDetector(mode="video", max_hands=live.MAX_HANDS)
    clf = load_classifier(weights)
    text = TextEntry(WordDecoder(Lexicon.english(), clf.classes))  # main.py's default --lexicon en
    recogniser = live.Recogniser(detector, clf, text=text)
    two = [keypoints.HandDetector(mode="video", max_hands=live.MAX_HANDS) for _ in range(2)]
    both_views = live.Recogniser(two[0], clf, mirror_detector=two[1])  # --both-views: frame + mirror image
    canvas = np.empty_like(frames[0])
    times: dict[str, list[float]] = {k: [] for k in ("landmarker", "frame", "frame.landmarker", "frame.model",
                                                      "frame.draw", "both_views")}
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
        live.frame_record(i, ts, result)
        t4 = time.perf_counter()
        both_views.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), ts)
        t5 = time.perf_counter()
        if i >= WARMUP_FRAMES:
            for key, value in (("landmarker", t1 - t0), ("frame", t4 - t2), ("frame.landmarker",
                               result.timings["landmarker"] / 1000), ("frame.model", result.timings["model"] / 1000),
                               ("frame.draw", t4 - t3), ("both_views", t5 - t4)):
                times[key].append(value * 1000)
            hands += len(result.hands)
    both_views.close()
    for closing in (detector, bare, *two):
        closing.close()
    out = {"frame_vs_landmarker": sum(times["frame"]) / sum(times["landmarker"]),
           "both_views_vs_landmarker": sum(times["both_views"]) / sum(times["landmarker"]),
           "frames": len(times["frame"]), "hands_per_frame": hands / len(times["frame"])}
    for key, values in times.items():
        out.update(_stats(values, key))
    return out


def job_photos(paths: list[str], weights: str, count: int) -> dict:
    """main.py's photo path (IMAGE mode, Recogniser.process on one photo at a time) in one view,
    both views and all views (both, each with every border: the default for photos), against one
    bare IMAGE-mode landmarker call on the same photo, interleaved; a first pass warms up."""
    import mediapipe as mp
    import keypoints
    import recogniser as live
    from classifier import load_classifier
    photos = [rgb for rgb in map(keypoints.read_image, paths) if rgb is not None and min(rgb.shape[:2]) >= 200]
    photos = photos[:count]
    if not photos:
        return {"photos": 0}
    bare = _landmarker(False, live.MAX_HANDS)
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
        out.update(_stats(values, key))
    return out


CLASSIFIERS = ("torch", "torch_1_thread", "onnx", "onnx_all_threads")


def _latency_ms(fn: Callable[[], object], calls: int) -> float:
    """Median wall time of one call, in ms."""
    fn()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return float(np.median(samples)) * 1000


def job_classifier(weights: str, onnx_path: str, calls: int) -> dict:
    """Batch-1 latency and batch-1024 throughput of each classifier, on real landmarks."""
    import torch
    import keypoints
    from classifier import TorchClassifier
    from onnx_classifier import OnnxClassifier
    files = sorted((DATA / "landmarks-boris").glob("*/*.npy"))[::10][:BATCH]
    if files:
        lm = np.stack([np.load(f).astype(np.float32).reshape(21, 3) for f in files])
    else:  # no landmark set: any plausible hand does for timing
        lm = np.random.default_rng(0).uniform(0.3, 0.7, (BATCH, 21, 3)).astype(np.float32)
    lm = np.resize(lm, (BATCH, 21, 3))
    inputs = keypoints.model_inputs(lm, "Right")
    first = keypoints.ModelInputs(*(part[:1] for part in inputs))
    out = {}
    makers = {"torch": lambda: TorchClassifier(weights),
              "torch_1_thread": lambda: (torch.set_num_threads(1), TorchClassifier(weights))[1],
              "onnx": lambda: OnnxClassifier(onnx_path, threads=1),
              "onnx_all_threads": lambda: OnnxClassifier(onnx_path, threads=0)}
    for name in CLASSIFIERS:  # torch first: torch_1_thread changes the process-wide thread count
        clf = makers[name]()
        out[f"classifier.{name}.batch1_ms"] = _latency_ms(lambda: clf.logits(first), calls)
        out[f"classifier.{name}.proba_batch1_ms"] = _latency_ms(lambda: clf.predict_proba(lm[:1], "Right"), calls)
        out[f"classifier.{name}.batch{BATCH}_per_s"] = BATCH / _latency_ms(lambda: clf.logits(inputs),
                                                                             BATCH_CALLS) * 1000
    return out


def _letterbox(bgr: np.ndarray) -> np.ndarray:
    import cv2
    scale = min(SIZE[0] / bgr.shape[1], SIZE[1] / bgr.shape[0])
    small = cv2.resize(bgr, (round(bgr.shape[1] * scale), round(bgr.shape[0] * scale)))
    frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    y, x = (SIZE[1] - small.shape[0]) // 2, (SIZE[0] - small.shape[1]) // 2
    frame[y:y + small.shape[0], x:x + small.shape[1]] = small
    return frame


def job_setup(paths: list[str], video_images: int, folder: str, weights: str) -> dict:
    """The test videos (640x480 mp4v: `video_images` real images of at least 200 px, letterboxed,
    HOLD_FRAMES frames each; and a short still video for start-up), the .pth to time (a random-weight stand-in
    when absent: timing does not depend on the weights) and its ONNX export.  Run as a job so the
    parent stays small (a child's ru_maxrss cannot be below its parent's peak RSS)."""
    import cv2
    import export
    frames = [_letterbox(bgr) for bgr in map(cv2.imread, paths) if bgr is not None and min(bgr.shape[:2]) >= 200]
    if not frames:
        raise SystemExit("no image of at least 200 px for the test video")
    for name, chosen, hold in (("video.mp4", frames[:video_images], HOLD_FRAMES),
                               ("still.mp4", frames[:1], STARTUP_FRAMES)):
        writer = cv2.VideoWriter(str(Path(folder, name)), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
        for frame in chosen:
            for _ in range(hold):
                writer.write(frame)
        writer.release()
    notes = []
    if not Path(weights).is_file():
        import dataset_layout as layout
        import model as model_lib
        notes.append(f"{weights} not found: timed a random-weight model of the same shape")
        weights = str(Path(folder, "weights", "random.pth"))
        model_lib.save_checkpoint(weights, model_lib.build_model(len(layout.KAGGLE_CLASSES)),
                                  layout.KAGGLE_CLASSES, {})
    onnx_path = Path(folder, "onnx", "model.onnx")
    export.export(Path(weights), onnx_path)
    return {"video": str(Path(folder, "video.mp4")), "still": str(Path(folder, "still.mp4")), "pth": weights,
            "onnx": str(onnx_path), "notes": notes}


JOBS = {"setup": job_setup, "bare": job_bare, "preprocess": job_preprocess, "frames": job_frames,
        "photos": job_photos, "classifier": job_classifier}


def run_job_here(name: str, args: dict, result: str, profile: str | None) -> None:
    """Child side of run_job: run one job, optionally under cProfile, and write its result."""
    sys.path.insert(0, str(REPO))
    if profile:
        import cProfile
        profiler = cProfile.Profile()
        value = profiler.runcall(JOBS[name], **args)
        profiler.dump_stats(profile)
    else:
        value = JOBS[name](**args)
    Path(result).write_text(json.dumps(value))


# ----------------------------------------------------------------------------- parent side
def run(cmd: list[str], log: Path, watch: Path | None = None) -> tuple[float, float, float | None]:
    """Run a command (stdout discarded, stderr to `log`): wall seconds, peak RSS MB of its largest
    process (wait4), and with `watch`, seconds until that file first holds a whole line.  Raises
    RuntimeError with the end of the log on failure."""
    with open(log, "w") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=REPO)
        first = None
        while not (done := os.wait4(proc.pid, os.WNOHANG if watch else 0))[0]:
            if first is None and watch.is_file() and b"\n" in watch.read_bytes():
                first = time.perf_counter() - t0
            time.sleep(0.005)
        seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(done[1])
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"{' '.join(cmd[1:3])} failed ({proc.returncode}): " + " | ".join(tail))
    return seconds, done[2].ru_maxrss / 1024, first


def run_job(name: str, tmp: Path, profile: str | None = None, **args: Any) -> dict:
    """A job in a fresh process; its result plus `memory_mb`."""
    result = tmp / f"{name}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--job", name, "--job-args", json.dumps(args),
           "--job-result", str(result)] + (["--job-profile", profile] if profile else [])
    memory = run(cmd, tmp / f"{name}.log")[1]
    return {**json.loads(result.read_text()), "memory_mb": memory}


def image_slice(data: Path, count: int, tmp: Path) -> tuple[Path, list[str]]:
    """`count` evenly spaced images of all sources, linked into tmp/images/<source>/<class>/."""
    import dataset_layout as layout
    entries = [e for source in layout.find_sources([data]) for e in layout.list_entries(source)[0]
               if e.path.suffix.lower() in layout.IMAGE_EXTENSIONS]
    if not entries:
        raise SystemExit(f"benchmark.py: error: no images in {data}")
    chosen = [entries[int(i)] for i in np.linspace(0, len(entries) - 1, min(count, len(entries)))]
    root = tmp / "images"
    paths = []
    for e in chosen:
        link = root / e.source / e.relpath
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(e.path.resolve(), link)
        paths.append(str(link))
    return root, paths


def time_startup(weights: Path, video: Path, tmp: Path, warm: bool) -> tuple[float, float]:
    """main.py headless on a short video: (seconds from process start to its first JSONL line,
    which main.py writes line-buffered; peak RSS MB)."""
    jsonl = tmp / "startup.jsonl"
    cmd = [sys.executable, str(REPO / "main.py"), "--source", str(video), "--weights", str(weights),
           "--no-display", "--jsonl", str(jsonl)]
    if warm:
        run(cmd, tmp / "startup.log")
    jsonl.unlink(missing_ok=True)
    _, memory, first = run(cmd, tmp / "startup.log", watch=jsonl)
    if first is None or len(jsonl.read_text().splitlines()) != STARTUP_FRAMES:
        raise RuntimeError(f"main.py did not write its first JSONL line before exiting ({STARTUP_FRAMES} frames)")
    return first, memory


def time_training(data: str, epochs: int, tmp: Path) -> dict:
    """train.py wall time, per-epoch time (its training loop only) and a 50-epoch figure."""
    weights = tmp / "train" / "weights.pth"
    seconds, memory, _ = run([sys.executable, str(REPO / "train.py"), "--data", data, "--epochs", str(epochs),
                              "--weights", str(weights)], tmp / "train.log")
    metrics = json.loads(weights.with_name("training_metrics.json").read_text())
    per_epoch = metrics["train_seconds"] / epochs
    return {"train.wall_s": seconds, "train.epoch_s": per_epoch, "train.samples": metrics["train_samples"],
            "train.50_epochs_s": seconds + (TRAIN_EPOCHS - epochs) * per_epoch, "memory_mb.train": memory}


def one_round(args: argparse.Namespace, r: int, tmp: Path, images: Path, paths: list[str], setup: dict) -> dict:
    """Every measurement once; ratios within this round."""
    out: dict[str, float] = {}
    n = args.workers
    for workers in (1, n):
        kinds = ["preprocess", "bare", "bare_retry"]
        for kind in kinds if r % 2 == 0 else kinds[::-1]:  # alternate who goes first
            res = (run_job("preprocess", tmp, images=str(images), workers=workers, count=len(paths))
                   if kind == "preprocess" else run_job("bare", tmp, paths=paths, workers=workers,
                                                        retry=kind == "bare_retry"))
            out[f"{kind}.w{workers}.images_per_s"] = res["images_per_s"]
            out[f"memory_mb.{kind}.w{workers}"] = res["memory_mb"]
            for key in ("first_result_s", "no_hand_fraction", "detects_per_image"):
                if key in res:
                    out[f"{kind}.w{workers}.{key}"] = res[key]
        for bare in ("bare", "bare_retry"):
            out[f"preprocess_vs_{bare}.w{workers}"] = (out[f"preprocess.w{workers}.images_per_s"]
                                                       / out[f"{bare}.w{workers}.images_per_s"])
    for bare in ("bare", "bare_retry"):
        out[f"preprocess_vs_{bare}"] = min(out[f"preprocess_vs_{bare}.w1"], out[f"preprocess_vs_{bare}.w{n}"])
    for kind in ("preprocess", "bare", "bare_retry"):
        out[f"{kind}_scaling"] = out[f"{kind}.w{n}.images_per_s"] / out[f"{kind}.w1.images_per_s"]
    for kind, prefix in (("pth", ""), ("onnx", "onnx.")):
        frames = run_job("frames", tmp, video=setup["video"], weights=setup[kind])
        out[f"memory_mb.frames.{kind}"] = frames.pop("memory_mb")
        out.update({prefix + k: v for k, v in frames.items()})
    photos = run_job("photos", tmp, paths=paths, weights=setup["pth"], count=PHOTOS)
    out["memory_mb.photos"] = photos.pop("memory_mb")
    out.update(photos)
    clf = run_job("classifier", tmp, weights=setup["pth"], onnx_path=setup["onnx"], calls=args.calls)
    clf.pop("memory_mb")
    out.update(clf)
    for name in CLASSIFIERS:
        out[f"classifier.{name}.batch1_fraction"] = out[f"classifier.{name}.batch1_ms"] / out["landmarker.p50_ms"]
    for kind in ("pth", "onnx"):
        out[f"startup.{kind}_s"], out[f"memory_mb.main.{kind}"] = time_startup(
            Path(setup[kind]), Path(setup["still"]), tmp, warm=r == 0 and not args.quick)
    if not args.skip_train:
        out.update(time_training(args.train_data, args.train_epochs, tmp))
    return out


def report(summary: dict[str, float], args: argparse.Namespace) -> tuple[str, list[dict]]:
    """The readable table and the target verdicts."""
    n = args.workers
    rows = []
    for w in (1, n):
        rows += [(f"preprocess, {w} worker(s) (images/s)", f"preprocess.w{w}.images_per_s"),
                 (f"bare loop, {w} worker(s) (images/s)", f"bare.w{w}.images_per_s"),
                 (f"bare loop + retries, {w} worker(s) (images/s)", f"bare_retry.w{w}.images_per_s"),
                 ("  bare: time to first result (s)", f"bare.w{w}.first_result_s"),
                 (f"preprocess_vs_bare, {w} worker(s)", f"preprocess_vs_bare.w{w}"),
                 (f"preprocess_vs_bare_retry, {w} worker(s)", f"preprocess_vs_bare_retry.w{w}")]
    rows += [(f"{kind} scaling {n}/1 workers", f"{kind}_scaling") for kind in ("preprocess", "bare", "bare_retry")]
    rows += [("images with no hand, one detect", "bare.w1.no_hand_fraction"),
             ("images with no hand after retries", "bare_retry.w1.no_hand_fraction"),
             ("detect calls per image with retries", "bare_retry.w1.detects_per_image")]
    for prefix, name in (("", ".pth"), ("onnx.", ".onnx")):
        rows += [(f"landmarker alone p50 / p95 (ms) [{name} run]", f"{prefix}landmarker"),
                 (f"main.py frame path {name} p50 / p95 (ms)", f"{prefix}frame"),
                 ("  landmarker (HandDetector.detect)", f"{prefix}frame.landmarker"),
                 ("  features + model + smoothing + speller", f"{prefix}frame.model"),
                 ("  drawing + JSONL line", f"{prefix}frame.draw"),
                 (f"frame_vs_landmarker {name}", f"{prefix}frame_vs_landmarker"),
                 (f"--both-views frame path {name} p50 / p95 (ms)", f"{prefix}both_views"),
                 (f"both_views_vs_landmarker {name}", f"{prefix}both_views_vs_landmarker")]
    rows += [("hands per frame", "hands_per_frame"),
             ("photos timed (IMAGE mode, >= 200 px)", "photos"),
             ("landmarker alone, one photo p50 / p95 (ms)", "photo.landmarker")]
    for view in ("one_view", "both_views", "all_views"):
        rows += [(f"main.py photo path, {view.replace('_', ' ')} p50 / p95 (ms)", f"photo.{view}"),
                 (f"photo {view}_vs_landmarker", f"photo.{view}_vs_landmarker")]
    for name in CLASSIFIERS:
        rows += [(f"{name}: logits batch 1 (ms)", f"classifier.{name}.batch1_ms"),
                 (f"{name}: predict_proba batch 1 (ms)", f"classifier.{name}.proba_batch1_ms"),
                 (f"{name}: logits batch {BATCH} (samples/s)", f"classifier.{name}.batch{BATCH}_per_s"),
                 (f"{name}: batch 1 / landmarker p50", f"classifier.{name}.batch1_fraction")]
    rows += [("train.py, per epoch (s)", "train.epoch_s"), ("train.py, wall (s)", "train.wall_s"),
             (f"train.py, {TRAIN_EPOCHS} epochs (s)", "train.50_epochs_s"), ("train samples", "train.samples"),
             ("main.py start to first JSONL line, .pth (s)", "startup.pth_s"),
             ("main.py start to first JSONL line, .onnx (s)", "startup.onnx_s")]
    rows += [(f"peak RSS {k[len('memory_mb.'):]} (MB)", k) for k in sorted(summary) if k.startswith("memory_mb.")]
    lines = []
    for label, key in rows:
        if f"{key}.p50_ms" in summary:
            lines.append(f"{label:<46} {summary[f'{key}.p50_ms']:>10.2f} / {summary[f'{key}.p95_ms']:.2f}")
        elif key in summary:
            lines.append(f"{label:<46} {summary[key]:>10.4g}")
    verdicts = []
    lines.append("\ntargets")
    for name, (key, kind, limit) in TARGETS.items():
        value = summary.get(key)
        ok = None if value is None else (value >= limit if kind == "min" else value <= limit)
        verdicts.append({"target": name, "figure": key, "value": value, kind: limit, "pass": ok})
        shown = "not measured" if value is None else f"{value:.4g}"
        verdict = "skip" if ok is None else "PASS" if ok else "FAIL"
        lines.append(f"  {verdict:<5} {name:<42} {shown:>12}  ({'>=' if kind == 'min' else '<='} {limit:g})")
    return "\n".join(lines), verdicts


def print_profile(path: Path, top: int = 15) -> None:
    """The hottest functions of a cProfile dump, by own time."""
    import pstats
    print(f"\n--- profile {path} (top {top} by own time)")
    pstats.Stats(str(path), stream=sys.stdout).sort_stats("tottime").print_stats(top)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; defaults are the settings at the top of this file."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA, help="folder of class folders of images")
    p.add_argument("--images", type=int, default=IMAGES, help="images in the preprocess slice")
    p.add_argument("--workers", type=int, default=WORKERS, help="N for the N-worker runs")
    p.add_argument("--repeats", type=int, default=REPEATS, help="rounds; each figure is their median")
    p.add_argument("--video-images", type=int, default=VIDEO_IMAGES, help="images in the test video")
    p.add_argument("--calls", type=int, default=CALLS, help="batch-1 classifier calls per round")
    p.add_argument("--weights", type=Path, default=WEIGHTS, help=".pth checkpoint timed (random if absent)")
    p.add_argument("--train-data", default=TRAIN_DATA, help="preprocess.py output of all data, for train.py")
    p.add_argument("--train-epochs", type=int, default=TRAIN_EPOCHS,
                   help="epochs timed (fewer: the 50-epoch figure is extrapolated)")
    p.add_argument("--skip-train", action="store_true", help="do not time train.py")
    p.add_argument("--profile", type=Path, metavar="DIR", help="also cProfile the preprocess (1 worker) and "
                                                               "frame jobs into DIR and print their hot spots")
    p.add_argument("--quick", action="store_true", help="smoke run: 12 images, 1 round, 2 video images, "
                                                        "few calls, no training, no warm-up run")
    p.add_argument("--json", type=Path, metavar="OUT", help="write all figures as JSON")
    for hidden in ("--job", "--job-args", "--job-result", "--job-profile"):
        p.add_argument(hidden, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.images, args.repeats, args.video_images, args.calls, args.skip_train = 12, 1, 2, 100, True
    if min(args.images, args.workers, args.repeats, args.video_images, args.calls, args.train_epochs) < 1:
        p.error("counts must be at least 1")
    if args.workers == 1:
        p.error("--workers is N of the '1 vs N workers' comparison; use 2 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    args = parse_args(argv)
    if args.job:
        run_job_here(args.job, json.loads(args.job_args), args.job_result, args.job_profile)
        return 0
    sys.path.insert(0, str(REPO))
    notes: list[str] = []
    if not args.skip_train and not (Path(args.train_data) / "manifest.csv").is_file():
        notes.append(f"training not timed: no finished preprocess.py output in {args.train_data} "
                     f"(run `python preprocess.py --data {DATA} --out {args.train_data}`, ~10+ min)")
        args.skip_train = True
    load = os.getloadavg()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="asl-bench-") as name:
        tmp = Path(name)
        images, paths = image_slice(args.data, args.images, tmp)
        setup = run_job("setup", tmp, paths=paths, video_images=args.video_images, folder=str(tmp),
                        weights=str(args.weights.resolve()))
        notes += setup["notes"]
        for r in range(args.repeats):
            print(f"round {r + 1}/{args.repeats} (load average {os.getloadavg()[0]:.1f})", file=sys.stderr)
            rounds.append(one_round(args, r, tmp, images, paths, setup))
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            run_job("preprocess", tmp, str(args.profile / "preprocess.prof"), images=str(images), workers=1,
                    count=len(paths))
            run_job("frames", tmp, str(args.profile / "frames.prof"), video=setup["video"], weights=setup["pth"])
    summary = {k: float(np.median([r[k] for r in rounds if k in r])) for k in rounds[0]}
    table, verdicts = report(summary, args)
    machine = {"cpus": os.cpu_count(), "load_average_start": load, "load_average_end": os.getloadavg(),
               "benchmark_parent_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print(f"{len(paths)} images, {args.workers} workers, {args.repeats} round(s); medians.  "
          f"load average {load[0]:.1f} at start, {machine['load_average_end'][0]:.1f} at end on {os.cpu_count()} CPUs")
    print(table)
    for note in notes:
        print(f"note: {note}")
    if args.profile:
        for name in ("preprocess", "frames"):
            print_profile(args.profile / f"{name}.prof")
    if args.json:
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                    if not k.startswith("job") and k != "json"}
        result = {"settings": settings, "machine": machine, "median": summary, "targets": verdicts,
                  "rounds": rounds, "notes": notes}
        import atomic_files
        atomic_files.write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
