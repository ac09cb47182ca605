"""crossval.py: leave-one-source-out on a synthetic two-source dataset."""
from __future__ import annotations

import json

import numpy as np

import crossval
from hand import keypoints
from conftest import synthetic_hand


def test_leave_one_source_out(tmp_path):
    rng = np.random.default_rng(1)
    data = tmp_path / "data"
    for split, n in (("train", 30), ("valid", 6), ("test", 6)):
        for label, name in enumerate(("A", "B", "C")):
            folder = data / split / name
            folder.mkdir(parents=True)
            for source in ("one", "two"):
                for i in range(n):
                    hand = synthetic_hand(rng, label * 7 + 3)
                    np.save(folder / f"{source}__{name}{i}.jpg.npy", hand)
                    if source == "one":  # "one" has mirror images of its photos and border readings,
                        # "two" is landmarks only
                        np.save(folder / f"{source}__{name}{i}.jpg.mirror.npy", keypoints.mirror_landmarks(hand))
                        np.save(folder / f"{source}__{name}{i}.jpg.border50.npy", hand + 0.001)
    out = tmp_path / "loso.json"
    assert crossval.main(["--data", str(data), "--epochs", "8", "--seeds", "1", "2", "--jobs", "2", "--json", str(out),
                          "--adapt-shots", "2"]) == 0
    folds = json.loads(out.read_text())["folds"]
    assert set(folds) == {"one", "two"}
    for fold in folds.values():
        assert fold["original"]["hands_found"] == 3 * 42
        assert fold["original"]["accuracy_on_found"] > 0.6  # the other source's hands transfer
        assert 0 <= fold["original"]["letters_on_found"] <= 1
    assert folds["one"]["samples"] == 3 * 3 * 42 and folds["two"]["samples"] == 3 * 42
    # all readings of a photo are scored once per photo; a landmark-only source has no second view
    assert (folds["one"]["all_views"]["hands_found"] == folds["one"]["both_views"]["hands_found"]
            == folds["one"]["mirrored"]["hands_found"] == 3 * 42)
    assert not {"both_views", "mirrored", "all_views"} & set(folds["two"])
    result = json.loads(out.read_text())
    assert result["extra_readings"] is False and result["seeds"] == [1, 2] and result["inputs"] == "fused"
    for fold in folds.values():  # each figure is the mean over the seeds, every seed's value beside it
        seeds = fold["original"]["by_seed"]["accuracy_on_found"]
        assert len(seeds) == 2 and fold["original"]["accuracy_on_found"] == sum(seeds) / 2
    mean = sum(f["original"]["accuracy_on_found"] for f in folds.values()) / 2
    assert result["summary"]["original"]["folds"] == 2
    assert result["summary"]["original"]["mean_accuracy_on_found"] == mean
    for fold in folds.values():  # adaptation from 2 photos a letter, scored on the signer's other photos
        adapted = fold["adapted_2"]
        assert adapted["enrolled"] == 3 * 2 and adapted["scored"] == 3 * 42 - 3 * 2
        assert 0 <= adapted["before"] <= 1 and 0 <= adapted["after"] <= 1
    assert set(result["summary"]["adapted_2"]) == {"mean_before", "mean_after"}
    assert crossval.main(["--data", str(data), "--holdout", "three"]) == 2


def test_an_interrupted_run_goes_on_where_it_stopped(keypoint_dataset, tmp_path, monkeypatch):
    data = tmp_path / "two"
    for path in keypoint_dataset.rglob("*.npy"):  # two sources: "one" and "two"
        for source in ("one", "two"):
            target = data / path.relative_to(keypoint_dataset).parent / path.name.replace("synthetic", source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    out = tmp_path / "loso.json"
    args = ["--data", str(data), "--epochs", "2", "--seeds", "3", "--json", str(out)]
    real, calls = crossval.run_fold, []

    def stop_after_one(*a, **k):
        calls.append(a[1])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)
    monkeypatch.setattr(crossval, "run_fold", stop_after_one)
    assert crossval.main(args) == 130 and not out.exists()
    assert list(json.loads(out.with_name("loso.json.runs").read_text())["runs"]) == ["one/3"]
    calls.clear()
    assert crossval.main(args) == 0
    assert calls == ["two"]  # only the fold that was not finished is trained again
    assert set(json.loads(out.read_text())["folds"]) == {"one", "two"}
    assert not out.with_name("loso.json.runs").exists()
