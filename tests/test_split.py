"""The leak-free block split: seeded, ~80/10/10 by blocks, and no block of neighbouring frames
on two sides of a split (real Kaggle listing, synthetic names, a real preprocess.py manifest)."""
from __future__ import annotations

import csv
import json
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from dataset import dataset_layout as layout
import preprocess
from conftest import SHARED_DATA, needs_data, synthetic_hand

RATIOS = (0.8, 0.1, 0.1)


def block_splits(entries, splits, block_size):
    """(source, class, block) -> set of splits its files went to."""
    found = defaultdict(set)
    for e in entries:
        found[(e.source, e.label, layout.block_key(e.path.name, block_size))].add(splits[f"{e.source}/{e.relpath}"])
    return found


def synthetic_entries(names_per_class: dict[str, list[str]], source: str = "synth") -> list[layout.Entry]:
    return [layout.Entry(source, label, Path("/nowhere", label, name), f"{label}/{name}")
            for label, names in names_per_class.items() for name in names]


def test_block_key():
    assert layout.block_key("A1.jpg", 50) == ("A", 0)
    assert layout.block_key("A49.jpg", 50) == ("A", 0)
    assert layout.block_key("A50.jpg", 50) == ("A", 1)
    assert layout.block_key("frame_123.npy", 50) == ("frame_", 2)
    assert layout.block_key("nothing1006.jpg", 50) == ("nothing", 20)
    assert layout.block_key("Nothingc12.jpg", 50) != layout.block_key("Nothing12.jpg", 50)
    assert layout.block_key("photo.jpg", 50)[1] == -1  # no frame number: its own block


@pytest.mark.parametrize("block_size", [1, 7, 50])
def test_synthetic_no_block_straddles_and_ratios(block_size):
    names = {label: [f"{prefix}{i}.jpg" for prefix in (label, f"{label}_cam") for i in range(0, 1000, 3)]
             for label in ("A", "B", "nothing")}
    entries = synthetic_entries(names)
    splits = layout.assign_splits(entries, RATIOS, seed=1, block_size=block_size)
    assert set(splits) == {f"{e.source}/{e.relpath}" for e in entries}
    blocks = block_splits(entries, splits, block_size)
    assert all(len(s) == 1 for s in blocks.values()), "a block of neighbouring frames straddles two splits"
    for label in names:
        per_label = Counter(next(iter(s)) for (src, lab, _), s in blocks.items() if lab == label)
        total = sum(per_label.values())
        assert abs(per_label["train"] / total - 0.8) < 0.03
        assert abs(per_label["valid"] / total - 0.1) < 0.03
        assert abs(per_label["test"] / total - 0.1) < 0.03


def test_seeded_and_reproducible():
    entries = synthetic_entries({"A": [f"A{i}.jpg" for i in range(2000)], "B": [f"B{i}.jpg" for i in range(2000)]})
    first = layout.assign_splits(entries, RATIOS, seed=42, block_size=50)
    assert layout.assign_splits(list(reversed(entries)), RATIOS, seed=42, block_size=50) == first
    assert layout.assign_splits(entries, RATIOS, seed=43, block_size=50) != first


def test_few_blocks_still_give_valid_and_test():
    entries = synthetic_entries({"A": [f"A{i}.jpg" for i in range(150)]})  # 3 blocks of 50
    assert set(layout.assign_splits(entries, RATIOS, seed=0, block_size=50).values()) == {"train", "valid", "test"}
    single = synthetic_entries({"A": ["A1.jpg", "A2.jpg"]})  # one block: all of it in one split
    assert len(set(layout.assign_splits(single, RATIOS, seed=0, block_size=50).values())) == 1


def test_split_of_a_file_does_not_depend_on_other_classes():
    a = {"A": [f"A{i}.jpg" for i in range(500)]}
    alone = layout.assign_splits(synthetic_entries(a), RATIOS, seed=5, block_size=50)
    together = layout.assign_splits(synthetic_entries({**a, "B": [f"B{i}.jpg" for i in range(700)]}),
                                    RATIOS, seed=5, block_size=50)
    assert {k: v for k, v in together.items() if "/A/" in k} == alone


def stacked_folder(root: Path) -> Path:
    """A collection like tresajoby: static/<L>.npy stacks (A: 30 x 63, B: 25 x 21 x 3, a single
    hand `space.npy`, a broken C.npy, a stray notes.npy) and dynamic/J.npy of motion sequences."""
    rng = np.random.default_rng(0)
    static, dynamic = root / "person" / "static", root / "person" / "dynamic"
    static.mkdir(parents=True)
    dynamic.mkdir(parents=True)
    np.save(static / "A.npy", np.stack([synthetic_hand(rng, 1) for _ in range(30)]).reshape(30, 63))
    np.save(static / "B.npy", np.stack([synthetic_hand(rng, 2) for _ in range(25)]))
    np.save(static / "space.npy", synthetic_hand(rng, 3).reshape(63))
    (static / "C.npy").write_bytes(b"not an array")
    np.save(static / "notes.npy", np.zeros(3))
    np.save(dynamic / "J.npy", np.zeros((4, 30, 63), np.float32))
    return root


def test_stacked_source_found_and_listed(tmp_path):
    """Each row of a stacked file is a sample named by its row; motion sequences are named, not listed."""
    root = stacked_folder(tmp_path)
    (root / "photos" / "A").mkdir(parents=True)  # a folder of class folders beside it stays one
    sources = {s.name: s for s in layout.find_sources([root])}
    assert {n: s.stacked for n, s in sources.items()} == {"person-static": True, "person-dynamic": True,
                                                          "photos": False}
    entries, ignored = layout.list_entries(sources["person-static"])
    assert ignored == []
    assert Counter(e.label for e in entries) == {"A": 30, "B": 25, "space": 1, "C": 1}
    a17 = next(e for e in entries if e.label == "A" and e.row == 17)
    assert (a17.name, a17.relpath) == ("A.0017.npy", "A.0017.npy")
    assert a17.location == f"{root / 'person' / 'static' / 'A.npy'}#17"
    stack = np.load(a17.path).reshape(-1, 21, 3)
    np.testing.assert_array_equal(layout.read_landmark_file(a17.path, 17), stack[17])
    b = next(e for e in entries if e.label == "B" and e.row == 24)
    np.testing.assert_array_equal(layout.read_landmark_file(b.path, b.row), np.load(b.path)[24])
    single = next(e for e in entries if e.label == "space")
    assert single.row is None and layout.read_landmark_file(single.path).shape == (21, 3)
    broken = next(e for e in entries if e.label == "C")
    assert broken.row is None and layout.read_landmark_file(broken.path) is None
    assert layout.read_landmark_file(a17.path, 30) is None  # past the last row
    entries, ignored = layout.list_entries(sources["person-dynamic"])
    assert entries == [] and ignored == ["J.npy (motion sequences: 4 x 30 frames)"]


def test_stacked_rows_split_in_blocks_of_their_own_size():
    entries = [layout.Entry("s", label, Path("/nowhere", f"{label}.npy"), layout.stacked_name(Path(f"{label}.npy"), r), r)
               for label in ("A", "B") for r in range(100)]
    photos = synthetic_entries({"A": [f"A{i}.jpg" for i in range(150)]}, source="p")
    splits = layout.assign_splits(entries + photos, RATIOS, seed=3, block_size=50, stack_block_size=10)
    for label in ("A", "B"):
        by_block = defaultdict(set)
        for e in entries:
            if e.label == label:
                by_block[e.row // 10].add(splits[f"s/{e.relpath}"])
        assert all(len(s) == 1 for s in by_block.values()), "rows of one block on two sides of the split"
        assert Counter(next(iter(s)) for s in by_block.values()) == {"train": 8, "valid": 1, "test": 1}
    assert {k: v for k, v in splits.items() if k.startswith("p/")} == layout.assign_splits(
        photos, RATIOS, seed=3, block_size=50)  # photos keep their split
    # without a stack block size, rows fall in blocks of block_size: 2 blocks, one split
    alone = layout.assign_splits(entries, RATIOS, seed=3, block_size=50)
    assert len({v for k, v in alone.items() if "/A." in k}) == 1


@needs_data
def test_real_kaggle64_listing():
    sources = layout.find_sources([SHARED_DATA / "kaggle64" / "train"])
    assert len(sources) == 1
    entries, unknown = layout.list_entries(sources[0])
    assert unknown == []
    assert len(entries) == 8700 and {e.label for e in entries} == set(layout.KAGGLE_CLASSES)
    splits = layout.assign_splits(entries, RATIOS, seed=42, block_size=50)
    assert splits == layout.assign_splits(entries, RATIOS, seed=42, block_size=50)
    blocks = block_splits(entries, splits, 50)
    assert all(len(s) == 1 for s in blocks.values()), "a block of neighbouring frames straddles two splits"
    by_block = Counter(next(iter(s)) for s in blocks.values())
    assert abs(by_block["train"] / len(blocks) - 0.8) < 0.02
    assert abs(by_block["valid"] / len(blocks) - 0.1) < 0.02
    assert abs(by_block["test"] / len(blocks) - 0.1) < 0.02
    for label in layout.KAGGLE_CLASSES:  # every class has all three splits
        assert {s for (src, lab, _), ss in blocks.items() if lab == label for s in ss} == set(layout.SPLITS)


@needs_data
def test_real_preprocess_manifest_has_no_straddling_block(tmp_path):
    """Landmark .npy inputs go through preprocess.py without the detector: a fast real run."""
    data = tmp_path / "in" / "boris"
    for label in ("A", "B"):
        (data / label).mkdir(parents=True)
        for i in range(0, 400, 5):  # 80 frames over 400 frame numbers: 40 blocks of 10
            shutil.copy(SHARED_DATA / "landmarks-boris" / label / f"frame_{i}.npy", data / label)
    out = tmp_path / "out"
    assert preprocess.main(["--data", str(tmp_path / "in"), "--out", str(out), "--block-size", "10",
                            "--workers", "1", "--seed", "7"]) == 0
    with open(out / "manifest.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 160 and {r["status"] for r in rows} == {"ok"}
    blocks = defaultdict(set)
    for r in rows:
        blocks[(r["source"], r["class"], layout.block_key(Path(r["path"]).name, 10))].add(r["split"])
        assert (out / r["output"]).is_file() and r["output"].startswith(f"{r['split']}/{r['class']}/")
    assert len(blocks) == 80
    assert all(len(s) == 1 for s in blocks.values()), "a block straddles two splits in manifest.csv"
    assert Counter(next(iter(s)) for s in blocks.values()) == {"train": 64, "valid": 8, "test": 8}


def test_stacked_source_through_preprocess(tmp_path, capsys):
    """preprocess.py on a stacked collection: one sample per row (equal to it), row blocks kept on one
    side of the split, the broken file skipped with one warning and counted, motion sequences named
    and left out; a re-run finds everything done."""
    root = stacked_folder(tmp_path / "in")
    out = tmp_path / "out"
    args = ["--data", str(root), "--out", str(out), "--workers", "1", "--stack-block-size", "5"]
    assert preprocess.main(args) == 0
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "C.npy" in line] == [f"warning: skipped {root}/person/static/C.npy: "
                                                                       "bad landmarks"]
    assert any("person-dynamic" in line and "J.npy (motion sequences" in line for line in err.splitlines())
    with open(out / "manifest.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(rows) == 57 and len(ok) == 56 and {r["source"] for r in rows} == {"person-static"}
    assert not list(out.glob("*/J")), "motion sequences became static samples"
    blocks = defaultdict(set)
    for r in ok:
        file, _, row = r["path"].partition("#")
        stack = np.load(file).reshape(-1, 21, 3)
        np.testing.assert_array_equal(np.load(out / r["output"]), stack[int(row) if row else 0])
        if row:
            assert r["output"] == f"{r['split']}/{r['class']}/person-static__{r['class']}.{int(row):04d}.npy.npy"
            blocks[(r["class"], int(row) // 5)].add(r["split"])
    assert len(blocks) == 6 + 5 and all(len(s) == 1 for s in blocks.values())
    assert {next(iter(s)) for s in blocks.values()} == set(layout.SPLITS)
    report = json.loads((out / "report.json").read_text())
    assert report["per_source"]["person-static"]["files"] == 57
    assert report["per_source"]["person-static"]["skipped_bad_landmarks"] == 1
    assert report["unknown_folders"] == {"person-dynamic": ["J.npy (motion sequences: 4 x 30 frames)"]}
    assert preprocess.main(args) == 0
    assert "57 already done, 0 to do" in capsys.readouterr().err
