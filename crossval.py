"""Leave-one-source-out: how well the model does on a collection it never saw.

    python crossval.py --data OUT [--holdout SOURCE ...] [--epochs N] [--json OUT.json]

For each held-out source: train.py on every other source (its train/valid splits), then score
all of the held-out source's samples (every split).  The samples are the landmarks preprocess.py
found with the same IMAGE-mode detector evaluate.py uses, so the scores equal evaluate.py's end to
end: images where no hand was found (from manifest.csv) count as the prediction `nothing`.  Four
ways to read a photo are scored: the photo (`evaluate.py --no-both-views --no-border-views`), its
mirror image (`.mirror.npy`, the other hand: `... --flip`), both averaged per photo
(`evaluate.py --no-border-views`) and all views: both, each read with every fallback border too
(`evaluate.py`'s default; needs preprocess.py --border-views).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

import atomic_files
import dataset_layout as layout
import train
from classifier import combine_views, load_classifier
from data_loader import LandmarkDataset

# ----------------------------------------------------------------------------- settings
DATA_DIRS = ["data_processed"]
HOLDOUT: list[str] = []  # empty: every source in turn
EPOCHS = train.EPOCHS
# -----------------------------------------------------------------------------


# name -> (mirror flags read, every border too)
VIEWS = {"original": ((False,), False), "mirrored": ((True,), False), "both_views": ((False, True), False),
         "all_views": ((False, True), True)}


def score_view(truth: list[str], predicted: list[str], missed: Counter) -> dict[str, Any]:
    """Accuracy on found hands (all classes, and letters A-Z only) and end to end (photos with no
    hand found predict `nothing`), with per-class recall and the top confusions."""
    right = np.array([t == p for t, p in zip(truth, predicted)], bool)
    letter = np.isin(np.array(truth, dtype=object), layout.LETTERS)
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
            "letters_on_found": float(right[letter].mean()) if letter.any() else 0.0,
            "accuracy": float(end_to_end_right / max(1, len(truth) + n_missed)),
            "recall": recall, "top_confusions": [f"{a}->{b} {n}" for (a, b), n in pairs.most_common(8)]}


def run_fold(roots: list[str], source: str, epochs: int, augment: bool, balance: float, extra_readings: bool,
             manifest: list[dict[str, str]], work: Path) -> dict[str, Any]:
    """Train without `source`, then score it in each of `VIEWS` (all views: what evaluate.py and
    main.py do for photos by default)."""
    weights = work / source / "model.pth"
    code = train.main(["--data", *roots, "--epochs", str(epochs), "--weights", str(weights),
                       "--exclude-source", source, "--augment" if augment else "--no-augment",
                       "--balance-sources", str(balance),
                       "--extra-readings" if extra_readings else "--no-extra-readings"])
    if code:
        raise RuntimeError(f"training without {source} failed (exit {code})")
    clf = load_classifier(weights)
    held = LandmarkDataset(roots, ["train", "valid", "test"], classes=clf.classes, sources=[source],
                           extra_readings=True)
    result: dict[str, Any] = {"samples": len(held)}
    for name, (views, every_border) in VIEWS.items():
        mask = np.isin(held.mirrored, views) & (every_border | ~held.extra)
        missed = Counter(label for label, _ in layout.photos_without_hand(manifest, views, source=source))
        if (not (mask.any() or missed) or (len(views) > 1 and not held.mirrored.any())
                or (every_border and not held.extra.any())):
            continue  # landmark-only sources have no mirror images; older preprocess runs no border readings
        rows, probs = combine_views(clf.predict_proba(held.landmarks[mask], held.right[mask]), held.photos[mask])
        truth = [held.classes[i] for i in held.labels[np.flatnonzero(mask)[rows]]]
        result[name] = score_view(truth, [clf.classes[i] for i in probs.argmax(1)], missed)
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
    p.add_argument("--balance-sources", type=float, default=train.BALANCE_SOURCES, metavar="POWER",
                   help="train.py's source balancing (0 = uniform sampling)")
    p.add_argument("--extra-readings", action=argparse.BooleanOptionalAction, default=train.EXTRA_READINGS,
                   help="train.py's use of the further border readings")
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
    manifest = layout.read_manifest(Path(args.data[0], "manifest.csv"))  # photos with no hand found
    with tempfile.TemporaryDirectory(prefix="crossval-") as work:
        for source in holdout:
            results[source] = run_fold(args.data, source, args.epochs, args.augment, args.balance_sources,
                                       args.extra_readings, manifest, Path(work))
    fmt = lambda d, k: f"{100 * d[k]:.2f}" if k in d else "-"
    found = lambda d: f"{100 * d['hands_found'] / max(1, d['images']):.1f}" if d else "-"
    for name in VIEWS:
        print(f"\n{name.replace('_', ' ')}:\n{'held-out source':<28} {'found%':>7} {'on found':>9} "
              f"{'letters on found':>17} {'end to end':>11}")
        for source, r in results.items():
            d = r.get(name, {})
            print(f"{source:<28} {found(d):>7} {fmt(d, 'accuracy_on_found'):>9} {fmt(d, 'letters_on_found'):>17} "
                  f"{fmt(d, 'accuracy'):>11}")
    if args.json:
        atomic_files.write_json(args.json, {"epochs": args.epochs, "augment": args.augment,
                                         "balance_sources": args.balance_sources,
                                         "extra_readings": args.extra_readings, "folds": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
