"""The report of a preprocess.py run: per-class and per-source counts of photos, hands found, splits
and skip reasons (`summarise`), as a fixed-width table (`report_table`)."""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from dataset import dataset_layout as layout

STATUS_OK, STATUS_NO_HAND = layout.STATUS_OK, layout.STATUS_NO_HAND


def summarise(rows: Iterable[dict], unknown: dict[str, list[str]]) -> dict[str, Any]:
    """Per-class counts (original images only; mirrored views and small-frame readings counted apart)
    and skip reasons."""
    per_class: dict[str, Counter] = {}
    per_source: dict[str, Counter] = {}
    for r in rows:
        for table, key in ((per_class, r["class"]), (per_source, r["source"])):
            c = table.setdefault(key, Counter())
            if r.get("small"):
                c["small_found"] += r["status"] == STATUS_OK
            if int(r.get("extra") or 0):
                continue
            if int(r["mirrored"]):
                c["mirrored_found"] += r["status"] == STATUS_OK
                continue
            c["files"] += 1
            c["hands_found"] += r["status"] == STATUS_OK
            c["no_hand"] += r["status"] == STATUS_NO_HAND
            if r["status"] not in (STATUS_OK, STATUS_NO_HAND):
                c["skipped"] += 1
                c[f"skipped_{r['status']}"] += 1
            if r["status"] == STATUS_OK:
                c[f"{r['split']}"] += 1
    order = {name: i for i, name in enumerate(layout.KAGGLE_CLASSES)}
    return {"per_class": {k: dict(per_class[k]) for k in sorted(per_class, key=lambda k: order.get(k, 99))},
            "per_source": {k: dict(v) for k, v in sorted(per_source.items())},
            "unknown_folders": unknown}


REPORT_COLUMNS = ["files", "hands_found", "no_hand", "skipped", "train", "valid", "test", "mirrored_found",
                  "small_found"]


def report_table(summary: dict[str, Any]) -> str:
    """The summary as a fixed-width text table, one line per class and per source."""
    lines = []
    for title, table in (("class", summary["per_class"]), ("source", summary["per_source"])):
        width = max([len(title)] + [len(k) for k in table])
        lines.append(f"{title:<{width}} " + " ".join(f"{c:>13}" for c in REPORT_COLUMNS) + "  found%")
        total = Counter()
        for name, counts in table.items():
            total.update(counts)
            found = 100 * counts.get("hands_found", 0) / max(1, counts.get("files", 0))
            lines.append(f"{name:<{width}} " + " ".join(f"{counts.get(c, 0):>13}" for c in REPORT_COLUMNS)
                         + f"  {found:6.1f}")
        found = 100 * total["hands_found"] / max(1, total["files"])
        lines.append(f"{'total':<{width}} " + " ".join(f"{total[c]:>13}" for c in REPORT_COLUMNS) + f"  {found:6.1f}")
        lines.append("")
    reasons = Counter()
    for counts in summary["per_class"].values():
        reasons.update({k[len("skipped_"):]: v for k, v in counts.items() if k.startswith("skipped_")})
    if reasons:
        lines.append("skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    for source, folders in summary["unknown_folders"].items():
        lines.append(f"not a class, ignored in {source}: {', '.join(folders)}")
    return "\n".join(lines).rstrip() + "\n"
