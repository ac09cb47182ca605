"""train.py (learns, writes its outputs, resumes after an interrupt, copes with a missing class)
and evaluate.py (JSON contract, --plot, --flip, landmark mode, mirrored photos with the shipped weights)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from dataset import dataset_layout as layout
import evaluate
from hand import keypoints, photo_readers
import model as model_lib
import preprocess
from classifiers.classifier import load_classifier, read_class_mapping, write_class_mapping
from conftest import REPO, SHARED_DATA, WEIGHTS, needs_data

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TRAIN_ARGS = ["--epochs", "8", "--batch-size", "12", "--seed", "3"]
needs_weights = pytest.mark.skipif(
    not (WEIGHTS.is_file() and WEIGHTS.with_name("class_mapping.txt").is_file()),
    reason=f"shipped weights {WEIGHTS.name} + class_mapping.txt not present (train them with train.py)")


def run(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / script), *args], capture_output=True, text=True,
                          env=ENV, timeout=timeout)


# ----------------------------------------------------------------------------- train
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One uninterrupted short training run on a copy of the conftest-style synthetic set."""
    base = tmp_path_factory.mktemp("train")
    data = make_keypoint_dataset(base / "data")
    result = run("train.py", "--data", str(data), "--weights", str(base / "run" / "m.pth"), *TRAIN_ARGS)
    assert result.returncode == 0, result.stderr
    return data, base / "run"


def make_keypoint_dataset(root: Path) -> Path:
    """The conftest `keypoint_dataset` layout (module-scoped here so runs can share it)."""
    from conftest import synthetic_hand
    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("valid", 10), ("test", 10)):
        for label, name in enumerate(("A", "B", "C")):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                np.save(folder / f"synthetic__{name}{i}.jpg.npy", synthetic_hand(rng, label * 7 + 3))
    return root


def test_train_learns_and_writes_outputs(trained):
    _, out = trained
    for name in ("m.pth", "class_mapping.txt", "training_curve.png", "training_metrics.json"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "m.pth.resume").exists() and not list(out.glob(".*.part*"))
    metrics = json.loads((out / "training_metrics.json").read_text())
    assert metrics["classes"] == ["A", "B", "C"] and len(metrics["history"]) == 8
    assert metrics["valid_accuracy"]["all"] >= 0.8, "no better than chance (1/3)"
    clf = load_classifier(out / "m.pth")
    assert clf.classes == read_class_mapping(out / "class_mapping.txt") == ["A", "B", "C"]


def test_train_fixture_dataset(keypoint_dataset, tmp_path):
    """The shared conftest fixture, in-process: valid accuracy clearly above chance."""
    torch.set_num_threads(1)
    import train
    assert train.main(["--data", str(keypoint_dataset), "--weights", str(tmp_path / "w.pth"), *TRAIN_ARGS]) == 0
    assert json.loads((tmp_path / "training_metrics.json").read_text())["valid_accuracy"]["all"] >= 0.8


def test_train_learns_from_small_frame_readings_unless_told_not_to(keypoint_dataset, tmp_path, capsys):
    """Readings of small frames (`X.small64.npy`, preprocess.py --small-side) are training samples with
    --small-readings, never valid or test ones; by default they are left out; asked for and absent, a warning."""
    torch.set_num_threads(1)
    import train

    def samples(name: str, *flags: str) -> int:
        weights = tmp_path / name / "w.pth"
        assert train.main(["--data", str(keypoint_dataset), "--weights", str(weights), *TRAIN_ARGS, *flags]) == 0
        return json.loads((weights.parent / "training_metrics.json").read_text())["train_samples"]

    plain = samples("plain")
    assert "no small-frame readings" not in capsys.readouterr().err
    assert samples("asked", "--small-readings") == plain
    assert "no small-frame readings" in capsys.readouterr().err
    for path in sorted(keypoint_dataset.glob("*/*/*.npy"))[::2]:
        np.save(path.with_name(path.name[:-len(".npy")] + ".small64.npy"), np.load(path) + 0.001)
    added = sum(1 for _ in (keypoint_dataset / "train").glob("*/*.small64.npy"))
    assert samples("small", "--small-readings") == plain + added
    metrics = json.loads((tmp_path / "small" / "training_metrics.json").read_text())
    plain_metrics = json.loads((tmp_path / "plain" / "training_metrics.json").read_text())
    assert (metrics["valid_samples"], metrics["test_samples"]) == (plain_metrics["valid_samples"],
                                                                   plain_metrics["test_samples"])
    assert "no small-frame readings" not in capsys.readouterr().err
    assert samples("default") == plain


def test_train_resume_after_interrupt(trained, tmp_path):
    data, reference = trained
    weights = tmp_path / "m.pth"
    state = tmp_path / "m.pth.resume"
    args = ["--data", str(data), "--weights", str(weights), *TRAIN_ARGS]
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 120
    while not state.exists():
        assert proc.poll() is None, "train.py finished before it could be interrupted"
        assert time.time() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    assert state.exists() and not weights.exists()
    result = run("train.py", *args, "--resume")
    assert result.returncode == 0, result.stderr
    assert "resuming after epoch" in result.stderr
    assert not state.exists(), "the .resume file must be removed after a finished run"
    got = json.loads((tmp_path / "training_metrics.json").read_text())
    want = json.loads((reference / "training_metrics.json").read_text())
    assert [h["epoch"] for h in got["history"]] == list(range(1, 9))
    # a resumed run continues the same run: same epochs, same numbers as the uninterrupted one
    for g, w in zip(got["history"], want["history"]):
        assert g["valid_acc"] == pytest.approx(w["valid_acc"])
        assert g["train_loss"] == pytest.approx(w["train_loss"], rel=1e-4)


def test_train_without_anything_to_resume(trained, tmp_path, capsys):
    import train
    data, _ = trained
    assert train.main(["--data", str(data), "--weights", str(tmp_path / "m.pth"), "--resume", *TRAIN_ARGS]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_train_valid_split_missing_a_class(trained, tmp_path):
    """A class absent from the valid split: training still runs and keeps the class."""
    import train
    torch.set_num_threads(1)
    data, _ = trained
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    shutil.rmtree(copy / "valid" / "C")
    assert train.main(["--data", str(copy), "--weights", str(tmp_path / "m.pth"), "--epochs", "2"]) == 0
    assert read_class_mapping(tmp_path / "class_mapping.txt") == ["A", "B", "C"]


def test_source_balancing_lifts_small_sources():
    """--balance-sources: 0 keeps uniform sampling; 1 gives every source the same share; 0.5 between."""
    from classifiers import training
    sources = np.array(["big"] * 900 + ["small"] * 100, dtype=object)
    assert training.source_weights(sources, 0.0) is None
    for power, small_share in ((1.0, 0.5), (0.5, 100 ** 0.5 / (100 ** 0.5 + 900 ** 0.5))):
        p = training.source_weights(sources, power)
        assert p.sum() == pytest.approx(1.0)
        assert p[sources == "small"].sum() == pytest.approx(small_share)
        assert np.ptp(p[sources == "big"]) == 0, "samples of one source are drawn equally often"


def test_train_balanced_run_and_resume_guard(trained, tmp_path, capsys):
    """A balanced run learns and records its setting; --resume refuses a changed --balance-sources."""
    import train
    torch.set_num_threads(1)
    data, _ = trained
    weights = tmp_path / "m.pth"
    assert train.main(["--data", str(data), "--weights", str(weights), "--balance-sources", "1",
                       *TRAIN_ARGS]) == 0
    metrics = json.loads((tmp_path / "training_metrics.json").read_text())
    assert metrics["balance_sources"] == 1.0 and metrics["valid_accuracy"]["all"] >= 0.8
    capsys.readouterr()
    # a run interrupted with --balance-sources 1 must not be resumed with another setting
    torch.save({"classes": ["A", "B", "C"], "epochs": 8, "balance_sources": 1.0}, weights.with_name("m.pth.resume"))
    assert train.main(["--data", str(data), "--weights", str(weights), "--balance-sources", "0.5", "--resume",
                       *TRAIN_ARGS]) == 2
    assert "--balance-sources" in capsys.readouterr().err
    result = run("train.py", "--data", str(data), "--balance-sources", "1.5")
    assert result.returncode == 2 and "--balance-sources must be between 0 and 1" in result.stderr


def test_train_user_errors(tmp_path, capsys):
    import train
    (tmp_path / "empty" / "train").mkdir(parents=True)
    for args, words in ((["--data", str(tmp_path / "missing")], "run preprocess.py first"),
                        (["--data", str(tmp_path / "empty")], "need at least two classes")):
        assert train.main(args + ["--weights", str(tmp_path / "w.pth")]) == 2
        err = capsys.readouterr().err
        assert words in err and "train.py: error:" in err
    result = run("train.py", "--data", str(tmp_path), "--epochs", "0")  # as a process: argparse, exit 2
    assert result.returncode == 2 and result.stderr.startswith("usage:") and "error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_train_model_shape_flags(tmp_path, capsys):
    """--kernel-size / --channels / --hidden reach the checkpoint (which loads with them), a bad
    kernel is a usage error, and a run is not resumed with other model hyper-parameters."""
    import train
    data = make_keypoint_dataset(tmp_path / "data")
    weights = tmp_path / "m.pth"
    shape = ["--kernel-size", "5", "--channels", "8", "16", "--hidden", "16"]
    assert train.main(["--data", str(data), "--weights", str(weights), *shape, *TRAIN_ARGS]) == 0
    net, payload = model_lib.load_checkpoint(weights, tmp_path / "class_mapping.txt")
    assert payload["model_config"]["kernel_size"] == 5 and payload["model_config"]["channels"] == [8, 16]
    assert net.conv[0].kernel_size == (5,)
    capsys.readouterr()
    torch.save({"classes": ["A", "B", "C"], "epochs": 8, "balance_sources": train.BALANCE_SOURCES,
                "model_config": {**model_lib.DEFAULT_CONFIG, "channels": [8, 16], "hidden": 16, "kernel_size": 5}},
               weights.with_name("m.pth.resume"))
    assert train.main(["--data", str(data), "--weights", str(weights), "--resume", *TRAIN_ARGS]) == 2
    assert "model hyper-parameters" in capsys.readouterr().err
    result = run("train.py", "--data", str(data), "--kernel-size", "4")
    assert result.returncode == 2 and "--kernel-size must be a positive odd number" in result.stderr


# ----------------------------------------------------------------------------- evaluate
def test_letters_accuracy_leaves_out_del_nothing_space():
    """`letters_on_found` scores the alphabet only: a random hand filed under `nothing` read as a
    letter counts against accuracy_on_found, not against letters_on_found; misses count in neither."""
    truth = ["A", "B", "nothing", "space", "C"]
    predicted = ["A", "B", "P", "space", "nothing"]
    found = [True, True, True, True, False]
    r = evaluate.score(truth, predicted, [0.9] * 5, found, ["s"] * 5, layout.KAGGLE_CLASSES, 0.6)
    assert r["accuracy_on_found"] == pytest.approx(3 / 4)
    assert r["letters_on_found"] == 1.0
    assert r["accuracy"] == pytest.approx(3 / 5)


def random_weights(folder: Path, classes=layout.KAGGLE_CLASSES) -> Path:
    """An untrained checkpoint: enough to test evaluate.py's plumbing without the shipped model."""
    torch.manual_seed(0)
    weights = folder / "random.pth"
    model_lib.save_checkpoint(weights, model_lib.build_model(len(classes)), list(classes), {})
    write_class_mapping(folder / "class_mapping.txt", list(classes))
    return weights


@pytest.fixture(scope="module")
def image_slice(tmp_path_factory):
    """3 keptsecret photos of A, B, L and 2 kaggle64 empty scenes ('nothing')."""
    root = tmp_path_factory.mktemp("eval") / "images"
    for label, src in (("A", "keptsecret"), ("B", "keptsecret"), ("L", "keptsecret"), ("nothing", "kaggle64")):
        (root / label).mkdir(parents=True)
        for f in sorted((SHARED_DATA / src / "train" / label).iterdir())[: 2 if label == "nothing" else 3]:
            shutil.copy(f, root / label / f.name)
    return root


def check_json(result: dict, n_images: int) -> None:
    assert result["images"] == n_images
    assert 0 <= result["hands_found"] <= n_images
    for key in ("accuracy", "accuracy_on_found", "macro_f1"):
        assert 0.0 <= result[key] <= 1.0
    confusion = np.array(result["confusion"])
    assert confusion.shape == (len(result["classes"]),) * 2
    assert confusion.sum() == n_images
    assert result["accuracy"] == pytest.approx(np.trace(confusion) / n_images)
    for name, row in zip(result["classes"], confusion):  # rows are the truth
        if row.sum():
            assert result["per_class"][name]["n"] == row.sum()
            assert result["per_class"][name]["recall"] == pytest.approx(row[result["classes"].index(name)] / row.sum())
    for stats in result["per_class"].values():
        assert set(stats) >= {"n", "precision", "recall"}


@needs_data
def test_evaluate_cli_on_images(image_slice, tmp_path):
    weights = random_weights(tmp_path)
    out_json, plot = tmp_path / "r.json", tmp_path / "c.png"
    result = run("evaluate.py", str(image_slice), "--weights", str(weights), "--workers", "2",
                 "--json", str(out_json), "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout
    report = json.loads(out_json.read_text())
    check_json(report, 11)
    assert report["hands_found"] >= 9  # the nine clear photos
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*.part*"))
    flipped = run("evaluate.py", str(image_slice), "--weights", str(weights), "--workers", "2", "--flip",
                  "--json", str(tmp_path / "f.json"))
    assert flipped.returncode == 0, flipped.stderr
    report_flip = json.loads((tmp_path / "f.json").read_text())
    check_json(report_flip, 11)
    assert report_flip["flip"] is True and report["flip"] is False
    assert report_flip["hands_found"] >= 9


@needs_data
def test_evaluate_landmark_folder(tmp_path):
    data = tmp_path / "in" / "boris"
    for label in ("A", "B", "C"):
        (data / label).mkdir(parents=True)
        for i in range(0, 400, 20):
            shutil.copy(SHARED_DATA / "landmarks-boris" / label / f"frame_{i}.npy", data / label)
    out = tmp_path / "processed"
    assert preprocess.main(["--data", str(tmp_path / "in"), "--out", str(out), "--block-size", "20",
                            "--workers", "1"]) == 0
    n_test = len(list((out / "test").glob("*/*.npy")))
    assert n_test >= 3
    weights = random_weights(tmp_path)
    assert evaluate.main([str(out), "--weights", str(weights), "--json", str(tmp_path / "t.json")]) == 0
    report = json.loads((tmp_path / "t.json").read_text())
    check_json(report, n_test)
    assert report["hands_found"] == n_test
    assert evaluate.main([str(out), "--split", "train", "--flip", "--weights", str(weights),
                          "--json", str(tmp_path / "tr.json")]) == 0
    check_json(json.loads((tmp_path / "tr.json").read_text()), len(list((out / "train").glob("*/*.npy"))))


def test_evaluate_both_views_of_landmark_folder(tmp_path):
    """Landmark mode with mirror images: by default each photo is scored once from both views, so
    --flip changes nothing; --no-both-views scores each view alone.  A photo whose hand was found
    in neither view (manifest.csv) counts as a miss."""
    from conftest import synthetic_hand
    rng = np.random.default_rng(5)
    out = tmp_path / "processed"
    rows = []
    for label, name in enumerate(("A", "B", "C")):
        (out / "test" / name).mkdir(parents=True)
        for i in range(6):
            hand = synthetic_hand(rng, label * 7 + 3)
            np.save(out / "test" / name / f"s__{name}{i}.jpg.npy", hand)
            np.save(out / "test" / name / f"s__{name}{i}.jpg.mirror.npy", keypoints.mirror_landmarks(hand))
            for mirrored in (0, 1):
                rows.append(f"s,x/{name}{i}.jpg,{name},test,test/{name}/s__{name}{i}.jpg{'.mirror' * mirrored}.npy,"
                            f"{mirrored},ok,{'Left' if mirrored else 'Right'},0.9")
        for mirrored in (0, 1):  # one photo of each class with no hand in either view
            rows.append(f"s,x/{name}_none.jpg,{name},test,,{mirrored},no_hand,,")
    rows.append("s,x/A_half.jpg,A,test,,0,no_hand,,")  # found only in the mirror image: not a miss there
    np.save(out / "test" / "A" / "s__A_half.jpg.mirror.npy", keypoints.mirror_landmarks(synthetic_hand(rng, 3)))
    rows.append("s,x/A_half.jpg,A,test,test/A/s__A_half.jpg.mirror.npy,1,ok,Left,0.9")
    (out / "manifest.csv").write_text(",".join(layout.MANIFEST_FIELDS) + "\n" + "\n".join(rows) + "\n")
    weights = random_weights(tmp_path, ["A", "B", "C", "nothing"])
    reports = {}
    for flags in ((), ("--flip",), ("--no-both-views",), ("--no-both-views", "--flip")):
        path = tmp_path / f"{'_'.join(flags) or 'default'}.json"
        assert evaluate.main([str(out), "--weights", str(weights), "--json", str(path), *flags]) == 0
        reports[flags] = json.loads(path.read_text())
    both, flipped = reports[()], reports[("--flip",)]
    curve = tmp_path / "reliability.png"
    assert evaluate.main([str(out), "--weights", str(weights), "--plot-reliability", str(curve)]) == 0
    assert curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not list(tmp_path.glob(".*.part*"))
    assert both["images"] == 22 and both["hands_found"] == 19 and both["both_views"] is True
    assert both["confusion"] == flipped["confusion"] and both["per_class"] == flipped["per_class"]
    assert reports[("--no-both-views",)]["images"] == 22 and reports[("--no-both-views",)]["hands_found"] == 18
    assert reports[("--no-both-views", "--flip")]["hands_found"] == 19


@needs_weights
def test_evaluate_border_views_of_landmark_folder(tmp_path, capsys):
    """Landmark mode with further readings (`X.border50.npy`): by default each photo's prediction
    combines all its readings, with --no-border-views only its one sample per view; the readings
    are not extra photos.  A folder without such readings is scored without them, with a warning."""
    from classifiers.classifier import combine_views
    from conftest import synthetic_hand
    rng = np.random.default_rng(9)
    out = tmp_path / "processed"
    rows, hands = [], {}
    for name in ("A", "B", "C"):
        (out / "test" / name).mkdir(parents=True)
        for i in range(8):
            photo = f"test/{name}/s__{name}{i}.jpg"
            for suffix, mirrored, extra in ((".npy", 0, 0), (".mirror.npy", 1, 0), (".border50.npy", 0, 1)):
                hands[photo + suffix] = hand = synthetic_hand(rng, int(rng.integers(0, 40)))
                np.save(out / (photo + suffix), keypoints.mirror_landmarks(hand) if mirrored else hand)
                rows.append(f"s,x/{name}{i}.jpg,{name},test,{photo + suffix},{mirrored},ok,"
                            f"{'Left' if mirrored else 'Right'},0.9,{0.5 * extra:g},{extra},1")
    (out / "manifest.csv").write_text(",".join(layout.MANIFEST_FIELDS) + "\n" + "\n".join(rows) + "\n")
    weights = WEIGHTS  # an untrained model gives every hand the same letter
    clf = load_classifier(weights)
    expected = {}
    for border_views in (True, False):
        names = [n for n in hands if border_views or ".border" not in n]
        lm = np.stack([keypoints.mirror_landmarks(hands[n]) if ".mirror" in n else hands[n] for n in names])
        _, probs = combine_views(clf.predict_proba(lm, ["Left" if ".mirror" in n else "Right" for n in names]),
                                 [layout.parse_reading_name(n)[0] for n in names])
        truth = [n.split("/")[1] for n in dict.fromkeys(layout.parse_reading_name(n)[0] for n in names)]
        expected[border_views] = Counter(zip(truth, (clf.classes[k] for k in probs.argmax(1))))
    for flags, border_views in (((), True), (("--no-border-views",), False)):
        path = tmp_path / "r.json"
        assert evaluate.main([str(out), "--weights", str(weights), "--json", str(path), *flags]) == 0
        report = json.loads(path.read_text())
        assert report["images"] == report["hands_found"] == 24 and report["border_views"] is border_views
        labels = report["classes"]
        got = Counter({(labels[i], labels[j]): n for i, row in enumerate(report["confusion"])
                       for j, n in enumerate(row) if n})
        assert got == expected[border_views]
    assert expected[True] != expected[False], "the fixture should tell the two apart"
    capsys.readouterr()
    for path in (out / "test").glob("*/*.border50.npy"):
        path.unlink()
    assert evaluate.main([str(out), "--weights", str(weights)]) == 0
    assert "no readings with every border" in capsys.readouterr().err


@needs_data
@needs_weights
def test_mirrored_photo_gives_same_letter():
    """The other hand (a mirrored photo) must read as the same letter with the shipped weights."""
    letters = ("A", "B", "C", "L", "V", "Y", "W")
    paths, truth = [], []
    for label in letters:
        for f in sorted((SHARED_DATA / "keptsecret" / "train" / label).iterdir())[:3]:
            paths.append(str(f))
            truth.append(label)
    clf = load_classifier(WEIGHTS)
    keypoints.resolve_hand_model()
    agree = compared = 0
    for index, readings in photo_readers.detect_files(paths, workers=2, views=(False, True)):
        first = {r.mirrored: r.hands[0] for r in readings or () if r.hands}  # the reading that found the hand
        if len(first) < 2:
            continue
        original, mirrored = first[False], first[True]
        p0 = clf.predict_proba(original.landmarks, original.handedness)[0]
        p1 = clf.predict_proba(mirrored.landmarks, mirrored.handedness)[0]
        compared += 1
        agree += int(np.argmax(p0) == np.argmax(p1))
    assert compared >= 18, f"hands found in both views of only {compared} of {len(paths)} photos"
    assert agree / compared >= 0.9, f"mirrored photo gave the same letter in only {agree} of {compared}"


def write_clip_manifest(out: Path, photos: list[tuple[Path, str, str]]) -> None:
    """A preprocess.py output folder whose manifest lists `photos` as (path, class, status) rows of
    the test split, plus a landmark set and a second (mirrored) row per photo, which are not photos."""
    import csv
    (out / "test" / "A").mkdir(parents=True)
    np.save(out / "test" / "A" / "s__x.jpg.npy", np.zeros((21, 3), np.float32))  # makes it a landmark folder
    with open(out / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, layout.MANIFEST_FIELDS)
        w.writeheader()
        for path, label, status in photos:
            for mirrored in (0, 1):
                w.writerow({"source": "s", "path": str(path), "class": label, "split": "test", "mirrored": mirrored,
                            "status": status})
        w.writerow({"source": "lm", "path": str(out / "frame_1.npy"), "class": "A", "split": "test", "status": "ok"})


@needs_data
@needs_weights
def test_evaluate_clips_read_photos_like_the_camera(image_slice, tmp_path):
    """--clip-frames shows each photo to main.py's live path as a still clip: image folders, and the
    split's photos of a preprocess.py output (through its manifest); empty scenes count as misses;
    a missing photo or a negative count is a one-line error."""
    result = run("evaluate.py", str(image_slice), "--clip-frames", "4", "--no-both-views",
                 "--json", str(tmp_path / "c.json"))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "c.json").read_text())
    check_json(report, 11)
    assert report["clip_frames"] == 4 and report["border_views"] is False and report["both_views"] is False
    assert 9 <= report["hands_found"] <= 10 and report["accuracy"] > 0.5
    assert report["per_class"]["nothing"]["recall"] == 1.0  # the two empty scenes: no hand in any frame

    photos = sorted((image_slice / "A").iterdir())[:2] + sorted((image_slice / "B").iterdir())[:1]
    out = tmp_path / "processed"
    write_clip_manifest(out, [(p, p.parent.name, "ok") for p in photos]
                        + [(image_slice / "L" / "gone.jpg", "L", "unreadable")])
    result = run("evaluate.py", str(out), "--split", "test", "--clip-frames", "3", "--json", str(tmp_path / "m.json"))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["images"] == 3 and report["both_views"] is True  # photos only, each once

    missing = tmp_path / "missing"
    write_clip_manifest(missing, [(tmp_path / "nowhere.jpg", "A", "ok")])
    result = run("evaluate.py", str(missing), "--clip-frames", "3")
    assert result.returncode == 2 and "1 photo(s) not found" in result.stderr and "Traceback" not in result.stderr
    result = run("evaluate.py", str(image_slice), "--clip-frames", "-1")
    assert result.returncode == 2 and "--clip-frames must be 0 (off) or more" in result.stderr


@needs_data
@needs_weights
def test_evaluate_shipped_weights(image_slice, tmp_path):
    result = run("evaluate.py", str(image_slice), "--workers", "2", "--json", str(tmp_path / "r.json"))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    check_json(report, 11)
    assert report["accuracy"] > 0.5, "the shipped weights read fewer than half of 11 clear photos"
