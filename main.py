"""Recognise the ASL fingerspelling alphabet live and spell words by holding letters.

    python main.py                                   # camera 0, annotated window
    python main.py --source clip.mp4 --no-display --output annotated.mp4 --jsonl predictions.jsonl
    python main.py --source photo.jpg --no-display --output annotated.png
    python main.py --record A                        # save your own samples of A into my_samples/

Frame -> keypoints.HandDetector (landmarks; for photos also of the mirror image, and of both
read with every fallback border) ->
classifier.Classifier.predict_proba -> speller (smoothing, threshold, hold-to-commit) -> overlay.
Keys in the window: q/Esc quit, c clear the text, m mirror view, space pause, r recording on/off
(with --record).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, TextIO

import cv2
import numpy as np

import keypoints
import overlay
import speller
from classifier import CheckpointError, Classifier, combine_views, load_classifier
from dataset_layout import IMAGE_EXTENSIONS, MANIFEST_FIELDS, STATUS_OK, canonical_class

# ----------------------------------------------------------------------------- settings
SOURCE = "0"  # camera index, video file, image file or folder of images
WEIGHTS = str(Path(__file__).resolve().with_name("keypoint_model_L_cnn_50.pth"))  # .pth or .onnx
HAND_MODEL = None  # None: resolve automatically (see keypoints.resolve_hand_model)
MAX_HANDS = 2
THRESHOLD = 0.6  # smoothed probability below which no letter is shown
HOLD = 1.0  # seconds a letter must be held to be added to the text
SMOOTH_MS = 300  # smoothing window (majority vote + mean probability over the frames in it)
WIDTH, HEIGHT = 1280, 720  # requested camera resolution
RECORD_DIR = "my_samples"
RECORD_INTERVAL_MS = 100  # at most one recorded sample per this many milliseconds
IMAGE_FPS = 1.0  # frame rate of an --output video made from image files
BOTH_VIEWS = None  # read each frame and its mirror image too: None = for photos only (it doubles the landmarker time)
BORDER_VIEWS = None  # read each photo with every fallback border too: None = for photos (IMAGE mode only)
# -----------------------------------------------------------------------------

STILL_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}  # --output as one annotated image
QUIT_KEYS = {ord("q"), 27}


class UsageError(RuntimeError):
    """A --source, --output or --record that cannot be used (reported in one line, exit code 2)."""


# ----------------------------------------------------------------------------- recogniser
@dataclass
class HandResult:
    """One hand of a frame with its smoothed prediction."""
    hand: keypoints.Hand
    prediction: speller.Prediction


@dataclass
class FrameResult:
    """Everything the recogniser knows about one frame."""
    hands: list[HandResult]
    spelling: int | None  # index in hands of the hand spelled from
    committed: str | None  # class committed on this frame
    text: str
    progress: float  # hold progress of the pending letter, 0..1
    timings: dict[str, float] = field(default_factory=dict)  # ms per stage


def group_views(views: list[list[keypoints.Hand]]) -> list[list[keypoints.Hand]]:
    """Match the hands of several readings of one frame (the frame, its mirror image mapped back
    into the frame, the frame read with a border): each hand joins the nearest group whose first
    hand lies within half a hand size and that holds no hand of the same reading yet, or starts a
    group.  Groups come in order of first appearance; a group's first hand is the one shown."""
    groups: list[list[keypoints.Hand]] = []
    for hands in views:
        taken: set[int] = set()
        for hand in hands:
            best, best_gap = -1, np.inf
            for i, group in enumerate(groups):
                ref = group[0].landmarks
                size = np.linalg.norm(ref[:, :2] - ref[:1, :2], axis=1).mean()
                gap = np.linalg.norm(hand.landmarks[:, :2] - ref[:, :2], axis=1).mean()
                if i not in taken and gap < 0.5 * size and gap < best_gap:
                    best, best_gap = i, gap
            if best < 0:
                best = len(groups)
                groups.append([])
            groups[best].append(hand)
            taken.add(best)
    return groups


def hand_keys(hands: list[keypoints.Hand]) -> list[str]:
    """A smoothing key per hand: its handedness, numbered when two hands share one."""
    keys: list[str] = []
    for hand in hands:
        key = hand.handedness
        while key in keys:
            key += "+"
        keys.append(key)
    return keys


class Recogniser:
    """The per-frame path: landmarks, letter probabilities, smoothing and spelling.  Independent
    frames (photos) are not smoothed together, and each photo's letter commits at once.  With a
    `mirror_detector`, each frame's mirror image is read too, and with `every_border` (IMAGE mode)
    each view is read with every fallback border; each hand's probabilities are combined over all
    its readings (`classifier.combine_views`): a hand and its mirror image then read the same."""

    def __init__(self, detector: keypoints.HandDetector, classifier: Classifier, threshold: float = THRESHOLD,
                 hold_s: float = HOLD, smooth_ms: float = SMOOTH_MS, independent_frames: bool = False,
                 mirror_detector: keypoints.HandDetector | None = None, every_border: bool = False) -> None:
        self.detector = detector
        self.mirror_detector = mirror_detector
        self.every_border = every_border
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="mirror-view") if mirror_detector else None
        self.classifier = classifier
        self.independent_frames = independent_frames
        self.threshold = threshold
        self.smooth_ms = 0.0 if independent_frames else smooth_ms
        self.speller = speller.Speller(0.0 if independent_frames else hold_s * 1000.0)
        self._smoothers: dict[str, speller.Smoother] = {}

    def process(self, frame_rgb: np.ndarray, timestamp_ms: float) -> FrameResult:
        """Recognise one RGB frame taken at `timestamp_ms` (increasing for streams)."""
        t0 = time.perf_counter()
        ts = int(timestamp_ms) if self.detector.mode == "video" else None
        mirrored = None
        if self.mirror_detector is not None:  # the landmarker releases the GIL: both views run at once
            mirrored = self._pool.submit(self.mirror_detector.readings, frame_rgb[:, ::-1], self.every_border, ts)
        views = [hands for _, hands in self.detector.readings(frame_rgb, self.every_border, ts)]
        if mirrored is not None:
            h, w = frame_rgb.shape[:2]
            views += [[keypoints.Hand(keypoints.mirror_landmarks(t.landmarks, w / max(h, w)),
                                      keypoints.other_hand(t.handedness), t.score) for t in hands]
                      for _, hands in mirrored.result()]
        groups = group_views(views) if len(views) > 1 else [[hand] for hand in views[0]]
        hands = [group[0] for group in groups]
        t1 = time.perf_counter()
        if self.independent_frames:
            self._smoothers.clear()
            self.speller.release()
        if hands:
            readings = [hand for group in groups for hand in group]
            proba = self.classifier.predict_proba(np.stack([r.landmarks for r in readings]),
                                                  np.array([r.right_probability for r in readings], np.float32))
            if len(readings) > len(hands):  # one row per hand: its readings combined
                proba = combine_views(proba, [i for i, group in enumerate(groups) for _ in group])[1]
        keys = hand_keys(hands)
        for key in self._smoothers.keys() - set(keys):
            self._smoothers[key].update(timestamp_ms, None)
        results = []
        for i, (hand, key) in enumerate(zip(hands, keys)):
            smoother = self._smoothers.get(key)
            if smoother is None:
                smoother = self._smoothers[key] = speller.Smoother(self.classifier.classes, self.smooth_ms,
                                                                   self.threshold)
            results.append(HandResult(hand, smoother.update(timestamp_ms, proba[i])))
        self._smoothers = {k: s for k, s in self._smoothers.items() if not s.empty}
        chosen = speller.best(r.prediction for r in results)
        committed = self.speller.update(timestamp_ms, chosen.letter)
        spelling = next((i for i, r in enumerate(results) if r.prediction is chosen), None)
        t2 = time.perf_counter()
        return FrameResult(results, spelling, committed, self.speller.text, self.speller.progress(timestamp_ms),
                           {"landmarker": (t1 - t0) * 1000, "model": (t2 - t1) * 1000})

    def clear(self) -> None:
        """Empty the spelled text."""
        self.speller.clear()

    def close(self) -> None:
        """Stop the mirror-view thread (the detectors belong to the caller)."""
        if self._pool is not None:
            self._pool.shutdown()


def annotate(frame_bgr: np.ndarray, result: FrameResult, status: overlay.Status) -> None:
    """Draw hands, letters, the text bar and the status line onto the frame (in place)."""
    for i, r in enumerate(result.hands):
        overlay.draw_hand(frame_bgr, r.hand.landmarks, r.hand.handedness, r.prediction.letter,
                          r.prediction.confidence, i == result.spelling)
    overlay.draw_text_bar(frame_bgr, result.text, result.progress)
    overlay.draw_status(frame_bgr, status)


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


def jsonl_record(index: int, t_ms: float, result: FrameResult) -> str:
    """One JSONL line: the frame, its time, each hand's letter (null below threshold), the text."""
    hands = [{"handedness": r.hand.handedness, "letter": r.prediction.letter,
              "confidence": None if r.prediction.confidence is None else round(r.prediction.confidence, 4)}
             for r in result.hands]
    return json.dumps({"frame": index, "time_ms": round(t_ms, 3), "hands": hands, "text": result.text})


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
        epilog="keys in the window: q/Esc quit, c clear text, m mirror view, space pause, r recording on/off")
    p.add_argument("--source", default=SOURCE, help="camera index, video file, image file or folder of images")
    p.add_argument("--weights", default=WEIGHTS, help=".pth or .onnx, with class_mapping.txt beside it")
    p.add_argument("--hand-model", default=HAND_MODEL, help="hand_landmarker.task (None: found automatically)")
    p.add_argument("--max-hands", type=int, default=MAX_HANDS, help="hands detected per frame")
    p.add_argument("--threshold", type=float, default=THRESHOLD, help="min smoothed confidence for a letter")
    p.add_argument("--hold", type=float, default=HOLD, help="seconds a letter is held to add it to the text")
    p.add_argument("--smooth-ms", type=float, default=SMOOTH_MS, help="smoothing window in milliseconds")
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
    return p.parse_args(argv)


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
            annotate(bgr, result, status)
            run.draw_ms = (time.perf_counter() - t0) * 1000
        if jsonl is not None:
            jsonl.write(jsonl_record(index, t_ms, result) + "\n")
        if output is not None:
            output.write(bgr)
        now = time.perf_counter()
        run.fps = 0.9 * run.fps + 0.1 / max(now - last, 1e-6) if run.fps else 1 / max(now - last, 1e-6)
        last = now
        if window is not None and not window.show(bgr, run, 0 if source.mode == "image" else 1):
            break


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


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
    detector = mirror_detector = recogniser = source = output = jsonl = window = run = None
    try:
        classifier = load_weights(args.weights)
        letter = record_class(args.record, classifier.classes) if args.record else None
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
                                every_border=source.mode == "image" and args.border_views is not False)
        recorder = Recorder(Path(args.record_dir), letter, args.record_interval_ms) if letter else None
        run = Run(recogniser, mirror=source.is_camera, recorder=recorder)
        output = AnnotatedOutput(Path(args.output), source.fps) if args.output else None
        if args.jsonl:
            Path(args.jsonl).parent.mkdir(parents=True, exist_ok=True)
            jsonl = open(args.jsonl, "w", encoding="utf-8", buffering=1)  # line by line: tail -f works
        window = None if args.no_display else Window()
        loop(source, run, window, output, jsonl)
    except (CheckpointError, keypoints.HandModelError, UsageError, OSError) as err:
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
    if run is None:
        return 0
    if run.recorder is not None:
        print(f"recorded {run.recorder.count} samples of {run.recorder.letter} in {run.recorder.folder}",
              file=sys.stderr)
    print(run.recogniser.speller.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
