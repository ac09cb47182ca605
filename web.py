"""Serve the recogniser's browser page (web/) on this machine and print its URL.

    npm ci                                           # once, at the repository root: the page's two npm packages
    python web.py                                    # http://127.0.0.1:8000/, the shipped ONNX model
    python web.py --port 8080 --lexicon en+names.txt --hold 0.5
    python web.py --weights my_model.onnx            # an export written by `python export.py --weights my_model.pth`

The page runs MediaPipe's hand landmarker and the ONNX letter model in the browser; this server
only hands it its files (web_server.py: the page, the npm packages, the verified models, the
settings below as /config.json and the word list as /lexicon.json) and nothing else.  It listens
on 127.0.0.1 only unless --host says otherwise.  Ctrl-C stops it.
"""
from __future__ import annotations

import argparse
import errno
import signal
from http.server import ThreadingHTTPServer
import sys
from pathlib import Path

from realtime import live_flags
from realtime import recogniser as live
from serving import web_server
from spelling import confusion_channel

# ----------------------------------------------------------------------------- settings
HOST = web_server.LOOPBACK  # 127.0.0.1; any other address makes the page and the models reachable from other machines
PORT = 8000  # 0: any free port
WEIGHTS = str(Path(__file__).resolve().with_name("keypoint_model_L_cnn_50.onnx"))  # an ONNX export (export.py)
HAND_MODEL = None  # None: resolve automatically (see keypoints.resolve_hand_model)
LEXICON = "en"  # none, en (English word frequencies), FILE (your own words) or en+FILE
CHANNEL = str(confusion_channel.SHIPPED)  # how new people's letters get misread (crossval.py --channel), or none
MAX_HANDS = web_server.PAGE_MAX_HANDS  # 1: a second hand halves the page's frame rate (main.py: 2)
THRESHOLD = live.THRESHOLD  # smoothed probability below which no letter is shown
HOLD = live.HOLD  # seconds a letter must be held to be added to the text
GAP_MS = live.GAP_MS  # dips (no letter, another letter) shorter than this do not restart the hold
SMOOTH_MS = live.SMOOTH_MS  # smoothing window (majority vote + mean probability over the frames in it)
MOVE_THRESHOLD = live.MOVE_THRESHOLD  # palm sizes the hand moves that end a sign (one letter per held sign)
WORD_PAUSE = live.WORD_PAUSE  # seconds with no hand that end a word (and add its space)
ADAPT = live.ADAPT  # learn the signer's hand from the words they spell (adaptation.py)
MOTION_LETTERS = live.MOTION_LETTERS  # read J and Z from the hand's motion (motion_letters.py)
NODE_MODULES = str(web_server.NODE_MODULES)  # where `npm ci` installed the page's packages
# -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; defaults come from the settings block."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--host", default=HOST, help="address to listen on (other than 127.0.0.1: other machines too)")
    p.add_argument("--port", type=int, default=PORT, help="port to listen on (0: any free port)")
    p.add_argument("--weights", default=WEIGHTS, help=".onnx written by export.py, with class_mapping.txt beside it")
    p.add_argument("--hand-model", default=HAND_MODEL, help="hand_landmarker.task (None: found automatically)")
    p.add_argument("--channel", default=CHANNEL, metavar="FILE|none",
                   help="how new people's letters get misread (crossval.py --channel), for the page's word decoder")
    p.add_argument("--lexicon", default=LEXICON, metavar="none|en|FILE|en+FILE",
                   help="word list that finished words are rescored against (FILE: one word a line)")
    live_flags.add_flags(p, MAX_HANDS, THRESHOLD, HOLD, GAP_MS, SMOOTH_MS, WORD_PAUSE, ADAPT, MOVE_THRESHOLD, MOTION_LETTERS)
    p.add_argument("--node-modules", default=NODE_MODULES, help="the node_modules folder `npm ci` wrote")
    args = p.parse_args(argv)
    live_flags.check_flags(p, args)
    if not 0 <= args.port <= 65535:
        p.error("--port must be 0-65535")
    return args


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def listen(host: str, port: int, app: web_server.App) -> ThreadingHTTPServer:
    """The server bound to host:port; StartupError with a one-line reason if the address is unusable."""
    try:
        return web_server.make_server(host, port, app)
    except OSError as err:
        reason = "the port is in use (choose another with --port)" if err.errno == errno.EADDRINUSE else err
        raise web_server.StartupError(f"cannot listen on {host}:{port}: {reason}") from None


def main(argv: list[str] | None = None) -> int:
    """Load, check and serve until Ctrl-C or SIGTERM; returns the exit code (2 with a one-line
    message for unusable inputs or an address that cannot be used)."""
    args = parse_args(argv)
    settings = web_server.Settings(args.max_hands, args.threshold, args.hold, args.gap_ms, args.smooth_ms,
                                   args.word_pause, args.adapt, args.move_threshold,
                                   motion_letters=args.motion_letters)
    try:
        app = web_server.App(args.weights, args.hand_model, args.lexicon, settings, node_modules=args.node_modules,
                             channel=args.channel)
        server = listen(args.host, args.port, app)
    except web_server.StartupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    signal.signal(signal.SIGTERM, _raise_interrupt)  # set only now: an in-process main() that fails leaves it alone
    try:
        if args.host != web_server.LOOPBACK:
            print(f"warning: listening on {args.host}: the page and the models can be reached from other machines "
                  f"(browsers give a page the camera only on 127.0.0.1/localhost or over https)",
                  file=sys.stderr, flush=True)
        host, port = server.server_address[:2]
        print(f"serving http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
