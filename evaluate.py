"""End-to-end scores: images -> hand landmarker -> model, the number users care about.

    python evaluate.py DATA_DIR [DATA_DIR ...] [--weights PATH] [--flip] [--json OUT] [--plot OUT.png]
                       [--plot-reliability OUT.png] [--no-both-views] [--no-border-views]
                       [--clip-frames N] [--channel OUT.json]

DATA_DIR holds class folders of images (searched up to 3 levels down, so a folder of several
collections works, and so do several folders; unknown folders are reported and skipped).  An image with no hand found counts
as the prediction `nothing`.  DATA_DIR may also be a preprocess.py output folder (landmarks; the
--split folder is scored) for a landmarker-free check.  With --clip-frames, each photo is played
as a still clip through main.py's camera path instead (clip_evaluation.py).  --channel writes what
each collection's letters were read as (spelling/confusion_channel.py): on collections the model
never saw, how new people's letters get misread, which main.py's word decoder uses (crossval.py
--channel makes the same from its folds).
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from storage import atomic_files
from dataset import dataset_layout as layout
from hand import keypoints, photo_readers
from classifiers.classifier import CheckpointError, combine_views, load_classifier
from realtime.clip_evaluation import evaluate_clips
from spelling import confusion_channel

# ----------------------------------------------------------------------------- settings
WEIGHTS = str(Path(__file__).with_name("keypoint_model_L_cnn_50.onnx"))  # ONNX export (no torch) or .pth
WORKERS = os.cpu_count() or 1
SPLIT = "test"  # which split of a preprocess.py output folder to score
THRESHOLD = 0.6  # confidence for the coverage figure (main.py shows letters down to its own --threshold, 0.3)
BOTH_VIEWS = True  # read each photo and its mirror image and average (main.py does the same for photos)
BORDER_VIEWS = True  # read each view with every fallback border too and average (main.py does the same for photos)
HAND_MODEL = None
CLIP_FRAMES = 0  # > 0: score each photo as a still clip of this many frames through main.py's live path
CLIP_FPS = 30.0  # frame rate of those clips
# -----------------------------------------------------------------------------
NO_HAND = "nothing"  # what "no hand found" predicts
CALIBRATION_BINS = 10


def score(truth: list[str], predicted: list[str], confidence: list[float], found: list[bool],
          sources: list[str], classes: list[str], threshold: float) -> dict[str, Any]:
    """The metrics JSON: accuracy end to end and on found hands, per class, per source,
    confusion (rows = truth), coverage at `threshold` and a reliability table."""
    from sklearn.metrics import f1_score
    t, p = np.array(truth, dtype=object), np.array(predicted, dtype=object)
    conf, hit = np.array(confidence, float), np.array(found, bool)
    right = t == p
    letter = np.isin(t, layout.LETTERS)
    labels = classes + sorted((set(truth) | set(predicted)) - set(classes))
    index = {c: i for i, c in enumerate(labels)}
    confusion = np.zeros((len(labels), len(labels)), int)
    for a, b in zip(truth, predicted):
        confusion[index[a], index[b]] += 1
    per_class = {}
    for c in labels:
        n, guessed = int((t == c).sum()), int((p == c).sum())
        if n or guessed:
            tp = int(((t == c) & right).sum())
            per_class[c] = {"n": n, "precision": tp / guessed if guessed else 0.0, "recall": tp / n if n else 0.0}
    confident = hit & (conf >= threshold)
    bins = []
    edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = hit & (conf > lo) & (conf <= hi)
        if inside.any():
            bins.append({"from": round(lo, 2), "to": round(hi, 2), "n": int(inside.sum()),
                         "confidence": float(conf[inside].mean()), "accuracy": float(right[inside].mean())})
    ece = sum(b["n"] * abs(b["confidence"] - b["accuracy"]) for b in bins) / max(1, int(hit.sum()))
    pairs = Counter((a, b) for a, b in zip(truth, predicted) if a != b)
    result = {
        "images": len(truth), "hands_found": int(hit.sum()),
        "hands_found_rate": float(hit.mean()) if len(hit) else 0.0,
        "accuracy": float(right.mean()) if len(right) else 0.0,
        "accuracy_on_found": float(right[hit].mean()) if hit.any() else 0.0,
        "letters_on_found": float(right[hit & letter].mean()) if (hit & letter).any() else 0.0,
        "macro_f1": float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro", zero_division=0))
        if truth else 0.0,
        "threshold": threshold, "coverage_at_threshold": float(confident.sum() / max(1, hit.sum())),
        "accuracy_at_threshold": float(right[confident].mean()) if confident.any() else 0.0,
        "calibration": {"ece": ece, "bins": bins},
        "top_confusions": [{"truth": a, "predicted": b, "count": n} for (a, b), n in pairs.most_common(15)],
        "per_class": per_class, "classes": labels, "confusion": confusion.tolist(),
    }
    if len(set(sources)) > 1:
        src = np.array(sources, dtype=object)
        result["per_source"] = {s: {"images": int((src == s).sum()), "hands_found": int(hit[src == s].sum()),
                                    "accuracy": float(right[src == s].mean()),
                                    "accuracy_on_found": float(right[(src == s) & hit].mean())
                                    if (hit & (src == s)).any() else 0.0,
                                    "letters_on_found": float(right[(src == s) & hit & letter].mean())
                                    if (hit & letter & (src == s)).any() else 0.0}
                                for s in sorted(set(sources))}
    return result


def summary_text(r: dict[str, Any]) -> str:
    """The readable summary printed after a run."""
    lines = [f"images {r['images']}  hands found {r['hands_found']} ({100 * r['hands_found_rate']:.1f}%)",
             f"accuracy {100 * r['accuracy']:.2f}%  on found hands {100 * r['accuracy_on_found']:.2f}%  "
             f"letters A-Z on found hands {100 * r['letters_on_found']:.2f}%  macro F1 {r['macro_f1']:.3f}",
             f"at confidence >= {r['threshold']}: coverage {100 * r['coverage_at_threshold']:.1f}% of found hands, "
             f"accuracy {100 * r['accuracy_at_threshold']:.2f}%  (ECE {r['calibration']['ece']:.3f})"]
    for source, s in r.get("per_source", {}).items():
        lines.append(f"  {source:<28} images {s['images']:5d}  found {100 * s['hands_found'] / max(1, s['images']):5.1f}%"
                     f"  accuracy {100 * s['accuracy']:6.2f}%  on found {100 * s['accuracy_on_found']:6.2f}%"
                     f"  letters on found {100 * s['letters_on_found']:6.2f}%")
    weak = sorted((v["recall"], c) for c, v in r["per_class"].items() if v["n"])[:5]
    lines.append("lowest recall: " + ", ".join(f"{c} {100 * rec:.0f}%" for rec, c in weak))
    if r["top_confusions"]:
        lines.append("top confusions (truth->predicted): " +
                     ", ".join(f"{x['truth']}->{x['predicted']} {x['count']}" for x in r["top_confusions"][:8]))
    return "\n".join(lines)


def plot_confusion(r: dict[str, Any], path: Path) -> None:
    """Row-normalised confusion matrix as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    m = np.array(r["confusion"], float)
    m = m / np.maximum(1, m.sum(axis=1, keepdims=True))
    fig, ax = plt.subplots(figsize=(9, 8))
    ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(r["classes"])), r["classes"], rotation=90, fontsize=7)
    ax.set_yticks(range(len(r["classes"])), r["classes"], fontsize=7)
    ax.set(xlabel="predicted", ylabel="truth",
           title=f"accuracy {100 * r['accuracy']:.1f}% (on found hands {100 * r['accuracy_on_found']:.1f}%)")
    for i, j in zip(*np.nonzero(m >= 0.02)):
        ax.text(j, i, f"{m[i, j]:.2f}"[1:] if m[i, j] < 1 else "1", ha="center", va="center", fontsize=5,
                color="white" if m[i, j] > 0.5 else "black")
    fig.tight_layout()
    atomic_files.save_figure(fig, path, dpi=120)
    plt.close(fig)


def plot_reliability(r: dict[str, Any], path: Path) -> None:
    """Reliability diagram as a PNG: accuracy against mean confidence per confidence bin (found
    hands), with the number of hands per bin; a calibrated model follows the diagonal."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    bins = r["calibration"]["bins"]
    fig, (ax, counts) = plt.subplots(2, 1, figsize=(5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="calibrated")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", label="model")
    ax.axvline(r["threshold"], color="tab:red", lw=0.8, label=f"threshold {r['threshold']}")
    ax.set(ylabel="accuracy", xlim=(0, 1), ylim=(0, 1),
           title=f"reliability (ECE {r['calibration']['ece']:.3f}, {r['hands_found']} found hands)")
    ax.legend(loc="upper left")
    counts.bar([(b["from"] + b["to"]) / 2 for b in bins], [b["n"] for b in bins], width=0.09)
    counts.set(xlabel="confidence (max probability)", ylabel="hands", yscale="log")
    fig.tight_layout()
    atomic_files.save_figure(fig, path, dpi=110)
    plt.close(fig)


def no_hand_label(clf) -> str:
    """What a photo with no hand found predicts: `nothing`, or a label of its own when the model
    has no such class."""
    return NO_HAND if NO_HAND in clf.classes else "(no hand)"


def evaluate_landmarks(folder: Path, clf, flip: bool, both_views: bool = False,
                       border_views: bool = False) -> tuple[list, list, list, list, list]:
    """Truth, prediction, confidence, found, source for a preprocess.py split folder: per photo, the
    landmarks of the photo (with --flip, of its mirror image, `.mirror.npy`, or the mirrored
    landmarks where a set has no photos); with `both_views`, the mean over the photo and its mirror
    image; with `border_views`, also over the further readings with every border (`.border50.npy`).
    Photos where no hand was found (manifest.csv) count as predicting `nothing`, so the
    figures match evaluate.py on the images themselves."""
    from data_loader import LandmarkDataset
    data = LandmarkDataset(folder.parent, folder.name, extra_readings=border_views)
    if border_views and data.mirrored.any() and not data.extra.any():
        print(f"warning: {folder} holds no readings with every border (preprocess.py --border-views); "
              "scored without them", file=sys.stderr)
    views = (flip, not flip) if both_views else (flip,)
    keep = np.isin(data.mirrored, views)
    landmarks, right = data.landmarks, data.right
    if flip and not both_views:  # sources without mirrored photos (landmark-only sets): mirror the landmarks
        alone = ~np.isin(data.sources, list(set(data.sources[data.mirrored])))
        landmarks = np.where(alone[:, None, None], keypoints.mirror_landmarks(landmarks), landmarks)
        right = np.where(alone, 1.0 - right, right).astype(np.float32)
        keep |= alone
    probs = clf.predict_proba(landmarks[keep], right[keep]) if keep.any() \
        else np.zeros((0, len(clf.classes)), np.float32)
    rows, probs = combine_views(probs, data.photos[keep])
    rows = np.flatnonzero(keep)[rows]
    truth = [data.classes[i] for i in data.labels[rows]]
    predicted = [clf.classes[i] for i in probs.argmax(1)]
    confidence, found, sources = list(probs.max(1)), [True] * len(truth), list(data.sources[rows])
    no_hand = no_hand_label(clf)
    rows = layout.read_manifest(folder.parent / "manifest.csv")
    for label, source in layout.photos_without_hand(rows, views, split=folder.name):
        truth.append(label)
        predicted.append(no_hand)
        confidence.append(0.0)
        found.append(False)
        sources.append(source)
    return truth, predicted, confidence, found, sources


def list_images(roots: list[Path], skipped: Counter) -> list[layout.Entry]:
    """The image files in the class folders at or below each of `roots`.  Files that are not usable
    images are skipped with one warning line each (hidden files such as .DS_Store silently) and
    counted by reason in `skipped`."""
    entries = []
    for source in layout.find_sources(roots):
        found, unknown = layout.list_entries(source)
        if unknown:
            print(f"warning: {source.name}: not a class folder, skipped: {', '.join(unknown)}", file=sys.stderr)
        for e in found:
            problem = layout.file_problem(e.path)  # checked before reading: a FIFO named x.jpg would block
            if problem is None and e.path.suffix.lower() not in layout.IMAGE_EXTENSIONS:
                problem = "not_an_image"
            if problem is None:
                entries.append(e)
                continue
            skipped[problem] += 1
            if problem != "hidden":
                print(f"warning: skipped {e.path}: {problem.replace('_', ' ')}", file=sys.stderr)
    return entries


def evaluate_images(roots: list[Path], clf, flip: bool, workers: int, hand_model: str | None,
                    skipped: Counter | None = None, both_views: bool = False,
                    border_views: bool = False) -> tuple[list, list, list, list, list]:
    """Truth, prediction, confidence, found, source for class folders of images, end to end
    (with `both_views`, the mean over each photo and its mirror image; with `border_views`, also
    over each view read with every fallback border).  Unusable files: see `list_images`."""
    from tqdm import tqdm
    skipped = Counter() if skipped is None else skipped
    entries = list_images(roots, skipped)
    truth, predicted, confidence, found_hand, sources = [], [], [], [], []
    no_hand = no_hand_label(clf)
    views = (flip, not flip) if both_views else (flip,)
    for index, seen in tqdm(photo_readers.detect_files([str(e.path) for e in entries], workers, hand_model, views,
                                                   every_border=border_views),
                            total=len(entries), unit="img", desc="evaluate", dynamic_ncols=True):
        entry = entries[index]
        if seen is None:
            skipped["unreadable"] += 1
            tqdm.write(f"warning: skipped {entry.path}: unreadable", file=sys.stderr)
            continue
        best = [r.hands[0] for r in seen if r.hands]  # the best-scoring hand of each reading
        probs = combine_views(clf.predict_proba(np.stack([h.landmarks for h in best]),
                                                np.array([h.right_probability for h in best], np.float32)),
                              [0] * len(best))[1][0] if best else None
        ok = probs is not None and bool(np.isfinite(probs).all())
        truth.append(entry.label)
        predicted.append(clf.classes[int(probs.argmax())] if ok else no_hand)
        confidence.append(float(probs.max()) if ok else 0.0)
        found_hand.append(ok)
        sources.append(entry.source)
    return truth, predicted, confidence, found_hand, sources


def is_landmark_folder(folder: Path) -> bool:
    """A preprocess.py split folder: class folders holding .npy landmark files and no images (a
    stray .npy among photos does not turn an image folder into a landmark folder)."""
    suffixes = {p.suffix.lower() for p in folder.glob("*/*")}
    return layout.LANDMARK_EXTENSION in suffixes and not suffixes & layout.IMAGE_EXTENSIONS


def load_weights(weights: str) -> Any:
    """`load_classifier`, with any failure to read the file reported as a CheckpointError (torch's
    unpickler raises IndexError/KeyError on some non-checkpoint files)."""
    try:
        return load_classifier(weights)
    except (CheckpointError, KeyboardInterrupt):
        raise
    except Exception as err:  # noqa: BLE001 - one clear line instead of a traceback
        raise CheckpointError(f"{weights} is not a readable checkpoint ({type(err).__name__}); "
                              f"re-train or download it again") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; defaults are the settings at the top of this file."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("data_dir", metavar="DATA_DIR", nargs="+",
                   help="class folders of images (one folder or several), or a preprocess.py output folder")
    p.add_argument("--weights", default=WEIGHTS, help=".onnx export (run without torch) or .pth checkpoint")
    p.add_argument("--flip", action="store_true", help="mirror every image first (the other hand)")
    p.add_argument("--both-views", action=argparse.BooleanOptionalAction, default=BOTH_VIEWS,
                   help="average each photo's prediction with its mirror image's (as main.py does for photos)")
    p.add_argument("--border-views", action=argparse.BooleanOptionalAction, default=BORDER_VIEWS,
                   help="average over each view read with every fallback border too (as main.py does for photos)")
    p.add_argument("--json", metavar="OUT", help="write the metrics as JSON")
    p.add_argument("--plot", metavar="OUT.png", help="write the confusion matrix as a PNG")
    p.add_argument("--channel", metavar="OUT.json",
                   help="write what each collection's letters were read as (found hands), for main.py --channel")
    p.add_argument("--plot-reliability", metavar="OUT.png", help="write the reliability diagram as a PNG")
    p.add_argument("--split", default=SPLIT, help="split scored in a preprocess.py output folder")
    p.add_argument("--threshold", type=float, default=THRESHOLD, help="confidence for the coverage figure")
    p.add_argument("--workers", type=int, default=WORKERS, help="parallel landmarker processes")
    p.add_argument("--hand-model", default=HAND_MODEL, help="path to hand_landmarker.task")
    p.add_argument("--clip-frames", type=int, default=CLIP_FRAMES, metavar="N",
                   help="score each photo as a still clip of N frames through main.py's camera path (tracking "
                        "and smoothing; border views are not used, --no-both-views is the camera default); "
                        "with a preprocess.py output folder, the --split photos listed in its manifest.csv")
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error("--workers must be at least 1")
    if args.clip_frames < 0:
        p.error("--clip-frames must be 0 (off) or more")
    missing = [d for d in args.data_dir if not Path(d).is_dir()]
    if missing:
        p.error(f"DATA_DIR not found: {', '.join(missing)}")
    problem = atomic_files.missing_folder({"--json": args.json, "--plot": args.plot, "--channel": args.channel})
    if problem:
        p.error(problem)
    return args


def main(argv: list[str] | None = None) -> int:
    """Evaluate; returns the exit code."""
    args = parse_args(argv)
    roots = [Path(d) for d in args.data_dir]
    root = roots[0]  # a preprocess.py output folder is scored alone
    skipped: Counter = Counter()
    try:
        clf = load_weights(args.weights)
        split = root / args.split if (root / args.split).is_dir() else root
        landmarks = is_landmark_folder(split)
        if landmarks and len(roots) > 1:
            raise ValueError("a preprocess.py output folder is scored alone (give one DATA_DIR)")
        if args.clip_frames or not landmarks:
            keypoints.resolve_hand_model(args.hand_model)
        if args.clip_frames:
            photos = (layout.split_photos(layout.read_manifest(root / "manifest.csv"), split.name) if landmarks
                      else [(str(e.path), e.label, e.source) for e in list_images(roots, skipped)])
            outcome = evaluate_clips(photos, clf, args.flip, args.clip_frames, args.both_views, args.hand_model,
                                     skipped, CLIP_FPS, no_hand_label(clf))
        elif landmarks:
            outcome = evaluate_landmarks(split, clf, args.flip, args.both_views, args.border_views)
        else:
            outcome = evaluate_images(roots, clf, args.flip, args.workers, args.hand_model, skipped, args.both_views,
                                      args.border_views)
    except (CheckpointError, keypoints.HandModelError, FileNotFoundError, ValueError) as err:
        print(f"evaluate.py: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    if skipped:
        print("skipped " + ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in sorted(skipped.items())),
              file=sys.stderr)
    if not outcome[0]:
        print(f"evaluate.py: error: no images of known classes in {' '.join(args.data_dir)}", file=sys.stderr)
        return 2
    result = score(*outcome, classes=clf.classes, threshold=args.threshold)
    result.update({"data_dir": " ".join(args.data_dir), "weights": str(args.weights), "flip": args.flip,
                   "both_views": args.both_views, "border_views": args.border_views and not args.clip_frames,
                   "clip_frames": args.clip_frames,
                   "skipped": dict(sorted(skipped.items()))})
    print(summary_text(result))
    try:
        if args.json:
            atomic_files.write_json(args.json, result)
        if args.plot:
            plot_confusion(result, Path(args.plot))
        if args.channel:
            truth, read, _, found, sources = outcome
            confusion_channel.write_counts(args.channel, confusion_channel.counts_from_readings(
                truth, read, found, sources), "python evaluate.py " + " ".join(argv or sys.argv[1:]))
        if args.plot_reliability:
            plot_reliability(result, Path(args.plot_reliability))
    except OSError as err:
        print(f"evaluate.py: error: cannot write {err.filename}: {err.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
