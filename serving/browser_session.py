"""The web page driven in headless Chromium, for its tests and benchmark.py: a fake camera playing
a y4m video written from frames, the page's server (web_server.App) on a free loopback port in a
thread, and Chromium launched through Playwright (the system's Chromium: Playwright's own browser
download is never used).

    with PageServer() as url, driver() as playwright, browser(playwright, camera=y4m) as chromium:
        page = open_page(chromium, url)      # waits for window.asl.ready (or .error)
"""
from __future__ import annotations

import contextlib
import os
import shutil
import threading
import urllib.parse
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from serving import web_server

CHROMIUM = os.environ.get("ASL_CHROMIUM", "/usr/bin/chromium")
# Software rendering in a container without a GPU (there the page keeps its hand landmarker on the CPU).
FLAGS = ["--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader"]
FAKE_CAMERA = ["--use-fake-device-for-media-stream"]
ALLOW_CAMERA = ["--use-fake-ui-for-media-stream"]  # answers the permission prompt with "allow"
READY_TIMEOUT_S = 60.0


def missing() -> str | None:
    """Why the page cannot be driven here (None when it can): Playwright, Chromium or the npm packages."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements.txt)"
    if shutil.which(CHROMIUM) is None:
        return f"{CHROMIUM} not found (apt-get install -y --no-install-recommends chromium)"
    if not all((web_server.NODE_MODULES / folder).is_dir() for folder in web_server.NPM_ROOTS.values()):
        return f"{web_server.NODE_MODULES} lacks the page's packages (run npm ci)"
    return None


def write_y4m(path: str | Path, frames: Iterable[np.ndarray], fps: int) -> int:
    """Write RGB frames (all one size; an odd width or height loses its last column or row) as a
    4:2:0 y4m video playing at `fps`, what Chromium's fake camera reads; returns the frame count."""
    import cv2
    count = 0
    with open(path, "wb") as out:
        for rgb in frames:
            h, w = (rgb.shape[0] // 2) * 2, (rgb.shape[1] // 2) * 2
            if not count:
                out.write(f"YUV4MPEG2 W{w} H{h} F{int(fps)}:1 Ip A1:1 C420jpeg\n".encode())
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(np.ascontiguousarray(rgb[:h, :w]), cv2.COLOR_RGB2YUV_I420).tobytes())
            count += 1
    return count


@contextlib.contextmanager
def PageServer(**app_options: object) -> Iterator[str]:
    """The page's server on a free port of 127.0.0.1 in a thread; yields its base URL.
    `app_options` go to web_server.App (default: the shipped ONNX model, the English lexicon)."""
    options = {"weights": web_server.REPO / "keypoint_model_L_cnn_50.onnx", **app_options}
    server = web_server.make_server(web_server.LOOPBACK, 0, web_server.App(**options))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{web_server.LOOPBACK}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def driver() -> Iterator:
    """Playwright (one per process and thread: every `browser` of a session comes from it)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        yield playwright


@contextlib.contextmanager
def browser(playwright: object, camera: str | Path | None = None, fake_camera: bool = True,
            allow_camera: bool = True) -> Iterator:
    """Headless Chromium.  `camera`: a y4m the fake camera plays (looping; None: Chromium's
    built-in test pattern).  `fake_camera` False: the machine's real devices (none here);
    `allow_camera` False: the permission prompt is refused."""
    args = list(FLAGS)
    if fake_camera:
        args += FAKE_CAMERA + ([f"--use-file-for-fake-video-capture={camera}"] if camera else [])
    if allow_camera:
        args += ALLOW_CAMERA
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
    try:
        yield chromium
    finally:
        chromium.close()


def with_query(url: str, **params: str) -> str:
    """`url` with `params` added to its query (replacing any of the same name)."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)) | params
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, safe=",")))


def open_page(chromium: object, url: str, timeout_s: float = READY_TIMEOUT_S, fake_clock: bool = False,
              delegate: str | None = "cpu") -> object:
    """A new page at `url`, once `window.asl` is ready or has an error.  `page.requests` lists
    every URL the page asked for.  `fake_clock`: the page's timers run on Playwright's clock
    (`page.clock.run_for` moves them on).  `delegate`: the page's ?delegate= (the hand landmarker
    on the CPU by default, where the page's parity with Python is tested; None: the page chooses)."""
    if delegate is not None:
        url = with_query(url, delegate=delegate)
    page = chromium.new_page()
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    if fake_clock:
        page.clock.install()
    page.goto(url)
    page.wait_for_function("() => window.asl && (window.asl.ready || window.asl.error !== null)",
                           timeout=timeout_s * 1000)
    return page
