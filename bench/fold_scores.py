"""crossval.py's scores over folds: the seeds of a fold merged, the summary over folds (all, and the
single-signer ones with their seed spread; the worst fold; per-class recall; the top confusions),
its tables, and two runs side by side on the folds they share (`crossval.py --compare`).

A fold's scores per view (what `merge_seeds` makes, kept in crossval.py's --json under `folds`):
`accuracy_on_found`, `letters_on_found`, `accuracy` (end to end), each the mean over the seeds
with every seed's value in `by_seed`; `recall` per class; `right`, the found hands of each class read
right, and `confusions` ("T->P"), both mean counts per seed (crossval.py --channel is made of them).
A fold is scored on the classes it has: a collection of A-C is scored on its A, B and C.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

import numpy as np

from dataset import dataset_layout as layout

SCORES = ("accuracy_on_found", "letters_on_found", "accuracy")
HEADLINE = "accuracy"  # the score the worst fold and the comparison's per-fold change are ranked by
TOP_CONFUSIONS = 8  # pairs listed per fold and over all folds


def merge_seeds(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One view's scores over the seeds: the mean of each accuracy and of each class's recall,
    every seed's accuracy in `by_seed`, and the confusions (mean count per seed)."""
    merged = {k: runs[0][k] for k in ("images", "hands_found")}
    merged.update({k: float(np.mean([r[k] for r in runs])) for k in SCORES})
    merged["by_seed"] = {k: [r[k] for r in runs] for k in SCORES}
    merged["recall"] = {c: round(float(np.mean([r["recall"].get(c, 0.0) for r in runs])), 4) for c in runs[0]["recall"]}
    if all("right" in r for r in runs):  # found hands read right per class (crossval.py --channel's diagonal)
        merged["right"] = {c: float(np.mean([r["right"].get(c, 0) for r in runs])) for c in
                           dict.fromkeys(c for r in runs for c in r["right"])}
    pairs = sum((Counter(r["confusions"]) for r in runs), Counter())
    merged["confusions"] = {pair: n / len(runs) for pair, n in pairs.most_common()}
    merged["top_confusions"] = [f"{pair} {n / len(runs):g}" for pair, n in pairs.most_common(TOP_CONFUSIONS)]
    return merged


def fold_confusions(scores: dict[str, Any]) -> dict[str, float]:
    """A fold's confusions ("T->P": mean count per seed); from `top_confusions` for runs written
    before `confusions` was kept."""
    if "confusions" in scores:
        return scores["confusions"]
    return {pair: float(n) for pair, n in (item.rsplit(" ", 1) for item in scores.get("top_confusions", []))}


def _seed_means(folds: Iterable[dict[str, Any]], k: str) -> list[float]:
    """Per seed, the mean over `folds` of score `k`."""
    return [float(np.mean(values)) for values in zip(*(d["by_seed"][k] for d in folds))]


def summarise(results: dict[str, Any], views: Iterable[str]) -> dict[str, Any]:
    """Per view, over the folds scored in it: the mean of each score (all folds, and the
    single-signer ones with each seed's mean in `..._by_seed`), the worst fold (lowest end to end),
    per-class recall (mean over the folds that have the class) and the top confusions (summed over
    folds, per seed)."""
    summary: dict[str, Any] = {}
    for view in views:
        scored = {s: r[view] for s, r in results.items() if view in r}
        if not scored:
            continue
        single = [d for s, d in scored.items() if layout.single_signer(s)]
        worst = min(scored, key=lambda s: scored[s][HEADLINE])
        recall: dict[str, list[float]] = {}
        for d in scored.values():
            for c, value in d["recall"].items():
                recall.setdefault(c, []).append(value)
        pairs = sum((Counter(fold_confusions(d)) for d in scored.values()), Counter())
        summary[view] = {
            "folds": len(scored), **{f"mean_{k}": float(np.mean([d[k] for d in scored.values()])) for k in SCORES},
            "single_signer_folds": len(single),
            **{f"single_signer_mean_{k}": float(np.mean([d[k] for d in single])) if single else None for k in SCORES},
            **{f"single_signer_mean_{k}_by_seed": _seed_means(single, k) if single else None for k in SCORES},
            "worst_fold": {"source": worst, **{k: scored[worst][k] for k in SCORES}},
            "recall": {c: round(float(np.mean(v)), 4) for c, v in sorted(recall.items(), key=lambda cv: np.mean(cv[1]))},
            "top_confusions": [f"{pair} {n:g}" for pair, n in pairs.most_common(TOP_CONFUSIONS)]}
    return summary


def _cell(d: dict[str, Any], k: str) -> str:
    values = d["by_seed"][k]
    spread = f" ({100 * min(values):.1f}-{100 * max(values):.1f})" if len(values) > 1 else ""
    return f"{100 * d[k]:.2f}{spread}"


def _range(values: list[float] | None) -> str:
    return f" ({100 * min(values):.1f}-{100 * max(values):.1f})" if values and len(values) > 1 else ""


def print_tables(results: dict[str, Any], summary: dict[str, Any]) -> None:
    """One table per view: each fold's classes and its mean over seeds with the seeds' range, the means (the
    single-signer mean with the range of its per-seed means), the worst fold, the weakest classes
    and the top confusions."""
    for view, s in summary.items():
        print(f"\n{view.replace('_', ' ')} (mean over seeds, range in brackets; * = several signers):\n"
              f"{'held-out source':<24} {'classes':>7} {'found%':>7} {'on found':>22} {'letters on found':>22} "
              f"{'end to end':>22}")
        for source, r in results.items():
            if view in r:
                d, mark = r[view], " " if layout.single_signer(source) else "*"
                print(f"{source + mark:<24} {len(d['recall']):>7} {100 * d['hands_found'] / max(1, d['images']):>7.1f} "
                      + " ".join(f"{_cell(d, k):>22}" for k in SCORES))
        print(f"{'mean over ' + str(s['folds']) + ' folds':<24} {'':>15} "
              + " ".join(f"{100 * s['mean_' + k]:>22.2f}" for k in SCORES))
        if s["single_signer_folds"]:
            cells = [f"{100 * s['single_signer_mean_' + k]:.2f}{_range(s['single_signer_mean_' + k + '_by_seed'])}"
                     for k in SCORES]
            print(f"{'single-signer mean (' + str(s['single_signer_folds']) + ')':<24} {'':>15} "
                  + " ".join(f"{c:>22}" for c in cells))
        w = s["worst_fold"]
        print(f"{'worst fold':<24} {'':>15} " + " ".join(f"{100 * w[k]:>22.2f}" for k in SCORES) + f"  {w['source']}")
        print("recall, weakest first: " + ", ".join(f"{c} {100 * v:.1f}" for c, v in list(s["recall"].items())[:10]))
        print("top confusions (count per seed, all folds): " + ", ".join(s["top_confusions"]))


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Lines of a before/after table per view on the folds both runs scored: each fold's on-found
    and end-to-end accuracy before, after and the change; the mean over those folds, the
    single-signer mean (with the range of its per-seed means), the worst fold, and the classes
    whose recall changed most.  Raises ValueError when the runs share no scored fold."""
    lines: list[str] = []
    shared = [s for s in before["folds"] if s in after["folds"]]
    only = sorted(set(before["folds"]) ^ set(after["folds"]))
    if only:
        lines.append(f"left out, scored in one run only: {', '.join(only)}")
    views = dict.fromkeys(v for s in shared for v, d in after["folds"][s].items() if isinstance(d, dict) and "by_seed" in d)
    compared = False
    for view in views:
        folds = [s for s in shared if view in before["folds"][s] and view in after["folds"][s]]
        if not folds:
            continue
        compared = True
        b, a = ({s: run["folds"][s] for s in folds} for run in (before, after))
        sb, sa = summarise(b, [view])[view], summarise(a, [view])[view]
        lines += ["", f"{view.replace('_', ' ')}: before -> after (change), {len(folds)} folds; * = several signers",
                  f"{'held-out source':<24} {'on found':>26} {'end to end':>26}"]
        for s in sorted(folds, key=lambda s: a[s][view][HEADLINE] - b[s][view][HEADLINE]):
            mark = " " if layout.single_signer(s) else "*"
            lines.append(f"{s + mark:<24} " + " ".join(_change(b[s][view][k], a[s][view][k])
                                                       for k in ("accuracy_on_found", HEADLINE)))
        lines.append(f"{'mean over folds':<24} " + " ".join(_change(sb[f"mean_{k}"], sa[f"mean_{k}"])
                                                            for k in ("accuracy_on_found", HEADLINE)))
        if sb["single_signer_folds"]:
            lines.append(f"{'single-signer mean':<24} " + " ".join(
                _change(sb[f"single_signer_mean_{k}"], sa[f"single_signer_mean_{k}"])
                for k in ("accuracy_on_found", HEADLINE)))
            ranges = [_range(summary[f"single_signer_mean_{k}_by_seed"]).strip() or "-"
                      for k in ("accuracy_on_found", HEADLINE) for summary in (sb, sa)]
            if ranges.count("-") < len(ranges):
                lines.append(f"{'  range of seed means':<24} "
                             + " ".join(f"{b:>12} -> {a:<10}" for b, a in zip(ranges[::2], ranges[1::2])))
        lines.append(f"{'worst fold':<24} {sb['worst_fold']['source']} {100 * sb['worst_fold'][HEADLINE]:.2f} -> "
                     f"{sa['worst_fold']['source']} {100 * sa['worst_fold'][HEADLINE]:.2f} (end to end)")
        moved = sorted(set(sb["recall"]) & set(sa["recall"]), key=lambda c: abs(sa["recall"][c] - sb["recall"][c]),
                       reverse=True)[:8]
        lines.append("recall moved most: " + ", ".join(
            f"{c} {100 * sb['recall'][c]:.1f}->{100 * sa['recall'][c]:.1f}" for c in moved))
    if not compared:
        raise ValueError("the two runs share no scored fold")
    return lines


def _change(before: float, after: float) -> str:
    return f"{100 * before:>7.2f} -> {100 * after:6.2f} ({100 * (after - before):+6.2f})"
