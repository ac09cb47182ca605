"""Recognise the ASL fingerspelling alphabet live and spell words by holding letters.

    python main.py                                   # camera 0, annotated window
    python main.py --source clip.mp4 --no-display --output annotated.mp4 --jsonl predictions.jsonl
    python main.py --source photo.jpg --no-display --output annotated.png
    python main.py --record A                        # save your own samples of A into my_samples/

The live path is recogniser.Recogniser (landmarks -> letter probabilities -> smoothing ->
hold-to-commit -> words rescored by the lexicon); this script adds the sources, the window, the
outputs and speech.  Keys in the window: q/Esc quit, c clear the text, 1/2/3 take a suggestion for
the last word, u undo its correction, m mirror view, space pause, r recording on/off (with --record).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from hand import keypoints
from realtime import overlay
from realtime import jsonl_records, live_flags
from realtime import recogniser as live
from spelling import speech
from classifiers.classifier import CheckpointError, Classifier, load_classifier
from classifiers.motion_letters import MotionModel, MotionWeightsError
from dataset.dataset_layout import canonical_class
from realtime.frame_sources import Source, UsageError, open_source
from spelling.confusion_channel import SHIPPED as SHIPPED_CHANNEL, ChannelError, SignerSubstitutions, load_channel
from spelling.lexicon import Lexicon, english_with, in_background, read_spec
from realtime.recogniser import Recogniser
from realtime.run_outputs import AnnotatedOutput, Recorder
from spelling.text_entry import TextEntry
from spelling.word_decoder import WordDecoder

# ----------------------------------------------------------------------------- settings
SOURCE = "0"  # camera index, video file, image file or folder of images
WEIGHTS = str(Path(__file__).resolve().with_name("keypoint_model_L_cnn_50.onnx"))  # ONNX export (no torch) or .pth
HAND_MODEL = None  # None: resolve automatically (see keypoints.resolve_hand_model)
MAX_HANDS = live.MAX_HANDS
THRESHOLD = live.THRESHOLD  # smoothed probability below which no letter is shown
HOLD = live.HOLD  # seconds a letter must be held to be added to the text
GAP_MS = live.GAP_MS  # dips (no letter, another letter) shorter than this do not restart the hold
SMOOTH_MS = live.SMOOTH_MS  # smoothing window (majority vote + mean probability over the frames in it)
MOVE_THRESHOLD = live.MOVE_THRESHOLD  # palm sizes the hand moves that end a sign (one letter per held sign)
WORD_PAUSE = live.WORD_PAUSE  # seconds with no hand that end a word (and add its space)
MOTION_LETTERS = live.MOTION_LETTERS  # on streams, read J and Z from the hand's motion
LEXICON = "en"  # none, en (English word frequencies), FILE (your own words) or en+FILE
CHANNEL = str(SHIPPED_CHANNEL)  # how new people's letters get misread (crossval.py --channel), or none
ADAPT = live.ADAPT  # learn your hand from the words you spell (confirmed by the lexicon, a suggestion or undo)
SPEAK = False  # say each finished word (espeak-ng)
WIDTH, HEIGHT = 1280, 720  # requested camera resolution
RECORD_DIR = "my_samples"
RECORD_INTERVAL_MS = 100  # at most one recorded sample per this many milliseconds
BOTH_VIEWS = None  # read each frame and its mirror image too: None = for photos only (it doubles the landmarker time)
BORDER_VIEWS = None  # read each photo with every fallback border too: None = for photos (IMAGE mode only)
# -----------------------------------------------------------------------------

LEXICON_WAIT_S = 5.0  # the English list loads after the first frame, or after this long without one
QUIT_KEYS = {ord("q"), 27}
SUGGESTION_KEYS = {ord(str(i)): i - 1 for i in range(1, 4)}


# ----------------------------------------------------------------------------- main loop
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; defaults come from the settings block."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="keys in the window: q/Esc quit, c clear text, 1/2/3 take a suggestion, u undo a correction, "
               "n new signer (forget what --adapt learnt), m mirror view, space pause, r recording on/off")
    p.add_argument("--source", default=SOURCE, help="camera index, video file, image file or folder of images")
    p.add_argument("--weights", default=WEIGHTS, help=".pth or .onnx, with class_mapping.txt beside it")
    p.add_argument("--hand-model", default=HAND_MODEL, help="hand_landmarker.task (None: found automatically)")
    live_flags.add_flags(p, MAX_HANDS, THRESHOLD, HOLD, GAP_MS, SMOOTH_MS, WORD_PAUSE, ADAPT, MOVE_THRESHOLD, MOTION_LETTERS)
    p.add_argument("--channel", default=CHANNEL, metavar="FILE|none",
                   help="how new people's letters get misread (crossval.py --channel), for the lexicon's decoder, "
                        "which also learns your own misread letters from your words; none: the letters' own "
                        "probabilities only")
    p.add_argument("--lexicon", default=LEXICON, metavar="none|en|FILE|en+FILE",
                   help="word list that finished words are rescored against (FILE: one word a line)")
    p.add_argument("--speak", action=argparse.BooleanOptionalAction, default=SPEAK,
                   help="say each finished word (needs espeak-ng)")
    p.add_argument("--speak-wav", metavar="OUT.wav", help="write the spoken words into a WAV instead of playing them")
    p.add_argument("--no-display", action="store_true", help="run without a window (print the text at the end)")
    p.add_argument("--output", help="annotated video (.mp4), or a still image (.png/.jpg) of the last frame")
    p.add_argument("--jsonl", help="write one JSON line of predictions per frame")
    p.add_argument("--width", type=int, default=WIDTH, help="camera width")
    p.add_argument("--height", type=int, default=HEIGHT, help="camera height")
    p.add_argument("--both-views", action=argparse.BooleanOptionalAction, default=BOTH_VIEWS,
                   help="also read each frame's mirror image and combine the two; None: for photos, not camera/video")
    p.add_argument("--border-views", action=argparse.BooleanOptionalAction, default=BORDER_VIEWS,
                   help="also read each photo with every fallback border and combine the readings; None: for "
                        "photos (camera and video are tracked, without borders)")
    p.add_argument("--record", metavar="LETTER", help="save the best hand's landmarks as samples of LETTER")
    p.add_argument("--record-dir", default=RECORD_DIR, help="samples go to RECORD_DIR/train/LETTER/")
    p.add_argument("--record-interval-ms", type=float, default=RECORD_INTERVAL_MS,
                   help="at most one sample per this many milliseconds")
    args = p.parse_args(argv)
    live_flags.check_flags(p, args)
    return args


def display_available() -> bool:
    """False on Linux without an X11/Wayland display (an OpenCV window would abort the process)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def record_class(letter: str, classes: list[str]) -> str:
    """The model's class for --record LETTER (case-insensitive); UsageError if it has none."""
    name = canonical_class(letter)
    if name not in classes:
        raise UsageError(f"--record {letter!r} is not one of the model's classes ({' '.join(classes)})")
    return name


class Window:
    """The OpenCV window and its keys; `show` returns False when the user quits."""

    NAME = "ASL Recognition"

    def __init__(self) -> None:
        cv2.namedWindow(self.NAME, cv2.WINDOW_NORMAL)
        self.paused = False

    def show(self, frame: np.ndarray, run: "Run", wait_ms: int) -> bool:
        """Show a frame and handle keys; while paused, keep showing it until space."""
        cv2.imshow(self.NAME, frame)
        while True:
            key = cv2.waitKey(wait_ms if not self.paused else 50) & 0xFF
            if key in QUIT_KEYS or cv2.getWindowProperty(self.NAME, cv2.WND_PROP_VISIBLE) < 1:
                return False  # q, Esc or the window's close button
            if key == ord("c"):
                run.recogniser.clear()
            elif key in SUGGESTION_KEYS:
                run.recogniser.text.choose(SUGGESTION_KEYS[key])
            elif key == ord("u"):
                run.recogniser.text.undo()
            elif key == ord("n"):
                run.recogniser.new_signer()
            elif key == ord("m"):
                run.mirror = not run.mirror
            elif key == ord("r") and run.recorder is not None:
                run.recorder.active = not run.recorder.active
            elif key == ord(" "):
                self.paused = not self.paused
                title = f"{self.NAME} [paused: space to resume]" if self.paused else self.NAME
                cv2.setWindowTitle(self.NAME, title)
            if not self.paused:
                return True


@dataclass
class Run:
    """The state of one run of the frame loop."""
    recogniser: Recogniser
    mirror: bool
    recorder: Recorder | None = None
    fps: float = 0.0
    draw_ms: float = 0.0
    first_frame: threading.Event = field(default_factory=threading.Event)  # set once a frame is out


def loop(source: Source, run: Run, window: Window | None, output: AnnotatedOutput | None,
         jsonl: TextIO | None) -> None:
    """Read, recognise, draw, show and write every frame until the source ends or the user quits."""
    rgb = None
    last = time.perf_counter()
    for index, t_ms, bgr in source.frames:
        if run.mirror:
            bgr = cv2.flip(bgr, 1)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=rgb if rgb is not None and rgb.shape == bgr.shape else None)
        result = run.recogniser.process(rgb, t_ms)
        if run.recorder is not None:
            run.recorder.offer([r.hand for r in result.hands], t_ms)
        if window is not None or output is not None:
            t0 = time.perf_counter()
            status = overlay.Status(run.fps, {**result.timings, "draw": run.draw_ms}, run.mirror,
                                    record=run.recorder.label() if run.recorder else None, adapted=result.adapted)
            overlay.annotate(bgr, result, status)
            run.draw_ms = (time.perf_counter() - t0) * 1000
        if jsonl is not None:
            jsonl.write(jsonl_records.frame_record(index, t_ms, result) + "\n")
        if output is not None:
            output.write(bgr)
        now = time.perf_counter()
        run.fps = 0.9 * run.fps + 0.1 / max(now - last, 1e-6) if run.fps else 1 / max(now - last, 1e-6)
        last = now
        shown = window is None or window.show(bgr, run, 0 if source.mode == "image" else 1)
        run.first_frame.set()  # the English list may load now (make_text)
        if not shown:
            break


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def make_text(lexicon: str, classes: list[str], speaker: speech.Speaker | None,
              after: threading.Event | None = None, channel: str = "none") -> TextEntry:
    """The text entry for --lexicon and --channel (UsageError for a missing or empty word list or
    an unusable channel, at once).  The English list takes most of a second of Python to load, so
    it loads on a thread once `after` is set (main.py: the first frame is out, so it does not
    delay start-up; at most LEXICON_WAIT_S later); the first word to end waits for it if it must."""
    try:
        english, own = read_spec(lexicon)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(f"--lexicon: {err}") from None
    try:
        confusions = load_channel(channel)
    except ChannelError as err:
        raise UsageError(f"--channel: {err}") from None
    on_word = speaker.say if speaker is not None else None

    def decoder(words: Lexicon) -> WordDecoder:
        return WordDecoder(words, classes, channel=confusions,
                           signer=SignerSubstitutions() if confusions is not None else None)
    if not english:
        return TextEntry(decoder(own) if own is not None else None, on_word=on_word)
    loading = in_background(lambda: decoder(english_with(own)), after, LEXICON_WAIT_S)
    return TextEntry(loading, on_word=on_word)


def load_weights(path: str) -> Classifier:
    """classifier.load_classifier, with a missing ONNX module reported as a CheckpointError."""
    try:
        return load_classifier(path)
    except ImportError as err:
        raise CheckpointError(f"cannot load {path}: {err}") from None


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (2 for unusable inputs, with a one-line message)."""
    args = parse_args(argv)
    if not args.no_display and not display_available():
        print("error: no display found (DISPLAY is not set); run with --no-display "
              "(and --output/--jsonl to keep the results)", file=sys.stderr)
        return 2
    keypoints.silence_native_stderr()  # FFmpeg/OpenCV/MediaPipe chatter; our messages use sys.stderr
    signal.signal(signal.SIGTERM, _raise_interrupt)
    detector = mirror_detector = recogniser = source = output = jsonl = window = run = speaker = None
    code = 0
    try:
        classifier = load_weights(args.weights)
        letter = record_class(args.record, classifier.classes) if args.record else None
        if args.speak or args.speak_wav:
            speaker = speech.Speaker(args.speak_wav)
        first_frame = threading.Event()
        text = make_text(args.lexicon, classifier.classes, speaker, after=first_frame, channel=args.channel)
        keypoints.resolve_hand_model(args.hand_model)
        source = open_source(args.source, args.width, args.height)
        motion_model = MotionModel.load() if args.motion_letters and source.mode != "image" else None
        detector = keypoints.HandDetector(args.hand_model, mode=source.mode, max_hands=args.max_hands)
        both_views = source.mode == "image" if args.both_views is None else args.both_views
        if both_views:
            mirror_detector = keypoints.HandDetector(args.hand_model, mode=source.mode, max_hands=args.max_hands)
        if args.border_views and source.mode != "image":
            raise UsageError("--border-views reads photos only; a camera or video is tracked without borders")
        recogniser = Recogniser(detector, classifier, args.threshold, args.hold, args.smooth_ms,
                                independent_frames=source.mode == "image", mirror_detector=mirror_detector,
                                every_border=source.mode == "image" and args.border_views is not False,
                                gap_ms=args.gap_ms, word_pause_s=args.word_pause, text=text, adapt=args.adapt,
                                move_threshold=args.move_threshold, motion_model=motion_model)
        recorder = Recorder(Path(args.record_dir), letter, args.record_interval_ms) if letter else None
        run = Run(recogniser, mirror=source.is_camera, recorder=recorder, first_frame=first_frame)
        output = AnnotatedOutput(Path(args.output), source.fps) if args.output else None
        if args.jsonl:
            Path(args.jsonl).parent.mkdir(parents=True, exist_ok=True)
            jsonl = open(args.jsonl, "w", encoding="utf-8", buffering=1)  # line by line: tail -f works
        window = None if args.no_display else Window()
        try:
            loop(source, run, window, output, jsonl)
        finally:  # the stream ended (or was interrupted): so has its last word
            recogniser.finish()
            if jsonl is not None:
                jsonl.write(jsonl_records.end_record(recogniser.text) + "\n")
    except (CheckpointError, keypoints.HandModelError, MotionWeightsError, UsageError, speech.SpeechError,
            OSError) as err:
        print(f"error: {err}", file=sys.stderr)  # OSError: e.g. an unwritable --output or --jsonl
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        for close in (output and output.close, jsonl and jsonl.close, source and source.release,
                      recogniser and recogniser.close, detector and detector.close,
                      mirror_detector and mirror_detector.close,
                      window and cv2.destroyAllWindows):
            if close:
                close()
        code = close_speaker(speaker) if speaker is not None else 0
    if run is None:
        return code
    if run.recorder is not None:
        print(f"recorded {run.recorder.count} samples of {run.recorder.letter} in {run.recorder.folder}",
              file=sys.stderr)
    print(run.recogniser.text.text)
    return code


def close_speaker(speaker: speech.Speaker) -> int:
    """Finish the speech (and write --speak-wav); 2 with a one-line error if the engine failed."""
    try:
        speaker.close()
    except (speech.SpeechError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
