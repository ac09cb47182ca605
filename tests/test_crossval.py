"""crossval.py: leave-one-source-out on a synthetic two-source dataset."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

import crossval
from bench import fold_scores
from hand import keypoints
from conftest import synthetic_hand
from spelling.confusion_channel import LETTERS, read_counts


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
                        # a small frame's reading: trained on by the other fold, never scored
                        np.save(folder / f"{source}__{name}{i}.jpg.small64.npy", hand + 0.002)
    out = tmp_path / "loso.json"
    channel = tmp_path / "confusions.json"
    assert crossval.main(["--data", str(data), "--epochs", "8", "--seeds", "1", "2", "--jobs", "2", "--json", str(out),
                          "--adapt-shots", "2", "--channel", str(channel), "--small-readings"]) == 0
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
    assert result["small_readings"] is True
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
    # the confusion channel: per held-out collection, what its letters were read as (camera view)
    counts = read_counts(channel)
    assert set(counts) == {"one", "two"}
    for source, table in counts.items():
        a, c = LETTERS.index("A"), LETTERS.index("C")
        assert table.sum() == pytest.approx(folds[source]["original"]["hands_found"])  # every hand is a letter here
        assert table[a, a] == pytest.approx(folds[source]["original"]["right"].get("A", 0))
        assert table[:, LETTERS.index("D")].sum() == 0 and table[a:c + 1, a:c + 1].sum() == table.sum()
    again = tmp_path / "again.json"
    assert crossval.main(["--channel", str(again), "--channel-from", str(out)]) == 0  # from the --json, no training
    assert {k: v.tolist() for k, v in read_counts(again).items()} == {k: v.tolist() for k, v in counts.items()}
    assert crossval.main(["--channel", str(again), "--channel-from", str(tmp_path / "missing.json")]) == 2


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


def fold(accuracies: list[float], recall: dict[str, float], confusions: dict[str, float]) -> dict:
    """One view's merged scores of a fold, one accuracy per seed (every score the same)."""
    mean = sum(accuracies) / len(accuracies)
    return {"images": 10, "hands_found": 10, **{k: mean for k in fold_scores.SCORES},
            "by_seed": {k: accuracies for k in fold_scores.SCORES}, "recall": recall, "confusions": confusions}


def results() -> dict:
    """Three folds: a full alphabet, a partial one (A-C) and a multi-signer source."""
    return {"full": {"samples": 10, "original": fold([0.8, 0.6], {"A": 0.5, "D": 0.9}, {"A->S": 2.0})},
            "partial": {"samples": 3, "original": fold([1.0, 0.9], {"A": 1.0, "B": 0.9}, {"B->A": 1.0})},
            "roboflow_asl_letters": {"samples": 9, "original": fold([0.5, 0.3], {"A": 0.3}, {"A->S": 1.0, "B->A": 0.5})}}


def test_summary_over_folds():
    """Every fold counts, a partial alphabet too; the single-signer mean leaves the multi-signer
    source out and carries its per-seed means; the worst fold, recall over the folds with the class,
    confusions summed over folds."""
    s = fold_scores.summarise(results(), ["original", "mirrored"])
    assert list(s) == ["original"]  # a view no fold was scored in has no summary
    s = s["original"]
    assert s["folds"] == 3 and s["single_signer_folds"] == 2
    assert s["mean_accuracy"] == pytest.approx((0.7 + 0.95 + 0.4) / 3)
    assert s["single_signer_mean_accuracy"] == pytest.approx((0.7 + 0.95) / 2)
    assert s["single_signer_mean_accuracy_by_seed"] == pytest.approx([0.9, 0.75])
    assert s["worst_fold"] == {"source": "roboflow_asl_letters", **{k: pytest.approx(0.4) for k in fold_scores.SCORES}}
    assert s["recall"] == pytest.approx({"A": 0.6, "B": 0.9, "D": 0.9})
    assert list(s["recall"])[0] == "A"  # weakest first
    assert s["top_confusions"] == ["A->S 3", "B->A 1.5"]


def test_merge_seeds_keeps_every_confusion():
    runs = [{"images": 4, "hands_found": 4, **{k: 0.5 for k in fold_scores.SCORES}, "recall": {"A": 0.5},
             "confusions": {f"A->{c}": 1 for c in "BCDEFGHIJK"[:n]}} for n in (10, 2)]
    merged = fold_scores.merge_seeds(runs)
    assert merged["confusions"]["A->B"] == 1 and merged["confusions"]["A->K"] == 0.5 and len(merged["confusions"]) == 10
    assert len(merged["top_confusions"]) == fold_scores.TOP_CONFUSIONS and merged["by_seed"]["accuracy"] == [0.5, 0.5]


def test_a_partial_alphabet_is_scored_on_its_letters():
    """A fold of A-C: accuracy over its own photos, recall of its own classes only; a photo with no
    hand found counts as `nothing`, in the accuracy end to end, the recall and the confusions."""
    scores = crossval.score_view(["A", "A", "B", "C"], ["A", "D", "B", "C"], Counter({"C": 1}))
    assert scores["images"] == 5 and scores["hands_found"] == 4
    assert scores["accuracy_on_found"] == 0.75 and scores["accuracy"] == 0.6
    assert scores["recall"] == {"A": 0.5, "B": 1.0, "C": 0.5}
    assert scores["confusions"] == {"A->D": 1, "C->nothing": 1}


def test_compare_two_runs_on_the_folds_they_share(tmp_path, capsys):
    before = {"folds": results(), "summary": {}}
    raised = {s: {"samples": 1, "original": {**r["original"], **{k: r["original"][k] + 0.1 for k in fold_scores.SCORES}}}
              for s, r in results().items() if s != "full"}
    after = {"folds": raised, "summary": {}}
    after["folds"]["new"] = results()["full"]
    del before["folds"]["partial"]["original"]["confusions"]  # a run written before confusions were kept
    before["folds"]["partial"]["original"]["top_confusions"] = ["B->A 1"]
    paths = [tmp_path / "before.json", tmp_path / "after.json"]
    for path, run in zip(paths, (before, after)):
        path.write_text(json.dumps(run))
    assert crossval.main(["--compare", *map(str, paths)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "left out, scored in one run only: full, new" in out
    rows = {line.split()[0]: line for line in out if line.startswith(("partial", "roboflow", "mean", "single"))}
    assert rows["partial"].split()[-4:] == ["95.00", "->", "105.00", "(+10.00)"]
    assert rows["roboflow_asl_letters*"].split()[-4:] == ["40.00", "->", "50.00", "(+10.00)"]
    assert rows["single-signer"].split()[-4:] == ["95.00", "->", "105.00", "(+10.00)"]  # partial only
    assert any(line.startswith("worst fold") and "roboflow_asl_letters 40.00 -> roboflow_asl_letters 50.00" in line
               for line in out)
    (tmp_path / "other.json").write_text(json.dumps({"folds": {"elsewhere": results()["full"]}, "summary": {}}))
    (tmp_path / "broken.json").write_text("{")
    for args in ([paths[0], tmp_path / "other.json"], [paths[0], tmp_path / "broken.json"],
                 [paths[0], tmp_path / "missing.json"]):
        assert crossval.main(["--compare", *map(str, args)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("crossval.py: error:") and len(err.splitlines()) == 1
