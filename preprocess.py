"""Class folders of images (and landmark .npy sets) -> split folders of raw 21x3 landmarks.

    python preprocess.py --data DIR [DIR ...] --out OUT [--workers N] [--seed S]

A folder of class-named landmark files (`static/A.npy`: N x 63 raw MediaPipe landmarks, N samples
in capture order) is a source too: each row is a sample `A.0017.npy`, split in blocks of
--stack-block-size neighbouring rows; files of motion sequences (N x T x 63) are named and left out.

Writes OUT/{train,valid,test}/<class>/<source>__<file>.npy (one per image with a hand found;
with mirroring, also `...mirror.npy` from the mirrored photo; for photos of the --border-views
splits, also `...[mirror.]border50.npy` and the like: the same view read with each further fallback
border, extra samples of the same photo; with --small-side 64, also `...[mirror.]small64.npy`: the view's
hand shrunk into a 64x64 frame and read again, hand/small_frames.py), OUT/manifest.csv and
OUT/report.{txt,csv,json}.
Images without a hand are counted, never saved.  Resumable: a re-run skips finished work; an
interrupt loses nothing already done and never leaves a half-written file.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from storage import atomic_files
from dataset import dataset_layout as layout
from dataset.preprocess_report import REPORT_COLUMNS, report_table, summarise
from hand import keypoints, photo_readers, small_frames

# ----------------------------------------------------------------------------- settings
DATA_DIRS = ["data/asl_alphabet_train"]  # Kaggle grassknoted/asl-alphabet, unzipped
OUT_DIR = "data_processed"
WORKERS = os.cpu_count() or 1
SEED = 42
SPLIT = (0.8, 0.1, 0.1)  # train, valid, test
BLOCK_SIZE = 50  # frame numbers per block kept on one side of the split (A1..A49, A50..A99, ...)
# Rows of a stacked landmark file per block.  tresajoby's rows (webcam frames in capture order):
# neighbours differ by a median 0.003-0.011 (wrist-relative, per value), rows 10 apart by
# 0.011-0.036, as much as random pairs of the letter (0.013-0.037).
STACK_BLOCK_SIZE = 10
MIRROR = True  # also store landmarks of the mirrored photo (the other hand) for every image
BORDER_VIEWS = ["train", "valid", "test"]  # splits whose photos are also read with every fallback border
# Also read each view's hand shrunk into a frame of this many pixels a side, as kaggle64's frames
# are (`X[.mirror].small64.npy`, a training sample of the same photo: train.py --small-readings);
# 0: off (the default, as train.py does not use them by default; 64 to make them).
SMALL_SIDE = 0
HAND_MODEL = None  # None: resolve automatically (see keypoints.resolve_hand_model)
# -----------------------------------------------------------------------------

JOURNAL = ".journal.jsonl"
STATUS_OK, STATUS_NO_HAND = layout.STATUS_OK, layout.STATUS_NO_HAND


# ----------------------------------------------------------------------------- file output
def npy_bytes(array: np.ndarray) -> bytes:
    """An array serialised as .npy."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- the work
def _row(task: dict[str, Any], output: str, mirrored: bool, status: str, hand: keypoints.Hand | None,
         border: float | None = None, extra: bool = False) -> dict:
    return {"source": task["source"], "path": task["path"], "class": task["class"], "split": task["split"],
            "output": output if status == STATUS_OK else "", "mirrored": int(mirrored), "status": status,
            "handedness": hand.handedness if hand else "", "score": f"{hand.score:.4f}" if hand else "",
            "border": "" if border is None else f"{border:g}", "extra": int(extra),
            "every_border": int(task.get("every_border", False))}


def landmark_rows(task: dict[str, Any]) -> list[dict]:
    """A landmark .npy input (or one row of a stacked one) copied as a sample (or its skip row);
    handedness is unknown."""
    lm = layout.read_landmark_file(task["file"], task["row"])
    if lm is None:
        return [_row(task, task["output"], False, "bad_landmarks", None)]
    atomic_files.write_bytes(Path(task["out"]) / task["output"], npy_bytes(lm), make_parents=True)
    return [_row(task, task["output"], False, STATUS_OK, keypoints.Hand(lm, "Unknown", 1.0))]


def image_rows(task: dict[str, Any], readings: list[photo_readers.Reading] | None) -> list[dict]:
    """Write the best hand of each reading of a photo; its manifest rows.  Per view (the photo,
    its mirror image) the first reading with a hand is the sample (`X.npy`, `X.mirror.npy`, or a
    `no_hand` row); further readings with a hand are extra samples of the same photo."""
    if readings is None:
        return [_row(task, task["output"], False, "unreadable", None)]
    rows = []
    for mirrored in dict.fromkeys(r.mirrored for r in readings):
        found = [r for r in readings if r.mirrored == mirrored and r.hands]
        if not found:
            rows.append(_row(task, "", mirrored, STATUS_NO_HAND, None))
        for i, r in enumerate(found):
            name = layout.reading_name(task["output"], mirrored, r.border if i else None)
            atomic_files.write_bytes(Path(task["out"]) / name, npy_bytes(r.hands[0].landmarks), make_parents=True)
            rows.append(_row(task, name, mirrored, STATUS_OK, r.hands[0], r.border, extra=i > 0))
    return rows


def run_tasks(tasks: list[dict], workers: int, hand_model: str | None, mirror: bool) -> Iterator[list[dict]]:
    """Rows of each task, in completion order; photos go through `workers` detector processes."""
    images = []
    for task in tasks:
        suffix = Path(task["file"]).suffix.lower()
        problem = layout.file_problem(task["file"])  # before any read: a FIFO named x.jpg would block
        if problem is not None:
            yield [_row(task, task["output"], False, problem, None)]
        elif suffix == layout.LANDMARK_EXTENSION:
            yield landmark_rows(task)
        elif suffix in layout.IMAGE_EXTENSIONS:
            images.append(task)
        else:
            yield [_row(task, task["output"], False, "not_an_image", None)]
    views = (False, True) if mirror else (False,)
    for every_border in (False, True):
        batch = [t for t in images if t["every_border"] == every_border]
        for index, readings in photo_readers.detect_files([t["file"] for t in batch], workers, hand_model, views,
                                                      every_border=every_border):
            yield image_rows(batch[index], readings)


def view_samples(rows: list[dict]) -> list[dict]:
    """A photo's sample rows, one per view with a hand found (`X.npy`, `X.mirror.npy`)."""
    return [r for r in rows if r["status"] == STATUS_OK and not int(r.get("extra") or 0)]


def small_frame_jobs(rows_by_key: dict[str, list[dict]], side: int) -> dict[str, list[dict]]:
    """Photos (key -> rows) whose views' samples have no small-frame reading of `side` yet; with
    side 0, none.  Readings of another side are dropped from the rows first (they are re-made)."""
    todo = {}
    for key, rows in rows_by_key.items():
        kept = [r for r in rows if not r.get("small") or int(r["small"]) == side]
        rows_by_key[key] = kept
        samples = view_samples(kept)
        if (side and samples and Path(samples[0]["path"]).suffix.lower() in layout.IMAGE_EXTENSIONS
                and not any(r.get("small") for r in kept)):
            todo[key] = kept
    return todo


def small_rows(rows: list[dict], found: list[tuple[bool, keypoints.Hand | str | None]], out: Path,
               side: int) -> list[dict]:
    """Write the hands read from a photo's small frames; the photo's rows with a row per view added
    (`no_hand` when its small frame shows none, `hand_already_small` when it was not shrunk)."""
    samples = {bool(int(r["mirrored"])): r for r in view_samples(rows)}
    added = []
    for mirrored, hand in found:
        sample = samples[mirrored]
        row = {**sample, "output": "", "handedness": "", "score": "", "border": "", "extra": 1, "small": side,
               "status": hand if isinstance(hand, str) else STATUS_NO_HAND}
        if isinstance(hand, keypoints.Hand):
            name = layout.reading_name(layout.parse_reading_name(sample["output"]).photo, mirrored, None, side)
            atomic_files.write_bytes(out / name, npy_bytes(hand.landmarks), make_parents=True)
            row.update(output=name, handedness=hand.handedness, score=f"{hand.score:.4f}", status=STATUS_OK)
        added.append(row)
    return rows + added


def run_small_frames(todo: dict[str, list[dict]], out: Path, workers: int, hand_model: str | None, side: int,
                     seed: int) -> Iterator[tuple[str, list[dict]]]:
    """(key, rows with the small-frame readings added) for each photo of `todo`, in completion order."""
    keys = list(todo)
    photos = []
    for key in keys:
        samples = view_samples(todo[key])
        photos.append((samples[0]["path"], [(bool(int(r["mirrored"])), np.load(out / r["output"])) for r in samples]))
    for index, found in small_frames.read_small_frames(photos, workers, hand_model, side, seed):
        yield keys[index], small_rows(todo[keys[index]], found or [], out, side)


def plan(sources: list[layout.Source], out: Path, seed: int, ratios: tuple[float, float, float],
         block_size: int, border_views: Iterable[str] = (),
         stack_block_size: int = STACK_BLOCK_SIZE) -> tuple[list[dict], dict[str, list[str]]]:
    """One task per file of every class folder (per row of a stacked file), with its split and
    output names fixed up front; and per source what was not a class (folder or file)."""
    entries: list[layout.Entry] = []
    unknown: dict[str, list[str]] = {}
    for source in sources:
        found, stray = layout.list_entries(source)
        entries += found
        if stray:
            unknown[source.name] = stray
    splits = layout.assign_splits(entries, ratios, seed, block_size, stack_block_size)
    tasks = []
    for e in entries:
        split = splits[f"{e.source}/{e.relpath}"]
        base = f"{split}/{e.label}/{e.source}__{e.name}"
        tasks.append({"key": f"{e.source}/{e.location}", "source": e.source, "class": e.label, "split": split,
                      "path": e.location, "file": str(e.path), "row": e.row, "out": str(out),
                      "output": f"{base}.npy",
                      "every_border": split in border_views and e.path.suffix.lower() in layout.IMAGE_EXTENSIONS})
    return tasks, unknown


# ----------------------------------------------------------------------------- resume
def load_done(out: Path) -> dict[str, list[dict]]:
    """Rows already finished: from manifest.csv of an earlier run and the journal of an interrupted one.
    A row whose .npy is missing does not count as done."""
    done: dict[str, list[dict]] = {}
    for row in layout.read_manifest(out / "manifest.csv"):
        done.setdefault(f"{row['source']}/{row['path']}", []).append(row)
    journal = out / JOURNAL
    if journal.is_file():
        for line in journal.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
                done[record["key"]] = record["rows"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # the last line of a killed run may be cut short
    return {key: rows for key, rows in done.items()
            if all(r["status"] != STATUS_OK or (out / r["output"]).is_file() for r in rows)}


def remove_temp_files(out: Path) -> None:
    """Half-written files left by a killed run (split folders, and manifest/report in OUT itself)."""
    for tmp in out.glob(".*.part"):
        tmp.unlink(missing_ok=True)
    for split in layout.SPLITS:
        for tmp in (out / split).glob("*/.*.part"):
            tmp.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- outputs
def write_outputs(out: Path, rows: list[dict], summary: dict[str, Any]) -> None:
    """manifest.csv and report.{txt,csv,json}, each atomically; sorted so reruns are byte-identical."""
    rows = sorted(rows, key=lambda r: (r["source"], r["path"], int(r["mirrored"]), r["output"]))
    text = io.StringIO()
    writer = csv.DictWriter(text, layout.MANIFEST_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: r.get(k, "") for k in layout.MANIFEST_FIELDS} for r in rows)  # "": an older run's row
    atomic_files.write_bytes(out / "manifest.csv", text.getvalue().encode())
    table = io.StringIO()
    fields = ["level", "name"] + REPORT_COLUMNS
    writer = csv.DictWriter(table, fields, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for level in ("class", "source"):
        for name, counts in summary[f"per_{level}"].items():
            writer.writerow({"level": level, "name": name, **{c: counts.get(c, 0) for c in REPORT_COLUMNS}})
    atomic_files.write_bytes(out / "report.csv", table.getvalue().encode())
    atomic_files.write_bytes(out / "report.json", (json.dumps(summary, indent=1, sort_keys=True) + "\n").encode())
    atomic_files.write_bytes(out / "report.txt", report_table(summary).encode())


def remove_stale_outputs(out: Path, rows: list[dict]) -> int:
    """Delete .npy files in the split folders that the current plan does not produce."""
    wanted = {r["output"] for r in rows if r["status"] == STATUS_OK}
    stale = [p for split in layout.SPLITS for p in (out / split).glob("*/*.npy")
             if p.relative_to(out).as_posix() not in wanted]
    for p in stale:
        p.unlink()
    return len(stale)


# ----------------------------------------------------------------------------- command line
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; defaults are the settings at the top of this file."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", nargs="+", default=DATA_DIRS, metavar="DIR",
                   help="folders holding class folders (searched up to 3 levels down)")
    p.add_argument("--out", default=OUT_DIR, help="output folder")
    p.add_argument("--workers", type=int, default=WORKERS, help="parallel processes")
    p.add_argument("--seed", type=int, default=SEED, help="split seed")
    p.add_argument("--split", type=float, nargs=3, default=SPLIT, metavar=("TRAIN", "VALID", "TEST"),
                   help="split ratios")
    p.add_argument("--block-size", type=int, default=BLOCK_SIZE,
                   help="frame numbers per block kept on one side of the split")
    p.add_argument("--stack-block-size", type=int, default=STACK_BLOCK_SIZE,
                   help="rows of a stacked landmark file per block kept on one side of the split")
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=MIRROR,
                   help="also store landmarks of each mirrored photo (the other hand)")
    p.add_argument("--border-views", nargs="*", default=BORDER_VIEWS, choices=layout.SPLITS, metavar="SPLIT",
                   help="splits whose photos are read with every fallback border too (further readings of "
                        "the same photo, for evaluate.py, crossval.py and train.py --extra-readings); none "
                        "when empty")
    p.add_argument("--small-side", type=int, default=SMALL_SIDE, metavar="PIXELS",
                   help="also read each view's hand shrunk into a frame of this many pixels a side (as kaggle64's "
                        "64x64 frames; a training sample for train.py --small-readings); 0: off")
    p.add_argument("--hand-model", default=HAND_MODEL, help="path to hand_landmarker.task")
    p.add_argument("--redo-missed", action="store_true",
                   help="run the detector again on images where an earlier run found no hand")
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error("--workers must be at least 1")
    if args.small_side < 0 or 0 < args.small_side < 16:
        p.error("--small-side must be 0 (off) or at least 16 pixels")
    if args.block_size < 1 or args.stack_block_size < 1:
        p.error("--block-size and --stack-block-size must be at least 1")
    if any(r < 0 for r in args.split) or abs(sum(args.split) - 1) > 1e-6:
        p.error("--split ratios must be non-negative and sum to 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run preprocessing; returns the exit code (0 done, 2 bad input, 130 interrupted)."""
    args = parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:  # outside the main loop (planning, final reports): nothing is lost either
        print("\ninterrupted; run the same command again to resume", file=sys.stderr)
        return 130


def run(args: argparse.Namespace) -> int:
    """The work of `main` for parsed arguments."""
    from tqdm import tqdm
    out = Path(args.out)
    try:
        sources = layout.find_sources(args.data)
        keypoints.resolve_hand_model(args.hand_model)
        out.mkdir(parents=True, exist_ok=True)
    except (FileNotFoundError, ValueError, keypoints.HandModelError, OSError) as err:
        print(f"preprocess.py: error: {err}", file=sys.stderr)
        return 2
    tasks, unknown = plan(sources, out, args.seed, tuple(args.split), args.block_size, args.border_views,
                          args.stack_block_size)
    for source, folders in unknown.items():
        print(f"warning: {source}: not a class folder or a file of static samples, ignored: {', '.join(folders)}",
              file=sys.stderr)
    remove_temp_files(out)
    done = load_done(out)
    if args.redo_missed:
        done = {key: rows for key, rows in done.items() if all(r["status"] != STATUS_NO_HAND for r in rows)}
    results = {t["key"]: done[t["key"]] for t in tasks if t["key"] in done and done[t["key"]][0]["split"] == t["split"]
               and int(done[t["key"]][0].get("every_border") or 0) == t["every_border"]}
    todo = [t for t in tasks if t["key"] not in results]
    print(f"{len(tasks)} files in {len(sources)} source(s); {len(results)} already done, {len(todo)} to do",
          file=sys.stderr)
    journal = open(out / JOURNAL, "a", encoding="utf-8")

    def record(key: str, rows: list[dict]) -> None:
        journal.write(json.dumps({"key": key, "rows": rows}) + "\n")
        journal.flush()
        results[key] = rows

    small_todo: dict[str, list[dict]] = {}
    small_done = 0
    try:
        with tqdm(total=len(todo), unit="img", desc="preprocess", dynamic_ncols=True) as bar:
            for rows in run_tasks(todo, args.workers, args.hand_model, args.mirror):
                record(f"{rows[0]['source']}/{rows[0]['path']}", rows)
                if rows[0]["status"] not in (STATUS_OK, STATUS_NO_HAND, "hidden"):
                    tqdm.write(f"warning: skipped {rows[0]['path']}: {rows[0]['status'].replace('_', ' ')}",
                               file=sys.stderr)
                bar.update()
        small_todo = small_frame_jobs(results, args.small_side)
        with tqdm(total=len(small_todo), unit="img", desc="small frames", dynamic_ncols=True,
                  disable=not small_todo) as bar:
            for key, rows in run_small_frames(small_todo, out, args.workers, args.hand_model, args.small_side,
                                              args.seed):
                record(key, rows)
                small_done += 1
                bar.update()
    except KeyboardInterrupt:
        journal.close()
        left = f"{len(results)} of {len(tasks)} files done" + (
            f", {len(small_todo) - small_done} small frames to read" if len(small_todo) > small_done else "")
        print(f"\ninterrupted: {left}; run the same command again to resume", file=sys.stderr)
        return 130
    except keypoints.HandModelError as err:
        print(f"preprocess.py: error: {err}", file=sys.stderr)
        return 2
    journal.close()
    rows = [row for key in sorted(results) for row in results[key]]
    summary = summarise(rows, unknown)
    write_outputs(out, rows, summary)
    stale = remove_stale_outputs(out, rows)
    (out / JOURNAL).unlink(missing_ok=True)
    print(report_table(summary), end="")
    hidden = sum(r["status"] == "hidden" for r in rows)
    if hidden:
        print(f"warning: ignored {hidden} hidden file(s) in class folders (.DS_Store, ._* and the like)",
              file=sys.stderr)
    if stale:
        print(f"removed {stale} stale .npy files not produced by this plan", file=sys.stderr)
    print(f"wrote {sum(r['status'] == STATUS_OK for r in rows)} landmark files, manifest.csv and report.* to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
