"""benchmark.py's whole-program figures: wall time and peak memory of a child process (the jobs,
main.py, train.py), main.py's start-up to its first processed frame, and train.py's time."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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


def time_startup(weights: Path, video: Path, tmp: Path, warm: bool, frames: int) -> tuple[float, float]:
    """main.py headless on a short video of `frames` frames: (seconds from process start to its
    first JSONL line, which main.py writes line-buffered; peak RSS MB)."""
    jsonl = tmp / "startup.jsonl"
    cmd = [sys.executable, str(REPO / "main.py"), "--source", str(video), "--weights", str(weights),
           "--no-display", "--jsonl", str(jsonl)]
    if warm:
        run(cmd, tmp / "startup.log")
    jsonl.unlink(missing_ok=True)
    _, memory, first = run(cmd, tmp / "startup.log", watch=jsonl)
    records = [json.loads(line) for line in jsonl.read_text().splitlines()] if jsonl.is_file() else []
    if first is None or sum(not r.get("end") for r in records) != frames:  # a line per frame, then the end line
        raise RuntimeError(f"main.py did not write a JSONL line for each of the {frames} frames before exiting")
    return first, memory


def time_training(data: str, epochs: int, tmp: Path, full_epochs: int) -> dict:
    """train.py wall time, per-epoch time (its training loop only) and the figure for `full_epochs`
    (extrapolated from `epochs`), kept as `train.50_epochs_s`."""
    weights = tmp / "train" / "weights.pth"
    seconds, memory, _ = run([sys.executable, str(REPO / "train.py"), "--data", data, "--epochs", str(epochs),
                              "--weights", str(weights)], tmp / "train.log")
    metrics = json.loads(weights.with_name("training_metrics.json").read_text())
    per_epoch = metrics["train_seconds"] / epochs
    return {"train.wall_s": seconds, "train.epoch_s": per_epoch, "train.samples": metrics["train_samples"],
            "train.50_epochs_s": seconds + (full_epochs - epochs) * per_epoch, "memory_mb.train": memory}
