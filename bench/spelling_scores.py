"""spellbench.py's scores: each word's missed, wrong and extra letters, word accuracy, character
error rate, right letters a minute and false commits while idle, per signer and pooled; and the
printed tables.  J and Z read from motion: the streams hold no J or Z motion (their J and Z
are photos), so each one a word does not need, or during idle stretches, is a false one."""
from __future__ import annotations

from typing import Any

import numpy as np

KINDS = ("dictionary", "names")
VARIANTS = ("letters", "lexicon")  # as committed, as shown
PICKED = "picked"  # as shown once the user took a suggestion or undid a correction (--picks)


def edit_counts(truth: str, said: str) -> tuple[int, int, int]:
    """(missed, wrong, extra) letters of the cheapest alignment of `said` to `truth`."""
    rows = [[(j, 0, 0, j) for j in range(len(said) + 1)]]  # (cost, missed, wrong, extra)
    for i, a in enumerate(truth, 1):
        row = [(i, i, 0, 0)]
        for j, b in enumerate(said, 1):
            up, left, diag = rows[-1][j], row[j - 1], rows[-1][j - 1]
            row.append(min((up[0] + 1, up[1] + 1, up[2], up[3]), (left[0] + 1, left[1], left[2], left[3] + 1),
                           (diag[0] + (a != b), diag[1], diag[2] + (a != b), diag[3])))
        rows.append(row)
    return rows[-1][-1][1:]


def score(words: list[dict[str, Any]], kind: str, variant: str) -> dict[str, float]:
    """Word accuracy, character error rate with its parts, and right letters per minute."""
    chosen = [w for w in words if w["kind"] == kind]
    counts = np.array([edit_counts(w["word"], w[variant]) for w in chosen]).reshape(-1, 3)
    letters = sum(len(w["word"]) for w in chosen)
    minutes = sum(w["seconds"] for w in chosen) / 60
    missed, wrong, extra = counts.sum(axis=0) / max(1, letters)
    return {"words": len(chosen), "word_accuracy": float(np.mean([w["word"] == w[variant] for w in chosen] or [0])),
            "cer": float(missed + wrong + extra), "missed": float(missed), "wrong": float(wrong),
            "extra": float(extra),
            "letters_per_minute": float(max(0, letters - counts.sum()) / minutes) if minutes else 0.0}


def false_motion_letters(word: str, read: list[str]) -> int:
    """Letters read from motion while `word` was spelled beyond the ones it holds."""
    return sum(max(0, read.count(letter) - word.count(letter)) for letter in set(read))


def summarise(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Scores per signer and pooled over signers (every word counts once)."""
    def scores(words: list[dict[str, Any]], idle: list[dict[str, Any]]) -> dict[str, Any]:
        picks = bool(words) and all(PICKED in w for w in words)
        result: dict[str, Any] = {f"{kind}.{variant}": score(words, kind, variant)
                                  for kind in KINDS for variant in VARIANTS + (PICKED,) * picks}
        if picks:
            result["picks_per_word"] = sum(w[PICKED] != w["lexicon"] for w in words) / len(words)
        minutes = sum(i["seconds"] for i in idle) / 60
        result["idle"] = {"minutes": minutes,
                          "false_commits_per_minute": sum(len(i["commits"]) for i in idle) / minutes if minutes else 0}
        stream_minutes = (sum(w["seconds"] for w in words) + sum(i["seconds"] for i in idle)) / 60
        false_motion = sum(false_motion_letters(w["word"], w.get("motion", [])) for w in words) \
            + sum(len(i.get("motion", [])) for i in idle)
        result["false_motion_per_minute"] = false_motion / stream_minutes if stream_minutes else 0.0
        letters = sum(len(w["word"]) for w in words)
        extra = sum(edit_counts(w["word"], w["letters"])[2] for w in words)
        result["extra_per_100_letters"] = 100 * extra / letters if letters else 0.0  # as committed, every word
        raw, lex = (1 - result[f"dictionary.{v}"]["word_accuracy"] for v in VARIANTS)
        result["dictionary.errors_removed"] = float(1 - lex / raw) if raw else None
        return result
    per_signer = {name: scores(run["words"], list(run["idle"].values())) for name, run in runs.items()}
    pooled = scores([w for run in runs.values() for w in run["words"]],
                    [i for run in runs.values() for i in run["idle"].values()])
    return {"overall": pooled, "signers": per_signer}


def print_table(title: str, summary: dict[str, Any]) -> None:
    """One row per signer and the pooled row: word accuracy and CER, letters and lexicon."""
    print(f"\n{title}\n{'signer':<22} {'dict words %':>14} {'dict CER %':>12} {'names %':>12} {'names CER %':>12} "
          f"{'letters/min':>12} {'idle/min':>9} {'extra/100':>9} {'J/Z/min':>9}\n{'':<22} {'letters lex':>14} "
          f"{'letters lex':>12} {'letters lex':>12} {'letters lex':>12} {'lex':>12} {'':>9} {'letters':>9} {'false':>9}")
    wordless = [name for name, s in summary["signers"].items()
                if s["dictionary.letters"]["words"] + s["names.letters"]["words"] == 0]
    rows = [*((n, s) for n, s in summary["signers"].items() if n not in wordless), ("all signers", summary["overall"])]
    for name, s in rows:
        cells = [f"{100 * s[f'{k}.letters'][m]:>6.1f} {100 * s[f'{k}.lexicon'][m]:>5.1f}"
                 for k, m in (("dictionary", "word_accuracy"), ("dictionary", "cer"), ("names", "word_accuracy"),
                              ("names", "cer"))]
        print(f"{name:<22} {cells[0]:>14} {cells[1]:>12} {cells[2]:>12} {cells[3]:>12} "
              f"{s['dictionary.lexicon']['letters_per_minute']:>12.1f} {s['idle']['false_commits_per_minute']:>9.2f} "
              f"{s['extra_per_100_letters']:>9.2f} {s['false_motion_per_minute']:>9.2f}")
    if wordless:
        print(f"(no word of the lists can be spelled with the letters of {', '.join(wordless)}: idle stretches only)")
    if "picks_per_word" in summary["overall"]:
        print(f"\nonce the user put words right with a suggestion or undo (--picks)\n{'signer':<22} "
              f"{'dict words %':>14} {'dict CER %':>12} {'names %':>12} {'picks/word':>12}")
        for name, s in rows:
            print(f"{name:<22} {100 * s['dictionary.picked']['word_accuracy']:>14.1f} "
                  f"{100 * s['dictionary.picked']['cer']:>12.1f} {100 * s['names.picked']['word_accuracy']:>12.1f} "
                  f"{s['picks_per_word']:>12.2f}")


def tables(runs: dict[str, dict[str, Any]], label: str) -> dict[str, Any]:
    """`runs` keyed SIGNER/HOLD/GAP summarised per setting (in order of first appearance), each
    table printed; the summaries keyed "hold=Hs gap=Gms"."""
    settings: dict[str, dict[str, Any]] = {}
    for key, run in runs.items():
        name, hold, gap = key.split("/")
        settings.setdefault(f"{float(hold):g}/{float(gap):g}", {})[name] = run
    results = {}
    for setting, by_signer in settings.items():
        hold, gap = setting.split("/")
        results[f"hold={hold}s gap={gap}ms"] = summary = summarise(by_signer)
        print_table(f"hold {hold} s, gap {gap} ms ({label})", summary)
    return results
