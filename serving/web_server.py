"""The browser page's HTTP server (run by web.py): the page in `web/`, its two npm packages, the
verified hand model, the ONNX letter model, the checked J/Z motion weights and a generated
`/config.json`, `/lexicon.json` and `/practice.json` (the practice mode's word lists, from
`words/practice/`).

Only GET and HEAD; other methods get 405.  A path is served only when it is one of the generated
files or names a regular file inside one of the fixed roots (after percent-decoding once and
resolving symlinks); anything else, directories included, gets 404 (`file_in` says how).  The
models, the config and the word list are read or built once at start-up (`App`), so what the page
gets is what was checked.
"""
from __future__ import annotations

import json
import os
import shutil
import urllib.parse
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from realtime import adaptation
from classifiers import motion_letters
from hand import keypoints
from realtime import recogniser
from spelling import confusion_channel, word_decoder
from classifiers.classifier_base import CheckpointError, default_class_mapping
from spelling.lexicon import Lexicon, english_with, in_background, read_spec
from classifiers.onnx_classifier import OnnxClassifier

REPO = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"  # the only address the page is served on without a warning
WEB_ROOT = REPO / "web"
NODE_MODULES = REPO / "node_modules"
# URL prefix -> the folder it serves, inside node_modules.
NPM_ROOTS = {"/npm/tasks-vision/": Path("@mediapipe/tasks-vision"), "/npm/onnxruntime-web/": Path("onnxruntime-web/dist")}
INDEX = "/web/index.html"  # what `/` serves
MODEL_URL = "/models/letters.onnx"
HAND_MODEL_URL = "/models/hand_landmarker.task"
MOTION_URL = "/models/motion_letters.json"
CONFIG_URL = "/config.json"
LEXICON_URL = "/lexicon.json"
PRACTICE_URL = "/practice.json"
PRACTICE_WORDS = REPO / "words" / "practice"  # the practice levels' word lists, one <level>.txt each
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
                 ".css": "text/css", ".json": "application/json", ".map": "application/json",
                 ".wasm": "application/wasm", ".png": "image/png", ".svg": "image/svg+xml"}
BINARY = "application/octet-stream"
TEXT = "text/plain; charset=utf-8"  # the 404 and 405 bodies
NOT_FOUND = b"not found\n"
# The page may fetch, run and show only what this server serves: @mediapipe/tasks-vision ships a
# usage logger that posts to odml.pa.googleapis.com once a minute, which this refuses.  WASM needs
# 'wasm-unsafe-eval'; the landmarker's frames are blob: and data: images.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; "
                           "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; worker-src 'self' blob:; "
                           "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": CONTENT_SECURITY_POLICY}
# Hands the page looks for (main.py: 2).  In the browser the landmarker looks for a second hand with
# the palm detector on every frame, which halves the frame rate (benchmark.py: web.two_hands.*).
PAGE_MAX_HANDS = 1

Found = tuple[bytes | Path, str]  # the body (bytes, or a file to send) and its content type


class StartupError(RuntimeError):
    """Something the user gave or must install is unusable; the message is one line."""


@dataclass(frozen=True)
class Settings:
    """The live path's settings the page runs with (recogniser.py's defaults but one hand; main.py's flags)."""
    max_hands: int = PAGE_MAX_HANDS
    threshold: float = recogniser.THRESHOLD
    hold_s: float = recogniser.HOLD
    gap_ms: float = recogniser.GAP_MS
    smooth_ms: float = recogniser.SMOOTH_MS
    word_pause_s: float = recogniser.WORD_PAUSE
    adapt: bool = recogniser.ADAPT
    move_threshold: float = recogniser.MOVE_THRESHOLD
    motion_ms: float = recogniser.MOTION_MS
    motion_floor_px: float = recogniser.MOTION_FLOOR_PX
    settle_ms: float = recogniser.SETTLE_MS
    relabel_palms: float = recogniser.RELABEL_PALMS
    motion_letters: bool = recogniser.MOTION_LETTERS


def content_type(path: Path) -> str:
    """The Content-Type of a file, by its suffix."""
    return CONTENT_TYPES.get(path.suffix.lower(), BINARY)


def file_in(root: Path, relative: str) -> Path | None:
    """The regular file `relative` (a decoded URL path, `/`-separated) names inside the resolved
    folder `root`, or None: for a backslash, a NUL, an empty, `.` or `..` segment, a path that
    resolves (symlinks followed) outside `root`, or anything that is not a regular file."""
    if "\\" in relative or "\0" in relative or any(part in ("", ".", "..") for part in relative.split("/")):
        return None
    try:
        path = (root / relative).resolve()
        return path if path.is_relative_to(root) and path.is_file() else None
    except (OSError, RuntimeError, ValueError):  # e.g. a symlink loop, a name too long
        return None


def load_model(weights: str | os.PathLike) -> OnnxClassifier:
    """The ONNX export, loaded and checked as main.py loads it; StartupError if unusable."""
    path = Path(weights)
    if path.suffix.lower() == ".pth":
        raise StartupError(f"--weights {path} is a PyTorch checkpoint; the page runs its ONNX export "
                           f"(write it with: python export.py --weights {path})")
    try:
        return OnnxClassifier(path, default_class_mapping(path))
    except (CheckpointError, ImportError) as err:
        raise StartupError(str(err)) from None


def lexicon_bytes(words: Lexicon) -> bytes:
    """`/lexicon.json`: the (word, log-probability) pairs in the lexicon's order."""
    return json.dumps({"words": [[word, log_prob] for word, log_prob in words.items()]},
                      separators=(",", ":")).encode()


def load_lexicon(spec: str) -> Future | None:
    """`/lexicon.json` for a --lexicon value (none, en, FILE, en+FILE): None for none.  A user's word
    list is read now (StartupError if missing or empty); the English list is built in the background."""
    try:
        english, own = read_spec(spec)
    except (FileNotFoundError, ValueError) as err:
        raise StartupError(f"--lexicon: {err}") from None
    if english:
        return in_background(lambda: lexicon_bytes(english_with(own)))
    if own is None:
        return None
    done: Future = Future()
    done.set_result(lexicon_bytes(own))
    return done


def practice_bytes(folder: Path) -> bytes:
    """`/practice.json`: {"lists": {name: [WORD, ...]}} from each `<name>.txt` in `folder` (one word a
    line, upper-cased; blank lines and # comments skipped); StartupError for a missing folder, an
    empty list or a word with anything but the letters A-Z."""
    lists = {}
    for path in sorted(Path(folder).glob("*.txt")):
        words = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            word = line.strip().upper()
            if not word or word.startswith("#"):
                continue
            if not (word.isascii() and word.isalpha()):
                raise StartupError(f"{path}:{number}: {line.strip()!r} is not a word of the letters A-Z")
            words.append(word)
        if not words:
            raise StartupError(f"{path} holds no word")
        lists[path.stem] = words
    if not lists:
        raise StartupError(f"no practice word list (*.txt) in {folder}")
    return json.dumps({"lists": lists}, separators=(",", ":")).encode()


def check_node_modules(node_modules: Path) -> dict[str, Path]:
    """The resolved npm folders by URL prefix; StartupError when a package is not installed."""
    roots = {}
    for prefix, inner in NPM_ROOTS.items():
        folder = node_modules / inner
        if not folder.is_dir():
            raise StartupError(f"{folder} not found: run npm ci at the repository root")
        roots[prefix] = folder.resolve()
    return roots


class App:
    """Everything the server serves, loaded once; `resolve` maps a request path to a response."""

    def __init__(self, weights: str | os.PathLike, hand_model: str | os.PathLike | None = None,
                 lexicon: str = "en", settings: Settings = Settings(), web_root: str | os.PathLike = WEB_ROOT,
                 node_modules: str | os.PathLike = NODE_MODULES,
                 channel: str | os.PathLike = confusion_channel.SHIPPED,
                 motion_weights: str | os.PathLike = motion_letters.MOTION_WEIGHTS,
                 practice_words: str | os.PathLike = PRACTICE_WORDS) -> None:
        self.roots = {"/web/": Path(web_root).resolve(), **check_node_modules(Path(node_modules))}
        model = load_model(weights)
        if settings.adapt:
            try:
                adaptation.check_can_adapt(model, weights)
            except CheckpointError as err:
                raise StartupError(str(err)) from None
        try:
            hand_model_bytes = keypoints.resolve_hand_model(hand_model).read_bytes()
        except (keypoints.HandModelError, OSError) as err:
            raise StartupError(str(err)) from None
        try:
            motion = motion_letters.MotionModel.load(motion_weights)
        except motion_letters.MotionWeightsError as err:
            raise StartupError(str(err)) from None
        self.lexicon = load_lexicon(lexicon)
        try:
            confusions = confusion_channel.load_channel(channel)
        except confusion_channel.ChannelError as err:
            raise StartupError(str(err)) from None
        self.config = {
            "model": {"url": MODEL_URL, "classes": list(model.classes), "feature_version": model.feature_version,
                      "temperature": float(model.temperature), "inputs": list(model.input_names),
                      "output": model.output_name, "hidden_output": model.hidden_name,
                      "checkpoint_sha256": model.checkpoint_sha256},
            "hand_model": {"url": HAND_MODEL_URL, "sha256": keypoints.HAND_MODEL_SHA256},
            "motion": {"url": MOTION_URL, "sha256": motion.sha256},
            "lexicon": {"url": LEXICON_URL, "spec": lexicon} if self.lexicon is not None else None,
            "settings": {**asdict(settings), "borders": list(keypoints.FALLBACK_BORDERS),
                         "last_resort_confidence": keypoints.LAST_RESORT_CONFIDENCE,
                         "probe_frames": recogniser.PROBE_FRAMES, "motion_starts": recogniser.MOTION_STARTS,
                         "motion_lead_ms": recogniser.MOTION_LEAD_MS,
                         "motion_absorb_ms": recogniser.MOTION_ABSORB_MS},
            "decoder": {"prior_weight": word_decoder.PRIOR_WEIGHT, "oov_log_prior": word_decoder.OOV_LOG_PRIOR,
                        "oov_length": word_decoder.OOV_LENGTH, "oov_log_per_letter": word_decoder.OOV_LOG_PER_LETTER,
                        "missed_penalty": word_decoder.MISSED_PENALTY, "extra_penalty": word_decoder.EXTRA_PENALTY,
                        "tight_missed_penalty": word_decoder.TIGHT_MISSED_PENALTY,
                        "room_ratio": word_decoder.ROOM_RATIO, "pace_window": word_decoder.PACE_WINDOW,
                        "pace_min": word_decoder.PACE_MIN, "pace_quantile": word_decoder.PACE_QUANTILE,
                        "margin": word_decoder.MARGIN, "prob_floor": word_decoder.PROB_FLOOR,
                        "top_k": word_decoder.TOP_K, "beam": word_decoder.BEAM,
                        "n_suggestions": word_decoder.N_SUGGESTIONS, "channel_weight": word_decoder.CHANNEL_WEIGHT,
                        "channel": None if confusions is None else confusions.matrix.tolist(),
                        "evidence_needed": confusion_channel.EVIDENCE_NEEDED,
                        "evidence_min_log_prob": confusion_channel.EVIDENCE_MIN_LOG_PROB,
                        "adopted_p": confusion_channel.ADOPTED_P},
            "adaptation": {"l2": adaptation.L2, "steps": adaptation.STEPS, "learning_rate": adaptation.LEARNING_RATE,
                           "max_samples": adaptation.MAX_SAMPLES},
            "hand_connections": [list(pair) for pair in keypoints.HAND_CONNECTIONS]}
        self._fixed: dict[str, Found] = {
            CONFIG_URL: (json.dumps(self.config).encode(), CONTENT_TYPES[".json"]),
            PRACTICE_URL: (practice_bytes(Path(practice_words)), CONTENT_TYPES[".json"]),
            MODEL_URL: (Path(weights).read_bytes(), BINARY),
            HAND_MODEL_URL: (hand_model_bytes, BINARY),
            MOTION_URL: (Path(motion_weights).read_bytes(), CONTENT_TYPES[".json"])}

    def resolve(self, target: str) -> Found | None:
        """The response body and content type for a request target (query dropped, path
        percent-decoded once), or None for 404.  `/lexicon.json` waits for the word list."""
        path = urllib.parse.unquote(target.split("?", 1)[0])
        if path in self._fixed:
            return self._fixed[path]
        if path == LEXICON_URL and self.lexicon is not None:
            return self.lexicon.result(), CONTENT_TYPES[".json"]
        path = INDEX if path == "/" else path
        for prefix, root in self.roots.items():
            if path.startswith(prefix):
                found = file_in(root, path[len(prefix):])
                return (found, content_type(found)) if found is not None else None
        return None


class _Server(ThreadingHTTPServer):
    """A ThreadingHTTPServer that holds the App its handlers serve."""
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    """GET and HEAD from the App; 405 for every other method; no per-request log lines."""
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def __getattr__(self, name: str) -> Callable[[], None]:
        if name.startswith("do_"):  # any other method (http.server looks up do_<METHOD>)
            return self._not_allowed
        raise AttributeError(name)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: no line per request."""

    def _not_allowed(self) -> None:
        self.close_connection = True  # a request body, if any, is never read
        self._send(405, b"method not allowed\n", TEXT, True, {"Allow": "GET, HEAD", "Connection": "close"})

    def _respond(self, send_body: bool) -> None:
        found = self.server.app.resolve(self.path)
        try:
            if found is None:
                self._send(404, NOT_FOUND, TEXT, send_body)
            elif isinstance(found[0], Path):
                self._send_file(found[0], found[1], send_body)
            else:
                self._send(200, found[0], found[1], send_body)
        except (BrokenPipeError, ConnectionResetError):  # the browser went away mid-response
            self.close_connection = True

    def _send_file(self, path: Path, kind: str, send_body: bool) -> None:
        try:
            f = open(path, "rb")
        except OSError:  # removed since it was resolved
            self._send(404, NOT_FOUND, TEXT, send_body)
            return
        with f:
            self._send_head(200, kind, os.fstat(f.fileno()).st_size)
            if send_body:
                shutil.copyfileobj(f, self.wfile)

    def _send(self, status: int, body: bytes, kind: str, send_body: bool, extra: dict[str, str] | None = None) -> None:
        self._send_head(status, kind, len(body), extra)
        if send_body:
            self.wfile.write(body)

    def _send_head(self, status: int, kind: str, length: int, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": kind, "Content-Length": str(length), **HEADERS, **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()


def make_server(host: str, port: int, app: App) -> ThreadingHTTPServer:
    """A threading HTTP server for `app`, bound to host:port (port 0: a free one); OSError if the
    address cannot be used (e.g. the port is in use)."""
    return _Server((host, port), app)
