"""web_server.py and web.py: the page's files, packages and models over a real socket, the paths it
refuses (nothing outside its roots, symlinks included), /config.json and /lexicon.json, and
web.py's one-line start-up errors and its warning for a non-loopback --host.  No browser."""
from __future__ import annotations

import hashlib
import http.client
import io
import json
import socket
import subprocess
import sys
import threading
from contextlib import redirect_stderr
from pathlib import Path
from typing import Iterator

import pytest

from conftest import REPO

from realtime import adaptation
from hand import keypoints
from spelling import lexicon
from realtime import recogniser
import web
from spelling import confusion_channel, word_decoder
from spelling.confusion_channel import Channel
from classifiers import motion_letters
from classifiers.classifier_base import read_class_mapping
from classifiers.onnx_classifier import OnnxClassifier, file_sha256
from serving import web_server
from serving.web_server import App, Settings, make_server

ONNX = REPO / "keypoint_model_L_cnn_50.onnx"
pytestmark = pytest.mark.skipif(not ONNX.is_file(), reason=f"the shipped ONNX model {ONNX} is absent")
WASM = "/npm/tasks-vision/wasm/vision_wasm_internal.wasm"
ORT = "/npm/onnxruntime-web/ort.wasm.min.mjs"
REFUSED = ["/../README.md", "/web/../web.py", "/web/%2e%2e/web.py", "/web/%2E%2E%2Fweb.py",
           "/%2e%2e/%2e%2e/etc/passwd", "//etc/passwd", "/web//etc/passwd", "/etc/passwd", "/web/", "/web",
           "/web/..%5c..%5cweb.py", "/web/x%00.js", "/web/./x.js", "/web/link.js", "/web/linkdir/web.py",
           "/web/loop.js", "/README.md", "/web.py", "/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs",
           "/npm/tasks-vision/", "/npm/tasks-vision/../onnxruntime-web/package.json", "/models/", "/lexicon.json"]


def fake_node_modules(root: Path) -> Path:
    """A node_modules folder with one file of each package the page uses."""
    wasm = root / "node_modules" / "@mediapipe" / "tasks-vision" / "wasm"
    dist = root / "node_modules" / "onnxruntime-web" / "dist"
    wasm.mkdir(parents=True)
    dist.mkdir(parents=True)
    (wasm / "vision_wasm_internal.wasm").write_bytes(b"\0asm\1\0\0\0")
    (dist / "ort.wasm.min.mjs").write_text("export const ort = 1;\n")
    return root / "node_modules"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository-like tree: web/ (with symlinks out of it), node_modules/, and files beside them."""
    root = tmp_path_factory.mktemp("site")
    page = root / "web"
    page.mkdir()
    (page / "index.html").write_text("<!doctype html><title>page</title>\n")
    (page / "x.js").write_text("export const x = 1;\n")
    for name in ("web.py", "README.md", "outside.js"):
        (root / name).write_text("not for the browser\n")
    (page / "link.js").symlink_to(root / "outside.js")
    (page / "linkdir").symlink_to(root)
    (page / "loop.js").symlink_to(page / "loop.js")
    fake_node_modules(root)
    return root


def make_app(site: Path, **kwargs: object) -> App:
    return App(ONNX, web_root=site / "web", node_modules=site / "node_modules", **kwargs)


@pytest.fixture(scope="module")
def app(site: Path) -> App:
    return make_app(site, lexicon="none")


@pytest.fixture(scope="module")
def port(app: App) -> Iterator[int]:
    """A real server for `app` on a free loopback port."""
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def request(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one request; http.client sends the path exactly as given."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("path, kind, file", [
    ("/", "text/html; charset=utf-8", "web/index.html"),
    ("/web/index.html", "text/html; charset=utf-8", "web/index.html"),
    ("/web/x.js?v=2", "text/javascript", "web/x.js"),
    (WASM, "application/wasm", "node_modules/@mediapipe/tasks-vision/wasm/vision_wasm_internal.wasm"),
    (ORT, "text/javascript", "node_modules/onnxruntime-web/dist/ort.wasm.min.mjs")])
def test_page_and_package_files_are_served(port: int, site: Path, path: str, kind: str, file: str):
    status, headers, body = request(port, path)
    assert status == 200 and body == (site / file).read_bytes()
    assert headers["Content-Type"] == kind
    assert headers["Cache-Control"] == "no-cache" and headers["X-Content-Type-Options"] == "nosniff"
    assert "connect-src 'self';" in headers["Content-Security-Policy"]
    status, headers, body = request(port, path, "HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) == (site / file).stat().st_size


def test_the_models_are_the_verified_files(port: int):
    status, headers, body = request(port, "/models/letters.onnx")
    assert status == 200 and body == ONNX.read_bytes() and headers["Content-Type"] == "application/octet-stream"
    status, _, body = request(port, "/models/hand_landmarker.task")
    assert status == 200 and hashlib.sha256(body).hexdigest() == keypoints.HAND_MODEL_SHA256
    status, headers, body = request(port, "/models/motion_letters.json")
    assert status == 200 and body == motion_letters.MOTION_WEIGHTS.read_bytes()
    assert headers["Content-Type"] == "application/json"
    _, _, config = request(port, "/config.json")
    assert json.loads(config)["motion"] == {"url": "/models/motion_letters.json",
                                            "sha256": motion_letters.MotionModel.load().sha256}


def test_altered_motion_weights_stop_the_server_with_one_line(site: Path, tmp_path: Path):
    altered = json.loads(motion_letters.MOTION_WEIGHTS.read_text())
    altered["layers"][0]["bias"][0] += 1.0
    (tmp_path / "motion.json").write_text(json.dumps(altered))
    with pytest.raises(web_server.StartupError, match="sha256") as err:
        make_app(site, lexicon="none", motion_weights=tmp_path / "motion.json")
    assert "\n" not in str(err.value)


def test_config_describes_the_shipped_model_and_the_settings(port: int):
    status, headers, body = request(port, "/config.json")
    assert status == 200 and headers["Content-Type"] == "application/json"
    config = json.loads(body)
    assert set(config) == {"model", "hand_model", "motion", "lexicon", "settings", "decoder", "adaptation",
                           "hand_connections"}
    shipped = OnnxClassifier(ONNX)
    model = config["model"]
    assert model["classes"] == shipped.classes == read_class_mapping(REPO / "class_mapping.txt")
    assert model == {"url": "/models/letters.onnx", "classes": shipped.classes, "feature_version": 1,
                     "temperature": shipped.temperature, "inputs": list(shipped.input_names), "output": "logits",
                     "hidden_output": "hidden", "checkpoint_sha256": shipped.checkpoint_sha256}
    assert isinstance(model["feature_version"], int) and model["inputs"] == list(keypoints.MODEL_INPUT_NAMES)
    if ONNX.with_suffix(".pth").is_file():
        assert model["checkpoint_sha256"] == file_sha256(ONNX.with_suffix(".pth"))
    assert config["hand_model"] == {"url": "/models/hand_landmarker.task", "sha256": keypoints.HAND_MODEL_SHA256}
    assert config["lexicon"] is None
    assert config["settings"] == {
        "max_hands": web_server.PAGE_MAX_HANDS, "threshold": recogniser.THRESHOLD, "hold_s": recogniser.HOLD,
        "gap_ms": recogniser.GAP_MS, "smooth_ms": recogniser.SMOOTH_MS, "word_pause_s": recogniser.WORD_PAUSE,
        "adapt": recogniser.ADAPT, "move_threshold": recogniser.MOVE_THRESHOLD, "motion_ms": recogniser.MOTION_MS,
        "motion_floor_px": recogniser.MOTION_FLOOR_PX, "settle_ms": recogniser.SETTLE_MS, "relabel_palms": recogniser.RELABEL_PALMS, "motion_letters": recogniser.MOTION_LETTERS,
        "motion_starts": recogniser.MOTION_STARTS, "motion_lead_ms": recogniser.MOTION_LEAD_MS,
        "motion_absorb_ms": recogniser.MOTION_ABSORB_MS,
        "borders": list(keypoints.FALLBACK_BORDERS),
        "last_resort_confidence": keypoints.LAST_RESORT_CONFIDENCE, "probe_frames": recogniser.PROBE_FRAMES}
    assert config["decoder"] == {
        "prior_weight": word_decoder.PRIOR_WEIGHT, "oov_log_prior": word_decoder.OOV_LOG_PRIOR,
                        "oov_length": word_decoder.OOV_LENGTH, "oov_log_per_letter": word_decoder.OOV_LOG_PER_LETTER,
        "missed_penalty": word_decoder.MISSED_PENALTY, "extra_penalty": word_decoder.EXTRA_PENALTY,
        "tight_missed_penalty": word_decoder.TIGHT_MISSED_PENALTY, "room_ratio": word_decoder.ROOM_RATIO,
        "pace_window": word_decoder.PACE_WINDOW, "pace_min": word_decoder.PACE_MIN,
        "pace_quantile": word_decoder.PACE_QUANTILE,
        "margin": word_decoder.MARGIN, "prob_floor": word_decoder.PROB_FLOOR, "top_k": word_decoder.TOP_K,
        "beam": word_decoder.BEAM, "n_suggestions": word_decoder.N_SUGGESTIONS,
        "channel_weight": word_decoder.CHANNEL_WEIGHT, "channel": Channel.load(confusion_channel.SHIPPED).matrix.tolist(),
        "evidence_needed": confusion_channel.EVIDENCE_NEEDED,
        "evidence_min_log_prob": confusion_channel.EVIDENCE_MIN_LOG_PROB, "adopted_p": confusion_channel.ADOPTED_P}
    assert config["adaptation"] == {"l2": adaptation.L2, "steps": adaptation.STEPS,
                                    "learning_rate": adaptation.LEARNING_RATE, "max_samples": adaptation.MAX_SAMPLES}
    assert config["hand_connections"] == [list(pair) for pair in keypoints.HAND_CONNECTIONS]


@pytest.mark.parametrize("path", REFUSED)
def test_only_the_roots_files_are_served(app: App, port: int, path: str):
    assert app.resolve(path) is None
    status, _, body = request(port, path)
    assert status == 404 and body == b"not found\n"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "BREW"])
def test_other_methods_are_not_allowed(port: int, method: str):
    status, headers, _ = request(port, "/", method)
    assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_settings_reach_the_config(site: Path):
    settings = Settings(max_hands=1, threshold=0.5, hold_s=0.6, gap_ms=10.0, smooth_ms=100.0, word_pause_s=2.0,
                        adapt=not recogniser.ADAPT, move_threshold=0.3, motion_letters=False)
    body, _ = make_app(site, lexicon="none", settings=settings).resolve("/config.json")
    assert json.loads(body)["settings"] == {"max_hands": 1, "threshold": 0.5, "hold_s": 0.6, "gap_ms": 10.0,
                                            "smooth_ms": 100.0, "word_pause_s": 2.0, "adapt": not recogniser.ADAPT,
                                            "move_threshold": 0.3, "motion_ms": recogniser.MOTION_MS,
                                            "motion_floor_px": recogniser.MOTION_FLOOR_PX,
                                            "settle_ms": recogniser.SETTLE_MS, "relabel_palms": recogniser.RELABEL_PALMS, "motion_letters": False,
                                            "borders": [0.25, 0.5, 0.75], "last_resort_confidence": 0.15,
                                            "probe_frames": 3, "motion_starts": recogniser.MOTION_STARTS,
                                            "motion_lead_ms": recogniser.MOTION_LEAD_MS,
                                            "motion_absorb_ms": recogniser.MOTION_ABSORB_MS}


def test_a_word_list_is_served_in_the_lexicons_order(site: Path, tmp_path: Path):
    words = tmp_path / "names.txt"
    words.write_text("# my names\nzoe 3\nAdam\nbad-line\n")
    app = make_app(site, lexicon=str(words))
    body, kind = app.resolve("/lexicon.json")
    assert kind == "application/json"
    expected = list(lexicon.load_lexicon(str(words)).items())
    assert json.loads(body) == {"words": [list(pair) for pair in expected]}
    assert [word for word, _ in expected] == ["ZOE", "ADAM"]
    assert json.loads(app.resolve("/config.json")[0])["lexicon"] == {"url": "/lexicon.json", "spec": str(words)}


def run_web(*args: str) -> tuple[int, list[str]]:
    """web.main in-process: its exit code and stderr lines."""
    err = io.StringIO()
    with redirect_stderr(err):
        code = web.main(list(args))
    return code, err.getvalue().splitlines()


@pytest.fixture
def modules(tmp_path: Path) -> Path:
    return fake_node_modules(tmp_path / "npm")


@pytest.mark.parametrize("case, expected", [
    ("missing weights", "ONNX model not found"), ("pth", "python export.py --weights"),
    ("missing word list", "not found"), ("empty word list", "has no word"),
    ("no node_modules", "run npm ci at the repository root"), ("port in use", "the port is in use")])
def test_start_up_errors_are_one_line(tmp_path: Path, modules: Path, case: str, expected: str):
    args = ["--node-modules", str(modules), "--lexicon", "none", "--port", "0"]
    if case == "missing weights":
        args += ["--weights", str(tmp_path / "missing.onnx")]
    elif case == "pth":
        (tmp_path / "m.pth").write_bytes(b"torch")
        args += ["--weights", str(tmp_path / "m.pth")]
    elif case == "missing word list":
        args += ["--lexicon", str(tmp_path / "missing.txt")]
    elif case == "empty word list":
        (tmp_path / "empty.txt").write_text("# nothing\n")
        args += ["--lexicon", str(tmp_path / "empty.txt")]
    elif case == "no node_modules":
        (tmp_path / "empty").mkdir()
        args += ["--node-modules", str(tmp_path / "empty")]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        if case == "port in use":
            args += ["--port", str(busy.getsockname()[1])]
        code, lines = run_web(*args)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines


@pytest.mark.parametrize("flag", [["--hold", "-1"], ["--word-pause", "0"], ["--max-hands", "0"], ["--port", "-1"]])
def test_bad_settings_are_usage_errors(flag: list[str], capsys: pytest.CaptureFixture):
    with pytest.raises(SystemExit) as exit_:
        web.parse_args(flag)
    assert exit_.value.code == 2 and "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_serves_until_terminated_and_warns_beyond_loopback(modules: Path, host: str):
    process = subprocess.Popen([sys.executable, str(REPO / "web.py"), "--host", host, "--port", "0",
                                "--lexicon", "none", "--node-modules", str(modules)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    watchdog = threading.Timer(60, process.kill)
    watchdog.start()
    try:
        line = process.stdout.readline()
        assert line.startswith(f"serving http://{host}:") and line.endswith("/ (Ctrl-C to stop)\n"), line
        port = int(line.split(":")[2].split("/")[0])
        assert request(port, "/config.json")[0] == 200
        process.terminate()
        out, err = process.communicate(timeout=20)
    finally:
        watchdog.cancel()
        process.kill()
    assert process.returncode == 0 and out == ""
    if host == "0.0.0.0":
        [warning] = err.splitlines()
        assert warning.startswith("warning: listening on 0.0.0.0: the page and the models can be reached "
                                  "from other machines")
    else:
        assert err == ""
