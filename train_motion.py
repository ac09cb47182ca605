"""Train the J/Z motion-letter model, measure it, and write its weights.

    python train_motion.py [--static DIR ...] [--eval-sources NAME ...] [--folds 5] [--compare-no-synthetic]
                           [--weights motion_letters.json] [--json docs/results/motion_letters.json]

The model (classifiers/motion_letters.py) reads J and Z from the tracked hand's path over the last
second.  It is trained on tresajoby's recorded J and Z sequences (the shared data's only motion
data, one person) and on synthetic streams made from every signer's static hands
(dataset/motion_streams.py): synthetic J and Z paths traced by I and index-finger hands, and
negatives (spelling streams of static letters, hands held still, hands moved along random paths).

Measured, and written to --json: recall on recorded sequences held out in blocks of consecutive
ones (--folds blocks per letter, each fold trained without its block; with
--compare-no-synthetic also without the synthetic J and Z), played at 15 and 30 fps; and, with the
shipped model, false J/Z per minute on spelling and idle streams at 15 and 30 fps made from the
static hands of --eval-sources, signers no model here is trained on; and the time per frame.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, replace

import numpy as np

from classifiers import motion_evaluation as evaluation
from classifiers import motion_letters as ml
from classifiers import motion_training as mt
from dataset import motion_paths
from dataset import motion_streams as streams
from storage import atomic_files

# ----------------------------------------------------------------------------- settings
SHARED_DATA = "../shared/data"  # holds more-signers/tresajoby/dynamic/{J,Z}.npy
STATIC_DIRS = ["data_processed"]  # preprocess.py output (or raw folders of landmark files): static hands
EVAL_SOURCES = ["hands4all_saksham", "meyyappan_in", "thanakrit_th", "lolzorus_fr", "sarthak2656"]  # never trained on
WEIGHTS = str(ml.MOTION_WEIGHTS.name)
RESULTS = "docs/results/motion_letters.json"
FOLDS = 5  # blocks of consecutive recorded sequences per letter, each held out in turn (0: none)
SYNTHETIC = mt.TrainSettings.synthetic  # synthetic streams per motion letter
EPOCHS = mt.TrainSettings.epochs
HIDDEN = list(mt.TrainSettings.hidden)
SEED = 0
EVAL_FPS = [15.0, 30.0]
EVAL_SPELLING_STREAMS = 60  # per frame rate: 20 letters each, ~0.7 s a letter (~18 minutes)
EVAL_IDLE_STREAMS = 30  # per frame rate: 20 s of a still hand each (10 minutes)
EVAL_MOVE_STREAMS = 300  # per frame rate: hands moved along random paths
EVAL_SYNTHETIC = 100  # per letter and frame rate: synthetic J and Z traced by the held-out signers' hands
# -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; defaults are the settings at the top of this file."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default=SHARED_DATA, help="the shared data folder (recorded J and Z sequences)")
    p.add_argument("--static", nargs="+", default=STATIC_DIRS, metavar="DIR",
                   help="preprocess.py output folders or raw folders of landmark files: the static hands")
    p.add_argument("--eval-sources", nargs="+", default=EVAL_SOURCES, metavar="NAME",
                   help="signers (sources) kept out of training; their static hands make the false-letter streams")
    p.add_argument("--weights", default=WEIGHTS, help="the weights file to write (JSON)")
    p.add_argument("--json", default=RESULTS, help="where to write the measured figures")
    p.add_argument("--folds", type=int, default=FOLDS, help="blocks of recorded sequences held out in turn (0: none)")
    p.add_argument("--compare-no-synthetic", action="store_true",
                   help="also measure the folds trained without synthetic J and Z")
    p.add_argument("--synthetic", type=int, default=SYNTHETIC, help="synthetic streams per motion letter")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--hidden", type=int, nargs="+", default=HIDDEN, help="hidden layer widths")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--no-final", action="store_true", help="only measure the folds; write no weights")
    args = p.parse_args(argv)
    if args.folds < 0 or args.folds == 1 or args.folds > 20 or args.epochs < 1 or args.synthetic < 0:
        p.error("--folds must be 0 or 2-20, --epochs at least 1, --synthetic at least 0")
    if not args.weights.lower().endswith(".json"):
        p.error("--weights is a .json file")
    if min(args.hidden) < 1:
        p.error("--hidden widths must be at least 1")
    problem = atomic_files.missing_folder({"--json": args.json, "--weights": None if args.no_final else args.weights})
    if problem:
        p.error(problem)
    return args


def train_model(hands: motion_paths.HandSet, recorded: dict[str, np.ndarray], train: mt.TrainSettings,
                about: dict, label: str) -> dict:
    """Make the training windows, fit, and return the weights (`motion_letters.weights_payload`)."""
    from tqdm import tqdm
    rng = np.random.default_rng(train.seed)
    with tqdm(total=mt.stream_count(recorded, train), desc=f"{label}: streams", unit="stream",
              dynamic_ncols=True, leave=False) as bar:
        x, y = mt.training_set(hands, recorded, ml.Settings(), train, rng, bar)
    with tqdm(total=train.epochs, desc=f"{label}: fit", unit="epoch", dynamic_ncols=True, leave=False) as bar:
        mean, std, layers = mt.fit(x, y, train, bar)
    about = {**about, "windows": {c: int(n) for c, n in zip(ml.CLASSES, np.bincount(y, minlength=3))}}
    return ml.weights_payload(ml.Settings(), mean, std, layers, about)


def held_out_recall(hands: motion_paths.HandSet, recorded: dict[str, np.ndarray], folds: int,
                    train: mt.TrainSettings) -> dict:
    """Recall on each block of recorded sequences with a model trained without it, pooled."""
    pooled = {fps: evaluation.Recall() for fps in EVAL_FPS}
    per_fold = []
    for k in range(folds):
        held = {letter: [i for i in range(len(seqs)) if i * folds // len(seqs) == k]
                for letter, seqs in recorded.items()}
        rest = {letter: np.delete(seqs, held[letter], axis=0) for letter, seqs in recorded.items()}
        model = ml.MotionModel(train_model(hands, rest, replace(train, seed=train.seed + k), {}, f"fold {k + 1}/{folds}"))
        fold = {"held_out": {letter: [idx[0], idx[-1]] for letter, idx in held.items()}}
        for fps in EVAL_FPS:
            fold[f"{fps:g}fps"] = evaluation.recorded_recall(model, recorded, held, fps).summary()["recall"]
            evaluation.recorded_recall(model, recorded, held, fps, pooled[fps])
        per_fold.append(fold)
        print(f"fold {k + 1}/{folds}: " + ", ".join(f"{key} J {v['J']:.0%} Z {v['Z']:.0%}"
                                                   for key, v in fold.items() if key != "held_out"))
    return {"folds": per_fold, **{f"{fps:g}fps": pooled[fps].summary() for fps in EVAL_FPS}}


def measure_streams(model: ml.MotionModel, hands: motion_paths.HandSet, seed: int) -> tuple[dict, dict]:
    """On streams of the held-out signers' static hands, at each of EVAL_FPS: false J/Z per
    minute (spelling, idle and move streams) and synthetic J and Z (0.3-1.2 s) read right."""
    from tqdm import tqdm
    rng = np.random.default_rng(seed)
    kinds = {"spelling": (EVAL_SPELLING_STREAMS, lambda fps: streams.letter_stream(hands, rng, fps, letters=20)),
             "idle": (EVAL_IDLE_STREAMS, lambda fps: streams.idle_stream(hands, rng, fps, 20.0)),
             "moves": (EVAL_MOVE_STREAMS, lambda fps: streams.move_stream(hands, rng, fps)),
             "J": (EVAL_SYNTHETIC, lambda fps: streams.motion_stream(hands, "J", rng, fps, (0.3, 1.2))),
             "Z": (EVAL_SYNTHETIC, lambda fps: streams.motion_stream(hands, "Z", rng, fps, (0.3, 1.2)))}
    false, synthetic = {}, {}
    with tqdm(total=len(EVAL_FPS) * sum(n for n, _ in kinds.values()), desc="measuring", unit="stream",
              dynamic_ncols=True, leave=False) as bar:
        for fps in EVAL_FPS:
            key, motions = f"{fps:g}fps", []
            false[key] = {}
            for kind, (count, make) in kinds.items():
                made = [make(fps) for _ in range(count)]
                if kind in ("J", "Z"):
                    motions += made
                else:
                    false[key][kind] = evaluation.false_letters(model, made)
                bar.update(count)
            synthetic[key] = evaluation.synthetic_recall(model, motions)
    return false, synthetic


def frame_time(model: ml.MotionModel, hands: motion_paths.HandSet, seed: int) -> dict:
    """Time of `MotionLetters.update` per frame (ms) on a spelling stream and a synthetic J at 30 fps."""
    rng = np.random.default_rng(seed)
    made = [streams.letter_stream(hands, rng, 30.0, letters=20),
            streams.motion_stream(hands.where(motion_paths.MOTION_HANDS["J"]), "J", rng, 30.0, (0.5, 0.8))]
    detector = ml.MotionLetters(model)
    spent = []
    for stream in made * 5:
        detector.reset()
        for t, lm in zip(stream.times.tolist(), stream.landmarks):
            seen = not np.isnan(lm[0, 0])
            start = time.perf_counter()
            detector.update(t, lm if seen else None, stream.handedness if seen else None)
            spent.append(time.perf_counter() - start)
    ms = np.array(spent) * 1000.0
    return {"frames": len(ms), "mean_ms": float(ms.mean()), "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max())}


def main(argv: list[str] | None = None) -> int:
    """Returns the exit code (2 with one line for unusable data or flags)."""
    args = parse_args(argv)
    try:
        recorded = motion_paths.read_sequences(args.data)
        hands = motion_paths.static_hands(args.static)
    except (FileNotFoundError, ValueError) as err:
        print(f"train_motion.py: error: {err}", file=sys.stderr)
        return 2
    sources = sorted(set(hands.sources.tolist()))
    missing = sorted(set(args.eval_sources) - set(sources))
    if missing:
        print(f"train_motion.py: error: --eval-sources not among the static hands' sources: {', '.join(missing)} "
              f"(found: {', '.join(sources)})", file=sys.stderr)
        return 2
    held_out = set(args.eval_sources)
    train_hands, eval_hands = hands.where(exclude=held_out), hands.where(sources=held_out)
    if not all(len(train_hands.where(motion_paths.MOTION_HANDS[c]).letters) for c in ("J", "Z")):
        print("train_motion.py: error: no I or index-finger (D) hands to trace synthetic J and Z with", file=sys.stderr)
        return 2
    train = replace(mt.TrainSettings(), synthetic=args.synthetic, epochs=args.epochs, hidden=tuple(args.hidden),
                    seed=args.seed)
    results: dict = {"command": "python train_motion.py " + " ".join(sys.argv[1:] if argv is None else argv),
                     "settings": asdict(ml.Settings()), "train": asdict(train),
                     "recorded_fps_assumed": motion_paths.REAL_FPS,
                     "train_sources": sorted(set(train_hands.sources.tolist())), "eval_sources": sorted(held_out),
                     "synthetic": "J/Z paths traced by static hands, and every negative stream (dataset/motion_streams.py)"}
    try:
        if args.folds:
            results["held_out_recall"] = held_out_recall(train_hands, recorded, args.folds, train)
            if args.compare_no_synthetic:
                results["held_out_recall_no_synthetic"] = held_out_recall(
                    train_hands, recorded, args.folds, replace(train, synthetic=0))
        if not args.no_final:
            about = {"command": results["command"], "recorded": "tresajoby J, Z (all sequences)",
                     "static_sources": results["train_sources"], "synthetic": results["synthetic"]}
            payload = train_model(train_hands, recorded, train, about, "shipped model")
            ml.save_weights(args.weights, payload)
            model = ml.MotionModel.load(args.weights)
            results["false_letters"], results["synthetic_recall_eval_signers"] = measure_streams(
                model, eval_hands, args.seed + 1000)
            results["frame_time"] = frame_time(model, eval_hands, args.seed + 2000)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    atomic_files.write_json(args.json, results)
    print(f"wrote {args.json}" + ("" if args.no_final else f" and {args.weights}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
