"""Leave-one-source-out: how well the model does on a collection it never saw.

    python crossval.py --data OUT [--holdout SOURCE ...] [--epochs N] [--json OUT.json]

For each held-out source: train.py on every other source (its train/valid splits), then score
all of the held-out source's samples (every split).  The samples are the landmarks preprocess.py
found with the same IMAGE-mode detector evaluate.py uses, so the scores equal evaluate.py's end to
end: images where no hand was found (from manifest.csv) count as the prediction `nothing`.  The
mirrored photos (`.mirror.npy`) give the other-hand score, like `evaluate.py --flip`.
"""
from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

import atomic_files
import train
from classifier import load_classifier
from data_loader import LandmarkDataset

# ----------------------------------------------------------------------------- settings
DATA_DIRS = ["data_processed"]
HOLDOUT: list[str] = []  # empty: every source in turn
EPOCHS = train.EPOCHS
# -----------------------------------------------------------------------------


def missed_images(root: Path, source: str) -> dict[bool, Counter]:
    """Per view (mirrored or not): images of a source with no hand found, counted by class."""
    missed = {False: Counter(), True: Counter()}
    with open(root / "manifest.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["source"] == source and row["status"] == "no_hand":
                missed[bool(int(row["mirrored"]))][row["class"]] += 1
    return missed


def score_view(clf, data: LandmarkDataset, mask: np.ndarray, missed: Counter) -> dict[str, Any]:
    """Accuracy on found hands and end to end (misses predict `nothing`), with per-class recall."""
    probs = clf.predict_proba(data.landmarks[mask], data.left[mask])
    truth = [data.classes[i] for i in data.labels[mask]]
    predicted = [clf.classes[i] for i in probs.argmax(1)] if len(truth) else []
    right = np.array([t == p for t, p in zip(truth, predicted)], bool)
    n_missed = sum(missed.values())
    end_to_end_right = right.sum() + missed.get("nothing", 0)
    recall = {}
    for c in sorted(set(truth) | set(missed)):
        n = truth.count(c) + missed.get(c, 0)
        hits = sum(t == p == c for t, p in zip(truth, predicted)) + (missed.get(c, 0) if c == "nothing" else 0)
        recall[c] = round(hits / n, 4)
    pairs = Counter((t, p) for t, p in zip(truth, predicted) if t != p)
    return {"images": len(truth) + n_missed, "hands_found": len(truth),
            "accuracy_on_found": float(right.mean()) if len(right) else 0.0,
            "accuracy": float(end_to_end_right / max(1, len(truth) + n_missed)),
            "recall": recall, "top_confusions": [f"{a}->{b} {n}" for (a, b), n in pairs.most_common(8)]}


def run_fold(roots: list[str], source: str, epochs: int, augment: bool, work: Path) -> dict[str, Any]:
    """Train without `source`, then score it (original and mirrored photos)."""
    weights = work / source / "model.pth"
    code = train.main(["--data", *roots, "--epochs", str(epochs), "--weights", str(weights),
                       "--exclude-source", source, "--augment" if augment else "--no-augment"])
    if code:
        raise RuntimeError(f"training without {source} failed (exit {code})")
    clf = load_classifier(weights)
    held = LandmarkDataset(roots, ["train", "valid", "test"], classes=clf.classes, sources=[source])
    missed = missed_images(Path(roots[0]), source) if Path(roots[0], "manifest.csv").is_file() else {}
    result = {"samples": len(held)}
    for mirrored in (False, True):
        mask = held.mirrored == mirrored
        if mask.any() or missed.get(mirrored):
            result["mirrored" if mirrored else "original"] = score_view(clf, held, mask, missed.get(mirrored, Counter()))
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; defaults are the settings at the top of this file."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", nargs="+", default=DATA_DIRS, metavar="DIR", help="preprocess.py output folder(s)")
    p.add_argument("--holdout", nargs="*", default=HOLDOUT, metavar="SOURCE",
                   help="sources to hold out in turn (default: all)")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=train.AUGMENT,
                   help="train.py's online augmentation")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every fold; print a table; returns the exit code."""
    args = parse_args(argv)
    if not all(Path(d, "train").is_dir() for d in args.data):
        print("crossval.py: error: --data must be preprocess.py output folder(s)", file=sys.stderr)
        return 2
    every = sorted(set(LandmarkDataset(args.data, ["train", "valid", "test"]).sources))
    holdout = args.holdout or every
    unknown = sorted(set(holdout) - set(every))
    if unknown:
        print(f"crossval.py: error: unknown source(s) {', '.join(unknown)}; known: {', '.join(every)}", file=sys.stderr)
        return 2
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="crossval-") as work:
        for source in holdout:
            results[source] = run_fold(args.data, source, args.epochs, args.augment, Path(work))
    print(f"\n{'held-out source':<28} {'found':>7} {'acc(found)':>11} {'acc(e2e)':>9} {'mirror found':>13} "
          f"{'mirror acc(found)':>18}")
    for source, r in results.items():
        o, m = r.get("original", {}), r.get("mirrored", {})
        fmt = lambda d, k: f"{100 * d[k]:.2f}" if k in d else "-"
        found = lambda d: f"{100 * d['hands_found'] / max(1, d['images']):.1f}" if d else "-"
        print(f"{source:<28} {found(o):>7} {fmt(o, 'accuracy_on_found'):>11} {fmt(o, 'accuracy'):>9} "
              f"{found(m):>13} {fmt(m, 'accuracy_on_found'):>18}")
    if args.json:
        atomic_files.write_json(args.json, {"epochs": args.epochs, "augment": args.augment, "folds": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
