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
- web: the browser page (web/) in headless Chromium, a fresh browser and page each round, its fake
  camera playing the test video as a y4m at 15 fps: ready time (navigation start to the models and
  the lexicon loaded), then per-frame ms from `window.asl.timings` of --web-frames frames after
  --web-warmup: landmarker, features + model (+ smoothing, speller, text), drawing, their sum;
  (model + draw) / landmarker as a ratio of medians (p50 of the per-frame sum / p50 of the
  landmarker); frames the page processed per second; Chromium's summed PSS.  Skipped, with a
  note, where browser_session.missing() says the page cannot be driven.
- startup: `main.py --no-display --jsonl` on a short video, from process start to its first
  JSONL line (the first processed frame), after one untimed warm-up run (warm file cache), with
  the .pth and the .onnx weights.

The measurements are in bench_files.py (preprocess, bare loop), bench_live.py (frame, photos),
bench_web.py (the page), bench_classifier.py, bench_processes.py (child processes, start-up,
train) and bench_inputs.py (the image slice, test videos and weights); this script holds the
settings, runs the jobs and reports.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench import bench_classifier
from bench import bench_files
from bench import bench_inputs
from bench import bench_live
from bench import bench_web
from bench.bench_processes import run, time_startup, time_training
from storage import atomic_files

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
WEB_FPS = 15  # the page's fake camera plays the test video at this rate ...
WEB_FRAMES = 100  # ... and this many frames the page processed are timed (at most 300) ...
WEB_WARMUP_FRAMES = 10  # ... after this many
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
    "frame_vs_landmarker (the .onnx main.py runs)": ("onnx.frame_vs_landmarker", "max", 1.10),
    "classifier batch-1 / landmarker frame": ("classifier.torch.batch1_fraction", "max", 0.01),
    "train 50 epochs, all data (s)": ("train.50_epochs_s", "max", 300.0),
    "main.py start-up to first frame, .onnx (s)": ("startup.onnx_s", "max", 2.0),
    "page: features + model + drawing / landmarker": ("web.overhead_vs_landmarker", "max", 0.10),
    "page ready, headless (s)": ("web.ready_s", "max", 3.0),
}
# -----------------------------------------------------------------------------


# ----------------------------------------------------------------------------- jobs (child processes)
JOBS = {"setup": bench_inputs.job_setup, "bare": bench_files.job_bare, "preprocess": bench_files.job_preprocess,
        "frames": bench_live.job_frames, "photos": bench_live.job_photos, "classifier": bench_classifier.job_classifier,
        "web": bench_web.job_web}


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
def run_job(name: str, tmp: Path, profile: str | None = None, **args: Any) -> dict:
    """A job in a fresh process; its result plus `memory_mb`."""
    result = tmp / f"{name}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--job", name, "--job-args", json.dumps(args),
           "--job-result", str(result)] + (["--job-profile", profile] if profile else [])
    memory = run(cmd, tmp / f"{name}.log")[1]
    return {**json.loads(result.read_text()), "memory_mb": memory}


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
        frames = run_job("frames", tmp, video=setup["video"], weights=setup[kind], warmup_frames=WARMUP_FRAMES)
        out[f"memory_mb.frames.{kind}"] = frames.pop("memory_mb")
        out.update({prefix + k: v for k, v in frames.items()})
    photos = run_job("photos", tmp, paths=paths, weights=setup["pth"], count=PHOTOS)
    out["memory_mb.photos"] = photos.pop("memory_mb")
    out.update(photos)
    clf = run_job("classifier", tmp, weights=setup["pth"], onnx_path=setup["onnx"], calls=args.calls,
                  landmarks=str(DATA / "landmarks-boris"), batch=BATCH, batch_calls=BATCH_CALLS)
    clf.pop("memory_mb")
    out.update(clf)
    for name in bench_classifier.CLASSIFIERS:
        out[f"classifier.{name}.batch1_fraction"] = out[f"classifier.{name}.batch1_ms"] / out["landmarker.p50_ms"]
    if setup["y4m"]:  # None where browser_session.missing() (job_setup's note says why)
        for hands, prefix in ((None, "web"), (2, "web.two_hands")):  # None: the page's default (one hand)
            web = run_job("web", tmp, y4m=setup["y4m"], onnx=setup["onnx"], frames=args.web_frames,
                          warmup_frames=args.web_warmup, max_hands=hands, prefix=prefix)
            out[f"memory_mb.{prefix}"] = web.pop("memory_mb")
            out.update(web)
    for kind in ("pth", "onnx"):
        out[f"startup.{kind}_s"], out[f"memory_mb.main.{kind}"] = time_startup(
            Path(setup[kind]), Path(setup["still"]), tmp, warm=r == 0 and not args.quick, frames=STARTUP_FRAMES)
    if not args.skip_train:
        out.update(time_training(args.train_data, args.train_epochs, tmp, TRAIN_EPOCHS))
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
                 (f"both_views_vs_landmarker {name}", f"{prefix}both_views_vs_landmarker"),
                 (f"no hand: landmarker p50 / p95 (ms) [{name} run]", f"{prefix}no_hand.landmarker"),
                 (f"no hand: frame path {name} p50 / p95 (ms)", f"{prefix}no_hand.frame"),
                 (f"no hand: frame_vs_landmarker {name}", f"{prefix}no_hand.frame_vs_landmarker")]
    rows += [("hands per frame", "hands_per_frame"),
             ("photos timed (IMAGE mode, >= 200 px)", "photos"),
             ("landmarker alone, one photo p50 / p95 (ms)", "photo.landmarker")]
    for view in ("one_view", "both_views", "all_views"):
        rows += [(f"main.py photo path, {view.replace('_', ' ')} p50 / p95 (ms)", f"photo.{view}"),
                 (f"photo {view}_vs_landmarker", f"photo.{view}_vs_landmarker")]
    for name in bench_classifier.CLASSIFIERS:
        rows += [(f"{name}: logits batch 1 (ms)", f"classifier.{name}.batch1_ms"),
                 (f"{name}: predict_proba batch 1 (ms)", f"classifier.{name}.proba_batch1_ms"),
                 (f"{name}: logits batch {BATCH} (samples/s)", f"classifier.{name}.batch{BATCH}_per_s"),
                 (f"{name}: batch 1 / landmarker p50", f"classifier.{name}.batch1_fraction")]
    rows += [("page ready, headless, fresh browser (s)", "web.ready_s"),
             ("page frame, all stages p50 / p95 (ms)", "web.frame"),
             ("  landmarker (detectForVideo)", "web.landmarker"),
             ("  features + model + smoothing + speller", "web.model"),
             ("  drawing (canvas skeleton + panel)", "web.draw"),
             ("page: (model + draw) p50 / landmarker p50", "web.overhead_vs_landmarker"),
             ("page: frames processed per second", "web.fps"),
             ("page: Chromium processes, summed PSS (MB)", "web.chromium_pss_mb"),
             ("page, two hands: landmarker p50 / p95 (ms)", "web.two_hands.landmarker"),
             ("page, two hands: frames processed per second", "web.two_hands.fps")]
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
        lines.append(f"  {verdict:<5} {name:<46} {shown:>12}  ({'>=' if kind == 'min' else '<='} {limit:g})")
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
    p.add_argument("--web-frames", type=int, default=WEB_FRAMES, help="page frames timed (at most 300)")
    p.add_argument("--web-warmup", type=int, default=WEB_WARMUP_FRAMES, help="page frames before the timed ones")
    p.add_argument("--weights", type=Path, default=WEIGHTS, help=".pth checkpoint timed (random if absent)")
    p.add_argument("--train-data", default=TRAIN_DATA, help="preprocess.py output of all data, for train.py")
    p.add_argument("--train-epochs", type=int, default=TRAIN_EPOCHS,
                   help="epochs timed (fewer: the 50-epoch figure is extrapolated)")
    p.add_argument("--skip-train", action="store_true", help="do not time train.py")
    p.add_argument("--profile", type=Path, metavar="DIR", help="also cProfile the preprocess (1 worker) and "
                                                               "frame jobs into DIR and print their hot spots")
    p.add_argument("--quick", action="store_true", help="smoke run: 12 images, 1 round, 2 video images, "
                                                        "few calls, 20 page frames, no training, no warm-up run")
    p.add_argument("--json", type=Path, metavar="OUT", help="write all figures as JSON")
    for hidden in ("--job", "--job-args", "--job-result", "--job-profile"):
        p.add_argument(hidden, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.images, args.repeats, args.video_images, args.calls, args.skip_train = 12, 1, 2, 100, True
        args.web_frames, args.web_warmup = 20, 5
    if min(args.images, args.workers, args.repeats, args.video_images, args.calls, args.train_epochs,
           args.web_frames, args.web_warmup) < 1:
        p.error("counts must be at least 1")
    if args.web_frames > bench_web.KEPT_TIMINGS:
        p.error(f"--web-frames: the page keeps the timings of its last {bench_web.KEPT_TIMINGS} frames")
    if args.workers == 1:
        p.error("--workers is N of the '1 vs N workers' comparison; use 2 or more")
    problem = atomic_files.missing_folder({"--json": args.json})
    if problem:
        p.error(problem)
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
        images, paths = bench_inputs.image_slice(args.data, args.images, tmp)
        setup = run_job("setup", tmp, paths=paths, video_images=args.video_images, folder=str(tmp),
                        weights=str(args.weights.resolve()), hold_frames=HOLD_FRAMES, startup_frames=STARTUP_FRAMES,
                        web_fps=WEB_FPS)
        notes += setup["notes"]
        for r in range(args.repeats):
            print(f"round {r + 1}/{args.repeats} (load average {os.getloadavg()[0]:.1f})", file=sys.stderr)
            rounds.append(one_round(args, r, tmp, images, paths, setup))
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            run_job("preprocess", tmp, str(args.profile / "preprocess.prof"), images=str(images), workers=1,
                    count=len(paths))
            run_job("frames", tmp, str(args.profile / "frames.prof"), video=setup["video"], weights=setup["pth"],
                    warmup_frames=WARMUP_FRAMES)
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
        atomic_files.write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
