"""preprocess.py on a small real slice: the output tree, manifest and reports, no-hand images,
detection rate, re-runs, and resuming after SIGKILL / SIGINT (byte-identical to one clean run)."""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dataset import dataset_layout as layout
from hand import keypoints
import preprocess
from conftest import REPO, SHARED_DATA, needs_data

pytestmark = needs_data
KEPT = ("A", "B", "C", "L", "V", "Y", "W", "space")


def copy_first(src: Path, dst: Path, n: int, pattern: str = "*") -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for f in sorted(src.glob(pattern), key=lambda p: p.name)[:n]:
        shutil.copy(f, dst / f.name)


def make_slice(root: Path, per_class: int, classes=KEPT, boris: int = 3, nothing: int = 3) -> Path:
    """keptsecret photos, kaggle64 empty scenes ('nothing') and landmarks-boris .npy files."""
    for label in classes:
        copy_first(SHARED_DATA / "keptsecret" / "train" / label, root / "keptsecret" / label, per_class)
    copy_first(SHARED_DATA / "kaggle64" / "train" / "nothing", root / "kaggle64" / "nothing", nothing)
    for label in ("A", "B"):
        copy_first(SHARED_DATA / "landmarks-boris" / label, root / "boris" / label, boris, "frame_1*.npy")
    return root


def tree(out: Path) -> dict[str, bytes]:
    """Every file under OUT (relative path -> bytes)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def manifest(out: Path) -> list[dict]:
    with open(out / "manifest.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def cli(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "preprocess.py"), *args]


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """One run over 5 photos x 8 classes + 3 empty scenes + 6 landmark files (2 workers, mirror on,
    small frames of 64 pixels)."""
    base = tmp_path_factory.mktemp("pre")
    data = make_slice(base / "in", per_class=5)
    out = base / "out"
    assert preprocess.main(["--data", str(data), "--out", str(out), "--workers", "2", "--small-side", "64"]) == 0
    return data, out


def test_output_tree(processed):
    data, out = processed
    rows = manifest(out)
    ok = [r for r in rows if r["status"] == "ok"]
    files = {p.relative_to(out).as_posix() for p in out.rglob("*.npy")}
    assert files == {r["output"] for r in ok}, "every saved file is in the manifest and vice versa"
    for name in files:
        split, label, base = name.split("/")
        assert split in layout.SPLITS and label in layout.KAGGLE_CLASSES and "__" in base
        lm = np.load(out / name, allow_pickle=False)
        assert lm.shape == (21, 3) and lm.dtype == np.float32
        assert keypoints.valid_landmarks(lm)[0], f"{name}: zero, collapsed or non-finite landmarks"
    for report in ("report.txt", "report.csv", "report.json", "manifest.csv"):
        assert (out / report).stat().st_size > 0
    assert not list(out.rglob("*.part")) and not (out / preprocess.JOURNAL).exists()
    n_inputs = sum(1 for p in data.rglob("*") if p.is_file())
    assert len({(r["source"], r["path"]) for r in rows}) == n_inputs
    summary = json.loads((out / "report.json").read_text())
    assert sum(c["files"] for c in summary["per_class"].values()) == n_inputs
    assert sum(c["hands_found"] for c in summary["per_class"].values()) == sum(
        r["mirrored"] == r["extra"] == "0" for r in ok)
    assert set(summary["per_source"]) == {"keptsecret", "kaggle64", "boris"}
    with open(out / "report.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert {(t["level"], t["name"]) for t in table} >= {("class", "A"), ("source", "boris")}


def test_outputs_readable_by_others(processed):
    """Outputs follow the umask like any file a program writes (mkstemp alone gives 0600, which
    breaks a data folder shared between users or mounted into a container)."""
    _, out = processed
    mask = os.umask(0)
    os.umask(mask)
    want = 0o666 & ~mask
    for path in [out / "manifest.csv", out / "report.json", *list(out.rglob("*.npy"))[:5]]:
        assert path.stat().st_mode & 0o777 == want, f"{path}: {oct(path.stat().st_mode & 0o777)}"


def test_landmark_inputs_copied_exactly(processed):
    data, out = processed
    rows = [r for r in manifest(out) if r["source"] == "boris"]
    assert len(rows) == 6 and {r["status"] for r in rows} == {"ok"}
    for r in rows:
        np.testing.assert_array_equal(np.load(out / r["output"]),
                                      np.load(r["path"]).reshape(21, 3).astype(np.float32))


def test_no_hand_images_counted_not_saved(processed):
    _, out = processed
    rows = [r for r in manifest(out) if r["source"] == "kaggle64"]
    assert len({r["path"] for r in rows}) == 3
    no_hand = [r for r in rows if r["status"] == "no_hand"]
    assert no_hand, "empty kaggle64 scenes should have no hand"
    assert all(r["output"] == "" for r in no_hand)
    counts = json.loads((out / "report.json").read_text())["per_class"]["nothing"]
    assert counts["no_hand"] == sum(r["mirrored"] == "0" for r in no_hand)
    for p in out.rglob("*.npy"):  # no zero vectors stand in for missing hands
        assert np.abs(np.load(p)).sum() > 0


def test_hands_found_in_keptsecret_photos(processed):
    _, out = processed
    originals = [r for r in manifest(out) if r["source"] == "keptsecret" and r["mirrored"] == r["extra"] == "0"]
    assert len(originals) == 5 * len(KEPT)
    found = sum(r["status"] == "ok" for r in originals) / len(originals)
    assert found >= 0.97, f"hands found in only {100 * found:.1f}% of clear photos"
    mirrored = [r for r in manifest(out) if r["source"] == "keptsecret" and r["mirrored"] == "1" and r["extra"] == "0"]
    assert sum(r["status"] == "ok" for r in mirrored) / len(mirrored) >= 0.9
    assert {r["handedness"] for r in originals if r["status"] == "ok"} <= {"Left", "Right"}


def test_every_border_readings_are_extra_samples_of_the_same_photo(processed):
    """Photos read with every fallback border: per view one sample (`X.npy`, `X.mirror.npy`) and
    the further readings (`X[.mirror].border25.npy` ...), each in the photo's own coordinates, so
    they lie on the same hand; landmark inputs get none."""
    _, out = processed
    rows = [r for r in manifest(out) if r["status"] == "ok"]
    extra = [r for r in rows if r["extra"] == "1" and not r["small"]]
    assert extra and all(r["every_border"] == "1" for r in rows if r["source"] != "boris")
    assert not [r for r in rows if r["source"] == "boris" and (r["extra"] == "1" or r["every_border"] == "1")]
    sample = {(r["path"], r["mirrored"]): r for r in rows if r["extra"] == "0"}
    for r in extra:
        first = sample[(r["path"], r["mirrored"])]  # the view's sample comes from an earlier reading
        assert float(r["border"]) > float(first["border"]) and float(r["border"]) in keypoints.FALLBACK_BORDERS
        assert r["output"] == layout.reading_name(first["output"], False, float(r["border"]))
        assert layout.parse_reading_name(r["output"]) == (layout.parse_reading_name(first["output"])[0],
                                                          r["mirrored"] == "1", True, False)
        a, b = np.load(out / first["output"]), np.load(out / r["output"])
        size = np.linalg.norm(a[:, :2] - a[:1, :2], axis=1).mean()
        assert np.linalg.norm(a[:, :2] - b[:, :2], axis=1).mean() < 0.25 * size, r["output"]


def shape(landmarks: np.ndarray) -> np.ndarray:
    """x, y relative to the wrist, in units of the mean distance from it: where a reading is taken drops out."""
    xy = landmarks[:, :2] - landmarks[:1, :2]
    return xy / np.linalg.norm(xy, axis=1).mean()


def test_small_frame_readings_are_further_samples_of_the_same_hand(processed):
    """Each view's hand also read from a 64x64 frame (`X[.mirror].small64.npy`): marked small and
    extra, the same handshape as the view's sample, not counted as photos; landmark inputs get none."""
    _, out = processed
    rows = [r for r in manifest(out) if r["status"] == "ok"]
    samples = {(r["path"], r["mirrored"]): r for r in rows if r["extra"] == "0"}
    small = [r for r in rows if r["small"]]
    photo_views = [key for key, r in samples.items() if r["source"] == "keptsecret"]
    assert len(small) >= 0.8 * len(photo_views) and {r["source"] for r in small} == {"keptsecret"}
    # every view is read once, found or not, so a re-run does not read it again
    assert sorted((r["path"], r["mirrored"]) for r in manifest(out) if r["small"]) == sorted(photo_views)
    distances = []
    for r in small:
        first = samples[(r["path"], r["mirrored"])]
        photo = layout.parse_reading_name(first["output"]).photo
        assert r["small"] == "64" and r["extra"] == "1" and r["class"] == first["class"]
        assert r["output"] == layout.reading_name(photo, r["mirrored"] == "1", None, 64)
        assert layout.parse_reading_name(r["output"]) == (photo, r["mirrored"] == "1", False, True)
        a, b = np.load(out / first["output"]), np.load(out / r["output"])
        distances.append(np.linalg.norm(shape(a) - shape(b), axis=1).mean())
    assert np.median(distances) < 0.2, "a small frame's reading is a blurrier view of the same hand"
    report = json.loads((out / "report.json").read_text())["per_source"]["keptsecret"]
    assert report["small_found"] == len(small) and report["files"] == 5 * len(KEPT)


def test_small_frames_are_added_to_an_earlier_run_without_reading_its_photos_again(tmp_path, capsys):
    data = make_slice(tmp_path / "in", per_class=1, classes=("A", "B"), boris=1, nothing=1)
    out = tmp_path / "out"
    assert preprocess.main(["--data", str(data), "--out", str(out), "--workers", "2"]) == 0  # none by default
    assert not [p for p in out.rglob("*.npy") if ".small" in p.name] and not [r for r in manifest(out) if r["small"]]
    before = tree(out)
    capsys.readouterr()
    assert preprocess.main(["--data", str(data), "--out", str(out), "--workers", "2", "--small-side", "64"]) == 0
    assert "0 to do" in capsys.readouterr().err
    small = [p.relative_to(out).as_posix() for p in out.rglob("*.small64.npy")]
    assert small and all(tree(out)[name] == data for name, data in before.items() if name.endswith(".npy"))
    assert preprocess.main(["--data", str(data), "--out", str(out), "--workers", "2", "--small-side", "0"]) == 0
    assert not [p for p in out.rglob("*.npy") if ".small" in p.name]


def test_border_views_off_reads_each_view_once(tmp_path):
    data = make_slice(tmp_path / "in", per_class=1, classes=("A", "B"), boris=1, nothing=1)
    out = tmp_path / "out"
    assert preprocess.main(["--data", str(data), "--out", str(out), "--workers", "1", "--border-views"]) == 0
    rows = manifest(out)
    assert {r["extra"] for r in rows if not r["small"]} == {r["every_border"] for r in rows} == {"0"}
    assert not [p for p in out.rglob("*.npy") if ".border" in p.name]
    # asking for every border later re-reads the photos, as asked, instead of keeping the old rows
    assert preprocess.main(["--data", str(data), "--out", str(out), "--workers", "1"]) == 0
    assert {r["every_border"] for r in manifest(out) if r["source"] == "keptsecret"} == {"1"}
    assert [p for p in out.rglob("*.npy") if ".border" in p.name]


def test_rerun_skips_finished_work(processed, capsys):
    data, out = processed
    before = tree(out)
    capsys.readouterr()
    assert preprocess.main(["--data", str(data), "--out", str(out), "--workers", "2", "--small-side", "64"]) == 0
    err = capsys.readouterr().err
    n = len({(r["source"], r["path"]) for r in manifest(out)})
    assert f"{n} already done, 0 to do" in err
    assert tree(out) == before


def test_cli_errors(tmp_path):
    """Missing folder, empty dataset, --workers 0: one clear message, exit 2, no traceback."""
    (tmp_path / "empty").mkdir()
    cases = [(["--data", str(tmp_path / "missing")], "not found"),
             (["--data", str(tmp_path / "empty")], "no class folders"),
             (["--data", str(tmp_path), "--workers", "0"], "usage:"),
             (["--data", str(tmp_path), "--split", "0.5", "0.5", "0.5"], "usage:")]
    for args, words in cases:
        result = subprocess.run(cli(*args, "--out", str(tmp_path / "out")), capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 2, (args, result.stderr)
        assert words in result.stderr and "error:" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.npy"))


# ----------------------------------------------------------------------------- interruption
@pytest.fixture(scope="module")
def resume_setup(tmp_path_factory):
    """A slice and the output of one uninterrupted run (subprocess, 1 worker)."""
    base = tmp_path_factory.mktemp("resume")
    data = make_slice(base / "in", per_class=4, classes=("A", "B", "C", "L"), boris=2, nothing=2)
    reference = base / "reference"
    subprocess.run(cli("--data", str(data), "--out", str(reference), "--workers", "1"),
                   check=True, capture_output=True, timeout=300)
    return base, data, tree(reference)


def run_until(args: list[str], out: Path, n_files: int, sig: int) -> subprocess.CompletedProcess:
    """Start preprocess.py, send `sig` once it has written `n_files` more .npy files under OUT; its result."""
    n_files += sum(1 for _ in out.rglob("*.npy")) if out.is_dir() else 0
    proc = subprocess.Popen(cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.time() + 180
        while sum(1 for _ in out.rglob("*.npy")) < n_files if out.is_dir() else True:
            assert proc.poll() is None, "preprocess.py finished before it could be interrupted"
            assert time.time() < deadline
            time.sleep(0.02)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        try:  # detector worker processes of a killed parent
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.parametrize("plan", [
    [(signal.SIGKILL, 3, 1)],
    [(signal.SIGINT, 8, 1)],
    [(signal.SIGKILL, 5, 2), (signal.SIGKILL, 9, 1), (signal.SIGINT, 6, 2)],
], ids=["kill-early", "sigint", "kill-kill-sigint"])
def test_resume_after_interrupt_equals_clean_run(resume_setup, plan):
    base, data, reference = resume_setup
    out = base / f"out-{len(list(base.iterdir()))}"
    args = ["--data", str(data), "--out", str(out)]
    for sig, n_files, workers in plan:
        result = run_until(args + ["--workers", str(workers)], out, n_files, sig)
        if sig == signal.SIGKILL:
            assert result.returncode == -signal.SIGKILL
        else:
            assert result.returncode == 130, result.stderr
            assert "Traceback" not in result.stderr
            message = [line for line in result.stderr.splitlines() if "interrupted" in line]
            assert len(message) == 1 and "again" in message[0], result.stderr
    final = subprocess.run(cli(*args, "--workers", "2"), capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert "already done" in final.stderr
    done = int(final.stderr.split(" already done")[0].rsplit(";", 1)[1])
    assert done >= 1, "nothing of the interrupted runs was kept"
    assert not list(out.rglob("*.part")), "temp files left behind"
    got = tree(out)
    assert sorted(got) == sorted(reference)
    assert [name for name in reference if got[name] != reference[name]] == []


def test_an_interrupt_while_reading_small_frames_loses_nothing(resume_setup):
    base, data, _ = resume_setup
    out, clean = (base / f"small-{name}-{len(list(base.iterdir()))}" for name in ("out", "clean"))
    args = ["--data", str(data), "--out", str(out), "--workers", "1", "--small-side", "64"]
    subprocess.run(cli(*args[:3], str(clean), *args[4:]), check=True, capture_output=True, timeout=300)
    reference = tree(clean)
    photo_readings = sum(1 for name in reference if name.endswith(".npy") and ".small" not in name)
    result = run_until(args, out, photo_readings + 2, signal.SIGINT)
    assert result.returncode == 130 and "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if "interrupted" in line and "small frames to read" in line]
    final = subprocess.run(cli(*args), capture_output=True, text=True, timeout=300)
    assert final.returncode == 0 and "0 to do" in final.stderr, final.stderr
    got = tree(out)
    assert sorted(got) == sorted(reference) and [name for name in reference if got[name] != reference[name]] == []
