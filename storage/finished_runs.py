"""Resuming long jobs: the results of the jobs already done, kept beside a script's --json.

Used by crossval.py (one job per fold and seed) and spellbench.py (one per signer and setting).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from storage import atomic_files


class Finished:
    """The jobs already done, kept in `path` (beside a script's --json) so an interrupted run goes
    on where it stopped; a run with other `options` (data, settings) starts again."""

    def __init__(self, path: Path | None, options: list[str]) -> None:
        self.path, self.options = path, options
        self.runs: dict[str, Any] = {}
        if path is not None and path.is_file():
            try:
                saved = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                saved = {}
            if saved.get("options") == options:
                self.runs = saved.get("runs", {})

    def get(self, job: tuple[object, ...]) -> dict[str, Any] | None:
        """The result of a job (e.g. crossval.py's (source, seed)), if done."""
        return self.runs.get("/".join(map(str, job)))

    def add(self, job: tuple[object, ...], result: dict[str, Any]) -> None:
        """Keep one job's result (written at once, atomically)."""
        self.runs["/".join(map(str, job))] = result
        if self.path is not None:
            atomic_files.write_json(self.path, {"options": self.options, "runs": self.runs})

    def clear(self) -> None:
        """Forget the kept results once the whole run is written."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
