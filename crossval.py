"""Leave-one-source-out: how well the model does on a collection it never saw.

    python crossval.py --data OUT [--holdout SOURCE ...] [--seeds 42 7] [--inputs fused] [--jobs 2] [--json OUT.json]
                       [--keep-models DIR] [--adapt-shots 1 3] [--channel OUT.json]
    python crossval.py --compare BEFORE.json AFTER.json
    python crossval.py --channel words/confusions.json --channel-from RUN.json

For each held-out source (one fold per source) and seed: train.py on every other source (its
train/valid splits), then score all of the held-out source's samples (every split), on the classes
it has; `--keep-models` keeps each fold's model as DIR/SOURCE-SEED/model.pth (what spellbench.py
plays new people's words through).  Each figure is the mean over the seeds, with every seed's value
beside it (`by_seed`); each table closes with the mean over folds, the mean over single-signer folds
(dataset_layout.MULTI_SIGNER_SOURCES are the others) with the range of its per-seed means, the worst
fold, the weakest classes' recall and the top confusions (bench/fold_scores.py).  `--compare` puts
two --json results side by side on the folds both scored.  `--channel` writes what each fold's model
read each held-out letter as (the camera view; spelling/confusion_channel.py): how new people's
letters get misread, which the word decoder uses.  The samples are the landmarks preprocess.py
found with the same IMAGE-mode detector evaluate.py uses, so the scores equal evaluate.py's end to
end: images where no hand was found (from manifest.csv) count as the prediction `nothing`.  Four
ways to read a photo are scored: the photo (`evaluate.py --no-both-views --no-border-views`), its
mirror image (`.mirror.npy`, the other hand: `... --flip`), both averaged per photo
(`evaluate.py --no-border-views`) and all views: both, each read with every fallback border too
(`evaluate.py`'s default; needs preprocess.py --border-views).  `--adapt-shots K` also scores
signer adaptation (main.py --adapt): K of the held-out signer's photos per letter (camera view)
teach adaptation.SignerAdapter, as K confirmed letters of each would live, and the signer's other
letters are scored before and after (`adapted_K`).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from storage import atomic_files
from dataset import dataset_layout as layout
import model as model_lib
from classifiers import training
from bench import fold_scores
from classifiers.classifier import combine_views, load_classifier
from data_loader import LandmarkDataset
from spelling import confusion_channel
from spelling.confusion_channel import ChannelError
from storage.finished_runs import Finished

# ----------------------------------------------------------------------------- settings
DATA_DIRS = ["data_processed"]
HOLDOUT: list[str] = []  # empty: every source in turn
EPOCHS = training.EPOCHS
SEEDS = [42, 7]  # each fold is trained once per seed: the spread shows what is noise
JOBS = 1  # folds trained at once (each on one thread); 2 on a 2-core machine halves the time
ADAPT_SHOTS: list[int] = []  # letters per class that teach signer adaptation (empty: not scored)
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
    pairs = Counter(f"{t}->{p}" for t, p in zip(truth, predicted) if t != p)
    pairs.update(f"{c}->nothing" for c, n in missed.items() if c != "nothing" for _ in range(n))
    read_right = Counter(t for t, p in zip(truth, predicted) if t == p)  # per class: found hands read right
    return {"images": len(truth) + n_missed, "hands_found": len(truth), "right": dict(read_right),
            "accuracy_on_found": float(right.mean()) if len(right) else 0.0,
            "letters_on_found": float(right[letter].mean()) if letter.any() else 0.0,
            "accuracy": float(end_to_end_right / max(1, len(truth) + n_missed)),
            "recall": recall, "confusions": dict(pairs)}


def train_flags(options: dict[str, Any]) -> list[str]:
    """`options` (training.Settings fields) as train.py's flags: what the finished folds are kept under."""
    flags = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        flags += [flag if value else "--no-" + flag[2:]] if isinstance(value, bool) else [flag, str(value)]
    return flags


def score_adapted(clf: Any, held: LandmarkDataset, shots: int, seed: int) -> dict[str, Any]:
    """Signer adaptation from `shots` camera-view samples of each letter of the held-out signer:
    accuracy on its other letters (camera view, found hands) before and after."""
    from realtime.adaptation import SignerAdapter
    letter = np.isin(np.array(held.classes)[held.labels], layout.LETTERS)
    rows = np.flatnonzero(~held.mirrored & ~held.extra & letter)
    rng = np.random.default_rng(seed)
    enrol = np.concatenate([rng.permutation(rows[held.labels[rows] == c])[:shots] for c in np.unique(held.labels[rows])])
    rest = np.setdiff1d(rows, enrol)
    before = clf.predict_proba(held.landmarks[rest], held.right[rest]).argmax(1) == held.labels[rest]
    clf.adapter = SignerAdapter(clf.classes)
    scores = clf.predict(held.landmarks[enrol], held.right[enrol])
    labels = "".join(held.classes[i] for i in held.labels[enrol])
    clf.adapter.learn(None, labels, labels, list(zip(scores.calibrated, scores.hidden)), True)
    after = clf.predict_proba(held.landmarks[rest], held.right[rest]).argmax(1) == held.labels[rest]
    clf.adapter = None
    return {"enrolled": len(enrol), "scored": len(rest), "before": float(before.mean()), "after": float(after.mean())}


def run_fold(roots: list[str], source: str, seed: int, options: dict[str, Any], manifest: list[dict[str, str]],
             work: Path, adapt_shots: Sequence[int] = ()) -> dict[str, Any]:
    """Train without `source` (training.fit with `options`) into `work`/SOURCE-SEED/model.pth, then score it
    in each of `VIEWS` (all views: what evaluate.py and main.py do for photos by default)."""
    import torch
    torch.set_num_threads(1)
    weights = work / f"{source}-{seed}" / "model.pth"
    try:
        training.fit(training.Settings(list(roots), str(weights), seed=seed, exclude_source=[source], **options))
    except training.TrainingError as err:
        raise RuntimeError(f"training without {source} failed: {err}") from None
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
    for shots in adapt_shots:
        result[f"adapted_{shots}"] = score_adapted(clf, held, shots, seed)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; defaults are the settings at the top of this file."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", nargs="+", default=DATA_DIRS, metavar="DIR", help="preprocess.py output folder(s)")
    p.add_argument("--holdout", nargs="*", default=HOLDOUT, metavar="SOURCE",
                   help="sources to hold out in turn (default: all)")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--seeds", type=int, nargs="+", default=SEEDS, help="train each fold once per seed")
    p.add_argument("--jobs", type=int, default=JOBS, help="folds trained at once (one thread each)")
    p.add_argument("--inputs", choices=model_lib.INPUTS, default=training.INPUTS, help="train.py's --inputs")
    p.add_argument("--finetune-embedder", action=argparse.BooleanOptionalAction,
                   default=training.FINETUNE_EMBEDDER, help="train.py's fine-tuning of the gesture embedder")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=training.AUGMENT,
                   help="train.py's online augmentation")
    p.add_argument("--balance-sources", type=float, default=training.BALANCE_SOURCES, metavar="POWER",
                   help="train.py's source balancing (0 = uniform sampling)")
    p.add_argument("--extra-readings", action=argparse.BooleanOptionalAction, default=training.EXTRA_READINGS,
                   help="train.py's use of the further border readings")
    p.add_argument("--small-readings", action=argparse.BooleanOptionalAction, default=training.SMALL_READINGS,
                   help="train.py's use of the readings of small frames of each photo's hand")
    p.add_argument("--embedder-lr-scale", type=float, default=training.EMBEDDER_LR_SCALE,
                   help="train.py's learning rate of the fine-tuned embedder, as a fraction of the learning rate")
    p.add_argument("--hidden", type=int, default=model_lib.DEFAULT_CONFIG["hidden"], help="train.py's --hidden")
    p.add_argument("--dropout", type=float, default=model_lib.DEFAULT_CONFIG["dropout"], help="train.py's --dropout")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON")
    p.add_argument("--keep-models", metavar="DIR", help="keep each fold's model as DIR/SOURCE-SEED/model.pth")
    p.add_argument("--adapt-shots", type=int, nargs="*", default=ADAPT_SHOTS, metavar="K",
                   help="also score signer adaptation taught by K samples per letter of the held-out signer")
    p.add_argument("--channel", metavar="OUT.json",
                   help="write how the folds' models read each held-out collection's letters (the camera view): "
                        "the confusion channel main.py's --channel decodes words with")
    p.add_argument("--channel-from", metavar="RUN.json",
                   help="with --channel: make it from an earlier --json result (nothing is trained)")
    p.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"),
                   help="print two --json results side by side on the folds both scored (nothing is trained)")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.jobs < 1 or min(args.adapt_shots, default=1) < 1:
        p.error("--epochs, --jobs and --adapt-shots must be at least 1")
    if args.channel_from and not args.channel:
        p.error("--channel-from needs --channel OUT.json")
    problem = atomic_files.missing_folder({"--json": args.json, "--channel": args.channel})
    if problem:
        p.error(problem)
    return args


def compare_runs(before: str, after: str) -> int:
    """`--compare`: the before/after tables of two --json results; returns the exit code."""
    runs = []
    for path in (before, after):
        try:
            run = json.loads(Path(path).read_text(encoding="utf-8"))
            if not isinstance(run, dict) or not isinstance(run.get("folds"), dict):
                raise ValueError("no folds")
        except (OSError, ValueError) as err:
            print(f"crossval.py: error: {path} is not a crossval.py --json result ({err})", file=sys.stderr)
            return 2
        runs.append(run)
    try:
        lines = fold_scores.compare(*runs)
    except (ValueError, KeyError, TypeError) as err:
        print(f"crossval.py: error: cannot compare {before} and {after}: {err}", file=sys.stderr)
        return 2
    print(f"before: {before}\nafter:  {after}")
    print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run every fold (or compare two runs); print the tables; returns the exit code."""
    args = parse_args(argv)
    if args.compare:
        return compare_runs(*args.compare)
    if args.channel_from:
        return write_channel(args.channel, read_json(args.channel_from).get("folds"),
                             f"python crossval.py --channel {args.channel} --channel-from {args.channel_from}")
    if not all(Path(d, "train").is_dir() for d in args.data):
        print("crossval.py: error: --data must be preprocess.py output folder(s)", file=sys.stderr)
        return 2
    every = sorted(set(LandmarkDataset(args.data, ["train", "valid", "test"]).sources))
    holdout = args.holdout or every
    unknown = sorted(set(holdout) - set(every))
    if unknown:
        print(f"crossval.py: error: unknown source(s) {', '.join(unknown)}; known: {', '.join(every)}", file=sys.stderr)
        return 2
    options = {"epochs": args.epochs, "augment": args.augment, "balance_sources": args.balance_sources,
               "inputs": args.inputs, "extra_readings": args.extra_readings, "small_readings": args.small_readings,
               "finetune_embedder": args.finetune_embedder, "embedder_lr_scale": args.embedder_lr_scale,
               "hidden": args.hidden, "dropout": args.dropout}
    manifest = layout.read_manifest(Path(args.data[0], "manifest.csv"))  # photos with no hand found
    jobs = [(source, seed) for source in holdout for seed in args.seeds]
    done = Finished(Path(args.json + ".runs") if args.json else None,
                    [*args.data, *train_flags(options), *map(str, args.adapt_shots)])
    todo = [job for job in jobs if done.get(job) is None]
    if len(todo) < len(jobs):
        print(f"resuming: {len(jobs) - len(todo)} of {len(jobs)} folds already trained ({done.path})", file=sys.stderr)
    try:
        with tempfile.TemporaryDirectory(prefix="crossval-") as scratch:
            work = args.keep_models or scratch
            Path(work).mkdir(parents=True, exist_ok=True)
            if args.jobs > 1:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor, as_completed
                with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
                    futures = {pool.submit(run_fold, args.data, s, seed, options, manifest, Path(work),
                                           args.adapt_shots): (s, seed) for s, seed in todo}
                    for future in as_completed(futures):
                        done.add(futures[future], future.result())
            else:
                for s, seed in todo:
                    done.add((s, seed), run_fold(args.data, s, seed, options, manifest, Path(work), args.adapt_shots))
    except KeyboardInterrupt:
        print(f"\ninterrupted; run the same command to continue ({done.path or 'nothing kept without --json'})",
              file=sys.stderr)
        return 130
    runs = [done.get(job) for job in jobs]
    results: dict[str, Any] = {}
    for source in holdout:
        mine = [run for (s, _), run in zip(jobs, runs) if s == source]
        results[source] = {"samples": mine[0]["samples"],
                           **{view: fold_scores.merge_seeds([r[view] for r in mine]) for view in VIEWS
                              if view in mine[0]},
                           **{f"adapted_{k}": {key: float(np.mean([r[f"adapted_{k}"][key] for r in mine]))
                                               for key in mine[0][f"adapted_{k}"]} for k in args.adapt_shots}}
    summary = fold_scores.summarise(results, VIEWS)
    fold_scores.print_tables(results, summary)
    summary.update(summarise_adapted(results, args.adapt_shots))
    if args.json:
        atomic_files.write_json(args.json, {"epochs": args.epochs, "seeds": args.seeds, "inputs": args.inputs,
                                         "finetune_embedder": args.finetune_embedder, "augment": args.augment,
                                         "balance_sources": args.balance_sources,
                                         "extra_readings": args.extra_readings,
                                         "small_readings": args.small_readings, "summary": summary, "folds": results})
        done.clear()
    if args.channel:
        return write_channel(args.channel, results, "python " + " ".join(["crossval.py", *(argv or sys.argv[1:])]))
    return 0


def read_json(path: str) -> dict[str, Any]:
    """An earlier --json result ({} when it cannot be read)."""
    try:
        run = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return run if isinstance(run, dict) else {}


def write_channel(path: str, folds: dict[str, Any] | None, made_by: str) -> int:
    """--channel: the folds' counts of signed -> read letters, written for the word decoder."""
    try:
        if not isinstance(folds, dict):
            raise ChannelError("no folds to make it from: give a crossval.py --json result")
        confusion_channel.write_counts(path, confusion_channel.counts_from_folds(folds), made_by)
    except (ChannelError, OSError) as err:
        print(f"crossval.py: error: --channel: {err}", file=sys.stderr)
        return 2
    print(f"confusion channel of {len(folds)} held-out collections written to {path}")
    return 0


def summarise_adapted(results: dict[str, Any], shots: Sequence[int]) -> dict[str, Any]:
    """Per --adapt-shots K, the mean over folds of accuracy before and after adaptation; printed."""
    summary = {}
    for k in shots:
        key = f"adapted_{k}"
        print(f"\nsigner adaptation from {k} sample(s) per letter (camera view, the signer's other letters):")
        for source, r in results.items():
            print(f"{source:<24} {100 * r[key]['before']:>7.2f} -> {100 * r[key]['after']:.2f}")
        summary[key] = {f"mean_{x}": float(np.mean([r[key][x] for r in results.values()])) for x in ("before", "after")}
        print(f"{'mean over folds':<24} {100 * summary[key]['mean_before']:>7.2f} -> {100 * summary[key]['mean_after']:.2f}")
    return summary


if __name__ == "__main__":
    sys.exit(main())
