"""benchmark.py: a smoke run produces every figure (no timing is asserted), and the verdicts."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import benchmark
from serving import browser_session
from conftest import REPO, needs_data


# The page's figures, where it can be driven (else a note says why it was not timed).
WEB_KEYS = () if browser_session.missing() else (
    "web.ready_s", "web.landmarker.p50_ms", "web.model.p95_ms", "web.draw.p50_ms", "web.frame.p50_ms",
    "web.overhead_vs_landmarker", "web.fps", "memory_mb.web")


@needs_data
def test_quick_run_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(REPO / "benchmark.py"), "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert set(result) == {"settings", "machine", "median", "targets", "rounds", "notes"}
    median = result["median"]
    for key in ("preprocess.w1.images_per_s", "bare.w2.images_per_s", "preprocess_vs_bare", "preprocess_vs_bare_retry",
                "preprocess_scaling", "landmarker.p50_ms", "frame.p95_ms", "frame.model.p50_ms", "frame_vs_landmarker",
                "onnx.frame_vs_landmarker", "classifier.torch.batch1_ms", "classifier.onnx.batch1024_per_s",
                "classifier.torch.batch1_fraction", "photo.all_views_vs_landmarker", "photo.one_view.p50_ms",
                "startup.pth_s", "startup.onnx_s", "memory_mb.preprocess.w2",
                "memory_mb.main.onnx", *WEB_KEYS):
        assert isinstance(median.get(key), float), key
    assert {t["figure"] for t in result["targets"]} == {v[0] for v in benchmark.TARGETS.values()}
    assert "FAIL" in done.stdout or "PASS" in done.stdout


def test_report_verdicts() -> None:
    args = argparse.Namespace(workers=2)
    summary = {"preprocess_vs_bare": 0.97, "onnx.frame_vs_landmarker": 1.5, "landmarker.p50_ms": 20.0,
               "landmarker.p95_ms": 30.0}
    table, verdicts = benchmark.report(summary, args)
    by_figure = {v["figure"]: v["pass"] for v in verdicts}
    assert by_figure["preprocess_vs_bare"] is True
    assert by_figure["onnx.frame_vs_landmarker"] is False
    assert by_figure["train.50_epochs_s"] is None
    assert "20.00 / 30.00" in table and "not measured" in table
