"""Adapt the trained model to one signer from a few of their own samples.

    python personalize.py SAMPLES_DIR --out MINE.pth [--weights BASE.pth] [--shots K] [--base-data DIR]
    python personalize.py --measure --base-data DIR [--json OUT.json]

SAMPLES_DIR holds class folders of photos and/or landmark .npy files (SAMPLES_DIR/<CLASS>/...), or
the layout `main.py --record` writes (SAMPLES_DIR/train/<CLASS>/*.npy + SAMPLES_DIR/manifest.csv).
The whole small network is fine-tuned for a few epochs at a low learning rate (AdamW, BatchNorm
statistics frozen) on the signer's samples with a mild online augmentation (one person at one
camera) and a larger weight in the loss, mixed with a replay sample of the base data when
--base-data is given, and always pulled toward the base weights (L2-SP), so letters without
samples keep the base behaviour.  The output is a normal checkpoint with the base
model's classes and temperature, written with its ONNX export beside it (same stem, .onnx: what
main.py and evaluate.py run; onnx_export.py, checked against PyTorch).

--measure: for each held-out signer collection, train a base model without it (training.py), enrol K
samples per letter, and score that signer's other samples before and after, plus the change on the
other collections' test split (forgetting).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from storage import atomic_files
from dataset import dataset_layout as layout
from hand import keypoints, photo_readers
import model as model_lib
from classifiers import onnx_export
from classifiers import training
from classifiers.personal_tuning import USER_AUGMENTS, Samples, Tuning, accuracy, fine_tune, own_samples_report
from classifiers.classifier import CheckpointError, default_class_mapping, write_class_mapping
from data_loader import Augment, LandmarkDataset, read_handedness

# ----------------------------------------------------------------------------- settings
WEIGHTS = str(Path(__file__).with_name("keypoint_model_L_cnn_50.pth"))
SHOTS = 0  # samples per class used (0: all)
BASE_DATA = None  # preprocess.py output folder for the replay sample (None: L2-SP only)
EPOCHS = 60  # passes over the signer's samples
BATCH_SIZE = 16  # signer samples per step
REPLAY = 4  # base samples per signer sample in each step (2: up to 1.2 points forgotten in --measure)
LEARNING_RATE = 5e-4
L2SP = 1e-2  # pull toward the base weights: L2SP * sum((w - w_base)^2)
# A signer sample's weight in the loss against a replay sample's 1, and the augmentation of the
# signer's samples (one of personal_tuning.USER_AUGMENTS).  With 1, training's augmentation and 30
# epochs, a letter this signer makes their own way was often never learnt, not even on the enrolled
# samples (sarthak2656's K stayed V); these two and 60 epochs, chosen on eight new people's fold
# models and checked on five others, took them from 96.9% to 98.0% (docs/usage.md, "Personalise
# to your own hand").
USER_WEIGHT = 3.0
USER_AUGMENT = "mild"
SEED = 0
WORKERS = os.cpu_count() or 1  # hand detection processes for photos
HAND_MODEL = None
MEASURE_SOURCES = ["t32rahman", "seeeeeeel", "longhongvo23"]  # held-out signers for --measure
MEASURE_SHOTS = [1, 3, 5, 10]
BASE_EPOCHS = training.EPOCHS  # epochs of each leave-one-source-out base model in --measure
# -----------------------------------------------------------------------------


class Refusal(RuntimeError):
    """Input that cannot be personalised on; reported as one line, exit code 2."""


# ----------------------------------------------------------------------------- reading samples
def class_roots(samples_dir: Path) -> tuple[list[Path], dict[str, str]]:
    """Folders holding class folders (SAMPLES_DIR itself, or its split folders in the recorded
    layout) and the handedness per relative path from SAMPLES_DIR/manifest.csv."""
    if not samples_dir.is_dir():
        raise Refusal(f"samples folder not found: {samples_dir}")
    splits = [samples_dir / s for s in layout.SPLITS if (samples_dir / s).is_dir()]
    return splits or [samples_dir], read_handedness(samples_dir / "manifest.csv")


def pick(labels: list[str], shots: int, seed: int) -> np.ndarray:
    """Indices of at most `shots` items per label (0: all), chosen by a seeded permutation."""
    rng = np.random.default_rng(seed)
    chosen = [i for label in sorted(set(labels))
              for i in rng.permutation([j for j, x in enumerate(labels) if x == label])[:shots or None]]
    return np.array(sorted(chosen), np.int64)


def list_files(roots: list[Path], classes: list[str], shots: int, seed: int) -> list[layout.Entry]:
    """Usable photo and .npy files of the base model's classes, at most `shots` per class."""
    entries: list[layout.Entry] = []
    for root in roots:
        found, unknown = layout.list_entries(layout.Source(root.name, root))
        outside = sorted({e.label for e in found} - set(classes))
        for name in unknown + outside:
            print(f"warning: skipped folder {name}: not a class of the base model", file=sys.stderr)
        entries += [e for e in found if e.label in classes and layout.file_problem(e.path) is None
                    and (e.path.suffix.lower() in layout.IMAGE_EXTENSIONS
                         or e.path.suffix.lower() == layout.LANDMARK_EXTENSION)]
    return [entries[i] for i in pick([e.label for e in entries], shots, seed)]


def read_samples(samples_dir: Path, classes: list[str], shots: int, seed: int, workers: int,
                 hand_model: str | None) -> tuple[Samples, dict[str, int]]:
    """The signer's hands (photos through the IMAGE-mode landmarker, .npy validated) and counts."""
    from tqdm import tqdm
    roots, handedness = class_roots(samples_dir)
    entries = list_files(roots, classes, shots, seed)
    found: dict[int, tuple[np.ndarray, tuple[str, float | None]]] = {}  # entry index -> (landmarks, (handedness, score))
    is_photo = [e.path.suffix.lower() in layout.IMAGE_EXTENSIONS for e in entries]
    photos = [i for i, photo in enumerate(is_photo) if photo]
    for i, e in enumerate(entries):
        if not is_photo[i] and (lm := layout.read_landmark_file(e.path)) is not None:
            found[i] = lm, handedness.get(e.path.relative_to(samples_dir).as_posix(), ("", None))
    if photos:
        keypoints.resolve_hand_model(hand_model)
        for j, readings in tqdm(photo_readers.detect_files([str(entries[i].path) for i in photos], workers, hand_model),
                                total=len(photos), desc="finding hands", unit="photo", dynamic_ncols=True):
            if readings and readings[-1].hands:  # the first reading that found a hand
                hand = readings[-1].hands[0]
                found[photos[j]] = hand.landmarks, (hand.handedness, hand.score)
    counts = {"files": len(entries), "photos": len(photos), "hands": len(found)}
    if not found:
        raise Refusal(f"no usable hands in {samples_dir} ({len(entries)} files of the model's classes)")
    order = sorted(found)  # photos arrive in completion order
    names = sorted({entries[i].label for i in order})
    if len(names) < 2:
        raise Refusal(f"samples of only one class ({names[0]}) in {samples_dir}; need at least two")
    hand = np.array([found[i][1][0].lower() for i in order], dtype=object)
    right = np.array([keypoints.right_probability(*found[i][1])[0] for i in order], np.float32)
    return Samples(np.array([found[i][0] for i in order], np.float32).reshape(-1, keypoints.NUM_LANDMARKS, 3),
                   right, ~np.isin(hand, ["left", "right"]),
                   np.array([classes.index(entries[i].label) for i in order], np.int64)), counts


def replay_data(base_data: str, classes: list[str], seed: int) -> LandmarkDataset:
    """The train split of a preprocess.py output folder, augmented like training."""
    if not Path(base_data, "train").is_dir():
        raise Refusal(f"--base-data {base_data} has no train split (a preprocess.py output folder)")
    return LandmarkDataset(base_data, "train", classes=classes, augment=Augment(), seed=seed,
                           small_readings=training.SMALL_READINGS)


# ----------------------------------------------------------------------------- personalise
def personalise(args: argparse.Namespace) -> int:
    """The personalisation command; returns the exit code."""
    started = time.time()
    base, payload = model_lib.load_checkpoint(args.weights, default_class_mapping(args.weights))
    classes = list(payload["classes"])
    user, counts = read_samples(Path(args.samples), classes, args.shots, args.seed, args.workers, args.hand_model)
    replay = replay_data(args.base_data, classes, args.seed) if args.base_data else None
    pool = np.arange(len(replay)) if replay is not None else None
    net = fine_tune(base, user, tuning_of(args), replay, pool)
    report, own_right = own_samples_report(base, net, user, classes)
    per_class = {classes[c]: int(n) for c, n in zip(*np.unique(user.labels, return_counts=True))}
    meta = {"temperature": float(payload.get("meta", {}).get("temperature", 1.0)),
            "personalized": {"base_weights": str(Path(args.weights).resolve()), "shots": args.shots,
                             "samples": len(user), "samples_per_class": per_class, **counts,
                             "base_data": args.base_data, "replay_samples": len(replay) if replay else 0,
                             "epochs": args.epochs, "lr": args.lr, "l2sp": args.l2sp, "seed": args.seed,
                             "user_weight": args.user_weight, "user_augment": args.user_augment,
                             "own_samples_right": own_right},
            "base_meta": payload.get("meta", {})}
    out = Path(args.out)
    model_lib.save_checkpoint(out, net, classes, payload["model_config"], meta)
    if out.parent.resolve() != Path(args.weights).parent.resolve():
        write_class_mapping(default_class_mapping(out), classes)
    exported = onnx_export.beside(out)
    onnx_export.export(out, exported)
    print(f"personalised on {len(user)} hands of {len(per_class)} classes ({counts['photos']} photos, "
          f"{counts['files'] - counts['photos']} landmark files) in {time.time() - started:.1f} s; wrote {out} "
          f"and its ONNX export {exported} (run either with main.py --weights)")
    print(report)
    return 0


# ----------------------------------------------------------------------------- measurement
def loso_base(base_data: str, source: str, epochs: int, work: Path) -> Path:
    """Base weights trained without `source` (reused when already in `work`)."""
    weights = work / source / "model.pth"
    if not weights.is_file():
        try:
            training.fit(training.Settings([base_data], str(weights), epochs=epochs, exclude_source=[source]))
        except training.TrainingError as err:
            raise Refusal(f"training the base model without {source} failed: {err}") from None
    return weights


def measure_source(base_data: str, source: str, args: argparse.Namespace, replay: LandmarkDataset,
                   test: LandmarkDataset, work: Path) -> dict[str, Any]:
    """Before/after accuracy on one held-out signer for every K, and forgetting on the base test split."""
    held = LandmarkDataset(base_data, list(layout.SPLITS), classes=replay.classes, sources=[source])
    originals = np.flatnonzero(~held.mirrored)
    if not len(originals):
        raise Refusal(f"no samples of source {source} in {base_data}")
    base, payload = model_lib.load_checkpoint(loso_base(base_data, source, args.base_epochs, work))
    if payload["classes"] != replay.classes:
        raise Refusal(f"the base model without {source} has other classes than {args.weights}")
    pool = np.flatnonzero(replay.sources != source)
    others = test.sources != source
    before_base = accuracy(base, test, others)
    result: dict[str, Any] = {"signer_samples": len(originals), "base_test_samples": int(others.sum())}
    for k in args.measure_shots:
        enrol = originals[pick([str(x) for x in held.labels[originals]], k, args.seed)]
        rest = np.zeros(len(held), bool)
        rest[originals], rest[enrol] = True, False
        user = Samples(held.landmarks[enrol], held.right[enrol], held.unknown[enrol], held.labels[enrol])
        started = time.time()
        net = fine_tune(base, user, tuning_of(args), replay, pool, progress=False)
        result[f"K={k}"] = {"enrolled": len(enrol), "scored": int(rest.sum()),
                            "signer_before": accuracy(base, held, rest), "signer_after": accuracy(net, held, rest),
                            "base_test_before": before_base, "base_test_after": accuracy(net, test, others),
                            "seconds": round(time.time() - started, 1)}
    return result


def measure(args: argparse.Namespace) -> int:
    """--measure: the leave-one-signer-out personalisation table; returns the exit code."""
    if not args.base_data:
        raise Refusal("--measure needs --base-data (a preprocess.py output folder)")
    classes = list(model_lib.load_checkpoint(args.weights)[1]["classes"])
    replay = replay_data(args.base_data, classes, args.seed)
    test = LandmarkDataset(args.base_data, "test", classes=classes)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="personalize-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        for source in args.measure_sources:
            results[source] = measure_source(args.base_data, source, args, replay, test, work)
    print(f"\n{'held-out signer':<16} {'K':>3} {'scored':>7} {'before':>8} {'after':>8} {'base test':>10} {'change':>8}")
    for source, r in results.items():
        for key, row in ((k, v) for k, v in r.items() if k.startswith("K=")):
            print(f"{source:<16} {key[2:]:>3} {row['scored']:>7} {100 * row['signer_before']:>8.2f} "
                  f"{100 * row['signer_after']:>8.2f} {100 * row['base_test_after']:>10.2f} "
                  f"{100 * (row['base_test_after'] - row['base_test_before']):>+8.2f}")
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("samples", "out", "json")}
        atomic_files.write_json(args.json, {"settings": settings, "results": results})
    return 0


# ----------------------------------------------------------------------------- command line
def tuning_of(args: argparse.Namespace) -> Tuning:
    """The fine-tuning settings from the flags."""
    return Tuning(args.epochs, args.batch_size, args.replay, args.lr, args.l2sp, args.seed, args.user_weight,
                  args.user_augment)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; defaults are the settings at the top of this file."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("samples", nargs="?", help="class folders of the signer's photos / landmark .npy")
    p.add_argument("--weights", default=WEIGHTS, help="base checkpoint, with class_mapping.txt beside it")
    p.add_argument("--out", help="personalised checkpoint (.pth) to write (its .onnx export and class_mapping.txt "
                                 "go beside it)")
    p.add_argument("--shots", type=int, default=SHOTS, help="at most this many samples per class (0: all)")
    p.add_argument("--base-data", default=BASE_DATA, help="preprocess.py output folder for replay")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="signer samples per step")
    p.add_argument("--replay", type=int, default=REPLAY, help="base samples per signer sample in a step")
    p.add_argument("--lr", type=float, default=LEARNING_RATE)
    p.add_argument("--l2sp", type=float, default=L2SP, help="weight of the pull toward the base weights")
    p.add_argument("--user-weight", type=float, default=USER_WEIGHT,
                   help="a signer sample's weight in the loss against a replay sample's 1")
    p.add_argument("--user-augment", choices=sorted(USER_AUGMENTS), default=USER_AUGMENT,
                   help="augmentation of the signer's samples (training: as train.py's)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--workers", type=int, default=WORKERS, help="hand detection processes")
    p.add_argument("--hand-model", default=HAND_MODEL, help="hand_landmarker.task (None: found automatically)")
    p.add_argument("--measure", action="store_true", help="leave-one-signer-out measurement instead")
    p.add_argument("--measure-sources", nargs="+", default=MEASURE_SOURCES, metavar="SOURCE")
    p.add_argument("--measure-shots", type=int, nargs="+", default=MEASURE_SHOTS, metavar="K")
    p.add_argument("--base-epochs", type=int, default=BASE_EPOCHS, help="epochs of each --measure base model")
    p.add_argument("--work", help="--measure: keep (and reuse) the base models here")
    p.add_argument("--json", help="--measure: write the results as JSON")
    args = p.parse_args(argv)
    if not args.measure and (args.samples is None or args.out is None):
        p.error("SAMPLES_DIR and --out are required (or --measure)")
    if args.out is not None and args.out.lower().endswith(".onnx"):
        p.error("--out is the .pth checkpoint to write; its .onnx export is written beside it")
    if args.shots < 0 or args.epochs < 1 or args.batch_size < 1 or args.user_weight <= 0:
        p.error("--shots must be >= 0, --epochs and --batch-size >= 1, --user-weight > 0")
    problem = atomic_files.missing_folder({"--json": args.json})
    if problem:
        p.error(problem)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run; returns the exit code (2 with one line on stderr for unusable input)."""
    args = parse_args(argv)
    try:
        return measure(args) if args.measure else personalise(args)
    except (Refusal, CheckpointError, keypoints.HandModelError) as err:
        print(f"personalize.py: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
