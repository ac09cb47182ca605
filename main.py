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
import csv
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TextIO

import cv2
import numpy as np

import keypoints
import overlay
import recogniser as live
import speech
from classifier import CheckpointError, Classifier, load_classifier
from dataset_layout import IMAGE_EXTENSIONS, MANIFEST_FIELDS, STATUS_OK, canonical_class
from lexicon import load_lexicon
from recogniser import Recogniser
from text_entry import TextEntry
from word_decoder import WordDecoder

# ----------------------------------------------------------------------------- settings
SOURCE = "0"  # camera index, video file, image file or folder of images
WEIGHTS = str(Path(__file__).resolve().with_name("keypoint_model_L_cnn_50.pth"))  # .pth or .onnx
HAND_MODEL = None  # None: resolve automatically (see keypoints.resolve_hand_model)
MAX_HANDS = live.MAX_HANDS
THRESHOLD = live.THRESHOLD  # smoothed probability below which no letter is shown
HOLD = live.HOLD  # seconds a letter must be held to be added to the text
GAP_MS = live.GAP_MS  # dips (no letter, another letter) shorter than this do not restart the hold
SMOOTH_MS = live.SMOOTH_MS  # smoothing window (majority vote + mean probability over the frames in it)
WORD_PAUSE = live.WORD_PAUSE  # seconds with no hand that end a word (and add its space)
LEXICON = "en"  # none, en (English word frequencies), FILE (your own words) or en+FILE
SPEAK = False  # say each finished word (espeak-ng)
WIDTH, HEIGHT = 1280, 720  # requested camera resolution
RECORD_DIR = "my_samples"
RECORD_INTERVAL_MS = 100  # at most one recorded sample per this many milliseconds
IMAGE_FPS = 1.0  # frame rate of an --output video made from image files
BOTH_VIEWS = None  # read each frame and its mirror image too: None = for photos only (it doubles the landmarker time)
BORDER_VIEWS = None  # read each photo with every fallback border too: None = for photos (IMAGE mode only)
# -----------------------------------------------------------------------------

STILL_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}  # --output as one annotated image
QUIT_KEYS = {ord("q"), 27}
SUGGESTION_KEYS = {ord(str(i)): i - 1 for i in range(1, 4)}


class UsageError(RuntimeError):
    """A --source, --output or --record that cannot be used (reported in one line, exit code 2)."""


# ----------------------------------------------------------------------------- sources
@dataclass
class Source:
    """Frames (index, time in ms, BGR image) of a camera, video or image files."""
    frames: Iterator[tuple[int, float, np.ndarray]]
    mode: str  # "video" (a stream, tracked) or "image" (independent photos)
    fps: float
    is_camera: bool = False
    release: Callable[[], None] | None = None


def _read_bgr(path: Path) -> np.ndarray | None:
    rgb = keypoints.read_image(path)
    return None if rgb is None else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _image_frames(paths: list[Path]) -> Iterator[tuple[int, float, np.ndarray]]:
    index = 0
    for path in paths:
        bgr = _read_bgr(path)
        if bgr is None:
            print(f"warning: skipping {path}: cannot decode it as an image", file=sys.stderr)
            continue
        yield index, index * 1000.0 / IMAGE_FPS, bgr
        index += 1


def _capture_frames(capture: cv2.VideoCapture, first: np.ndarray, fps: float,
                    camera: bool) -> Iterator[tuple[int, float, np.ndarray]]:
    start, index, frame = time.monotonic(), 0, first
    while frame is not None:
        yield index, (time.monotonic() - start) * 1000.0 if camera else index * 1000.0 / fps, frame
        ok, frame = capture.read()
        frame = frame if ok else None
        index += 1


def _valid_fps(fps: float) -> float:
    return fps if np.isfinite(fps) and 0 < fps < 1000 else 30.0


def open_source(spec: str, width: int, height: int) -> Source:
    """Open a camera index, a video file, an image file or a folder of images; UsageError if not."""
    path = Path(spec)
    if spec.isdigit():
        capture = cv2.VideoCapture(int(spec))
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        ok, first = capture.read() if capture.isOpened() else (False, None)
        if not ok:
            raise UsageError(f"cannot open camera {spec} (no camera at that index, or it is busy)")
        fps = _valid_fps(capture.get(cv2.CAP_PROP_FPS))
        return Source(_capture_frames(capture, first, fps, True), "video", fps, True, capture.release)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not images:
            raise UsageError(f"no image files in folder {path}")
        return Source(_image_frames(images), "image", IMAGE_FPS)
    if not path.is_file():
        raise UsageError(f"--source {spec!r} is not a camera index or an existing file or folder")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        if _read_bgr(path) is None:
            raise UsageError(f"cannot decode image {path}")
        return Source(_image_frames([path]), "image", IMAGE_FPS)
    capture = cv2.VideoCapture(str(path))
    ok, first = capture.read() if capture.isOpened() else (False, None)
    if not ok:
        raise UsageError(f"cannot open or decode video {path}")
    fps = _valid_fps(capture.get(cv2.CAP_PROP_FPS))
    return Source(_capture_frames(capture, first, fps, False), "video", fps, False, capture.release)


# ----------------------------------------------------------------------------- outputs
def _part_name(path: Path) -> Path:
    return path.with_name(f".{path.stem}.part{path.suffix}")


class AnnotatedOutput:
    """--output: an mp4v video of every annotated frame, or (image extension) the last annotated
    frame as a still.  Written under a temporary name, renamed by `close`."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = path, fps
        self.tmp = _part_name(path)
        self.still = path.suffix.lower() in STILL_EXTENSIONS
        self.writer: cv2.VideoWriter | None = None
        self.last: np.ndarray | None = None
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, frame: np.ndarray) -> None:
        """Add an annotated frame (resized to the first frame's size when it differs)."""
        if self.still:
            self.last = frame
            return
        if self.writer is None:
            h, w = frame.shape[:2]
            writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not writer.isOpened():
                raise UsageError(f"cannot write video {self.path} (try a .mp4 name)")
            self.writer, self.size = writer, (w, h)
        if frame.shape[1::-1] != self.size:
            frame = cv2.resize(frame, self.size)
        self.writer.write(frame)

    def close(self) -> None:
        """Finish the file and give it its final name."""
        if self.writer is not None:
            self.writer.release()
            os.replace(self.tmp, self.path)
        elif self.still and self.last is not None:
            ok, data = cv2.imencode(self.path.suffix, self.last)
            if ok:
                self.tmp.write_bytes(data.tobytes())
                os.replace(self.tmp, self.path)


class Recorder:
    """--record: saves the best hand's raw landmarks (21x3 float32) as
    <dir>/train/<LETTER>/recorded__<time>-<n>.npy, at most one per `interval_ms`."""

    def __init__(self, root: Path, letter: str, interval_ms: float) -> None:
        self.folder = root / "train" / letter
        self.folder.mkdir(parents=True, exist_ok=True)
        self.letter, self.interval_ms = letter, interval_ms
        self.count = sum(1 for p in self.folder.glob("*.npy"))
        self.active = True
        self._last = -float("inf")
        self._stamp = time.strftime("%Y%m%d-%H%M%S")
        self._serial = 0

    def offer(self, hands: list[keypoints.Hand], t_ms: float) -> bool:
        """Save hands[0] (the best score) if recording, usable and the interval has passed."""
        if not self.active or not hands or t_ms - self._last < self.interval_ms:
            return False
        landmarks = np.asarray(hands[0].landmarks, np.float32)
        if not keypoints.valid_landmarks(landmarks)[0]:
            return False
        while (path := self.folder / f"recorded__{self._stamp}-{self._serial:05d}.npy").exists():
            self._serial += 1  # never overwrite an existing sample
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, landmarks)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._append_manifest(path, hands[0])
        self._last, self.count = t_ms, self.count + 1
        return True

    def _append_manifest(self, path: Path, hand: keypoints.Hand) -> None:
        """One manifest.csv row per sample, so training knows the sample's handedness."""
        manifest = self.folder.parent.parent / "manifest.csv"
        new = not manifest.is_file()
        with open(manifest, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, MANIFEST_FIELDS, lineterminator="\n")
            if new:
                writer.writeheader()
            writer.writerow({"source": "recorded", "path": "", "class": self.letter, "split": "train",
                             "output": path.relative_to(self.folder.parent.parent).as_posix(), "mirrored": 0,
                             "status": STATUS_OK, "handedness": hand.handedness, "score": f"{hand.score:.4f}"})

    def label(self) -> str:
        """The per-letter count shown in the window."""
        return f"{'REC' if self.active else 'rec off'} {self.letter}: {self.count}"


# ----------------------------------------------------------------------------- main loop
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; defaults come from the settings block."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="keys in the window: q/Esc quit, c clear text, 1/2/3 take a suggestion, u undo a correction, "
               "m mirror view, space pause, r recording on/off")
    p.add_argument("--source", default=SOURCE, help="camera index, video file, image file or folder of images")
    p.add_argument("--weights", default=WEIGHTS, help=".pth or .onnx, with class_mapping.txt beside it")
    p.add_argument("--hand-model", default=HAND_MODEL, help="hand_landmarker.task (None: found automatically)")
    p.add_argument("--max-hands", type=int, default=MAX_HANDS, help="hands detected per frame")
    p.add_argument("--threshold", type=float, default=THRESHOLD, help="min smoothed confidence for a letter")
    p.add_argument("--hold", type=float, default=HOLD, help="seconds a letter is held to add it to the text")
    p.add_argument("--gap-ms", type=float, default=GAP_MS,
                   help="dips shorter than this (ms) do not restart a letter's hold")
    p.add_argument("--smooth-ms", type=float, default=SMOOTH_MS, help="smoothing window in milliseconds")
    p.add_argument("--word-pause", type=float, default=WORD_PAUSE,
                   help="seconds with no hand that end a word (and add its space)")
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
    if args.hold < 0 or args.gap_ms < 0 or args.smooth_ms < 0 or args.word_pause <= 0:
        p.error("--hold, --gap-ms and --smooth-ms must be >= 0 and --word-pause > 0")
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
                                    record=run.recorder.label() if run.recorder else None)
            overlay.annotate(bgr, result, status)
            run.draw_ms = (time.perf_counter() - t0) * 1000
        if jsonl is not None:
            jsonl.write(live.frame_record(index, t_ms, result) + "\n")
        if output is not None:
            output.write(bgr)
        now = time.perf_counter()
        run.fps = 0.9 * run.fps + 0.1 / max(now - last, 1e-6) if run.fps else 1 / max(now - last, 1e-6)
        last = now
        if window is not None and not window.show(bgr, run, 0 if source.mode == "image" else 1):
            break


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def make_text(lexicon: str, classes: list[str], speaker: speech.Speaker | None) -> TextEntry:
    """The text entry for --lexicon (UsageError for a missing or empty word list)."""
    try:
        words = load_lexicon(lexicon)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(f"--lexicon: {err}") from None
    return TextEntry(WordDecoder(words, classes) if words is not None else None,
                     on_word=speaker.say if speaker is not None else None)


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
        text = make_text(args.lexicon, classifier.classes, speaker)
        keypoints.resolve_hand_model(args.hand_model)
        source = open_source(args.source, args.width, args.height)
        detector = keypoints.HandDetector(args.hand_model, mode=source.mode, max_hands=args.max_hands)
        both_views = source.mode == "image" if args.both_views is None else args.both_views
        if both_views:
            mirror_detector = keypoints.HandDetector(args.hand_model, mode=source.mode, max_hands=args.max_hands)
        if args.border_views and source.mode != "image":
            raise UsageError("--border-views reads photos only; a camera or video is tracked without borders")
        recogniser = Recogniser(detector, classifier, args.threshold, args.hold, args.smooth_ms,
                                independent_frames=source.mode == "image", mirror_detector=mirror_detector,
                                every_border=source.mode == "image" and args.border_views is not False,
                                gap_ms=args.gap_ms, word_pause_s=args.word_pause, text=text)
        recorder = Recorder(Path(args.record_dir), letter, args.record_interval_ms) if letter else None
        run = Run(recogniser, mirror=source.is_camera, recorder=recorder)
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
                jsonl.write(live.end_record(recogniser.text) + "\n")
    except (CheckpointError, keypoints.HandModelError, UsageError, speech.SpeechError, OSError) as err:
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
