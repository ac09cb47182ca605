"""The leak-free block split: seeded, ~80/10/10 by blocks, and no block of neighbouring frames
on two sides of a split (real Kaggle listing, synthetic names, a real preprocess.py manifest)."""
from __future__ import annotations

import csv
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from dataset import dataset_layout as layout
import preprocess
from conftest import SHARED_DATA, needs_data

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
