"""benchmark.py's page timings: the browser page (web/) in headless Chromium, its fake camera playing
the test video as a y4m, in one fresh job process per round (browser_session.py: the page's server
in a thread, the system's Chromium through Playwright, a fresh browser profile each time).

- `web.ready_s`: `asl.readyMs / 1000`, navigation start to the models and the lexicon loaded (the
  lexicon download included; the server has built its word list before the page is opened, as it
  has by the time a user opens the URL web.py prints).
- per frame, from `asl.timings` of the last `frames` frames after `warmup_frames`: `web.landmarker`
  (detectForVideo, border padding included), `web.model` (features + ONNX + smoothing + speller +
  text), `web.draw` (canvas skeleton + panel), `web.frame` (their sum), each p50 / p95 in ms.
- `web.overhead_vs_landmarker`: a ratio of medians, p50 of (model + draw) per frame / p50 of the
  landmarker.
- `web.fps`: frames the page processed per second of wall time over the timed frames (the page
  skips camera frames while it is busy, so at most the camera's rate).
- `web.chromium_pss_mb`: the proportional set size summed over Chromium's processes after the timed
  frames (its whole footprint, shared pages counted once).
- then the same page in practice mode (key p, then Enter: the first level, the letters A-Z, scored
  against whatever the video shows), `frames` more frames after `warmup_frames`: `web.practice`
  (practice's own work per frame: scoring the committed letter, its panel, the reference hands),
  `web.practice.frame` (all stages), `web.practice.added_ms` (p50 of model + draw + practice in
  practice mode minus p50 of model + draw in spelling mode: what practice adds to the page's own
  work) and `web.practice.overhead_vs_landmarker`."""
from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import numpy as np

# In the page: wait for `warmup` processed frames, then for `n` more; the wall time between, and
# the stage timings of the last `n` frames (asl.timings keeps the last 300).
TIMED = """async ([warmup, n, timeoutMs, stages]) => {
  const start = performance.now();
  const index = () => (asl.last ? asl.last.frame : -1);
  const until = (k) => new Promise((resolve, reject) => {
    const poll = () => {
      if (asl.error !== null) reject(new Error(asl.error));
      else if (index() >= k) resolve(performance.now());
      else if (performance.now() - start > timeoutMs) reject(new Error(`frame ${index()} of ${k} after ${timeoutMs} ms`));
      else setTimeout(poll, 2);
    };
    poll();
  });
  const t0 = await until(index() + warmup), f0 = index();
  const t1 = await until(f0 + n), f1 = index();
  const video = document.getElementById("video");
  return { frames: f1 - f0, seconds: (t1 - t0) / 1000, size: [video.videoWidth, video.videoHeight],
           timings: Object.fromEntries(stages.map((stage) => [stage, asl.timings[stage].slice(-n)])) };
}"""
STAGES = ["landmarker", "model", "draw"]  # app.js's stages in spelling mode; practice mode adds "practice"
KEPT_TIMINGS = 300  # app.js's KEPT_TIMINGS: at most this many frames can be timed
READY_TIMEOUT_S, SLOWEST_FPS = 60.0, 1.0  # the frames fail after this long plus a frame a second


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                children = [int(c) for c in task.read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def chromium_pss_mb() -> float | None:
    """Summed PSS (MB) of this process's Chromium descendants; None where /proc cannot tell."""
    total, seen = 0, 0
    for pid in descendants(os.getpid()):
        try:
            if "chrom" not in Path(f"/proc/{pid}/comm").read_text():
                continue
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        seen += 1
    return total / 1024 if seen else None


def percentiles(values: list[float], prefix: str) -> dict:
    p50, p95 = np.percentile(values, [50, 95])
    return {f"{prefix}.p50_ms": float(p50), f"{prefix}.p95_ms": float(p95)}


def job_web(y4m: str, onnx: str, frames: int, warmup_frames: int, max_hands: int | None = None,
            prefix: str = "web") -> dict:
    """The page's ready time and per-frame stage timings in headless Chromium (see the module),
    looking for `max_hands` hands (None: the page's default); keys start with `prefix`."""
    from serving import browser_session
    from serving import web_server
    if not 1 <= frames <= KEPT_TIMINGS:
        raise ValueError(f"frames must be 1..{KEPT_TIMINGS} (the page keeps that many timings)")
    settings = web_server.Settings(max_hands=max_hands or web_server.PAGE_MAX_HANDS)
    with browser_session.PageServer(weights=onnx, settings=settings) as url, browser_session.driver() as playwright:
        urllib.request.urlopen(url + "lexicon.json", timeout=60).read()  # waits for the server's word list
        with browser_session.browser(playwright, camera=y4m) as chromium:
            page = browser_session.open_page(chromium, url)
            if page.evaluate("asl.error") is not None:
                raise RuntimeError(f"the page failed: {page.evaluate('asl.error')}")
            ready_s = page.evaluate("asl.readyMs") / 1000
            timeout_ms = (READY_TIMEOUT_S + (warmup_frames + frames) / SLOWEST_FPS) * 1000
            got = page.evaluate(TIMED, [max(warmup_frames, 1), frames, timeout_ms, STAGES])
            memory = chromium_pss_mb()
            page.keyboard.press("p")
            page.keyboard.press("Enter")
            if page.evaluate("asl.practice === null"):
                raise RuntimeError("practice mode did not start")
            practising = page.evaluate(TIMED, [max(warmup_frames, 1), frames, timeout_ms, STAGES + ["practice"]])
    stages = {k: np.asarray(v, float) for k, v in got["timings"].items()}
    own = stages["model"] + stages["draw"]
    overhead = float(np.median(own) / np.median(stages["landmarker"]))
    out = {"ready_s": ready_s, "fps": got["frames"] / got["seconds"], "frames": len(stages["model"]),
           "overhead_vs_landmarker": overhead, "camera_width": got["size"][0], "camera_height": got["size"][1]}
    for key, values in {**stages, "frame": sum(stages.values())}.items():
        out.update(percentiles(list(values), key))
    if memory is not None:
        out["chromium_pss_mb"] = memory
    practice = {k: np.asarray(v, float) for k, v in practising["timings"].items()}
    own_practising = practice["model"] + practice["draw"] + practice["practice"]
    out.update(percentiles(list(practice["practice"]), "practice"))
    out.update(percentiles(list(sum(practice.values())), "practice.frame"))
    out["practice.added_ms"] = float(np.median(own_practising) - np.median(own))
    out["practice.overhead_vs_landmarker"] = float(np.median(own_practising) / np.median(practice["landmarker"]))
    out["practice.fps"] = practising["frames"] / practising["seconds"]
    return {f"{prefix}.{key}": value for key, value in out.items()}
