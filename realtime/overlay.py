"""Drawing only: hands, letters, the spelled-text bar and the status line on a BGR frame (in place)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from hand import keypoints

if TYPE_CHECKING:
    from realtime.recogniser import FrameResult

FONT = cv2.FONT_HERSHEY_SIMPLEX
HAND_COLOURS = {"right": (255, 160, 0), "left": (0, 200, 255)}  # BGR: blue-ish right, amber left
OTHER_COLOUR = (200, 200, 200)
NO_LETTER_COLOUR = (150, 150, 150)
BONES = np.array(keypoints.HAND_CONNECTIONS)  # (bones, 2) landmark indices: the skeleton, one polyline a bone
WHITE, BLACK, GREEN, RED = (255, 255, 255), (0, 0, 0), (60, 220, 60), (40, 40, 230)


@dataclass
class Status:
    """What the status line shows besides the hands."""
    fps: float
    timings: dict[str, float]  # stage -> milliseconds
    mirrored: bool = False
    record: str | None = None  # e.g. "REC A: 12" or "rec off A: 12"
    adapted: int | None = None  # letters signer adaptation has learnt from (None: off)


def _scale(frame: np.ndarray) -> float:
    return max(0.4, max(frame.shape[:2]) / 900)


def _status_height(s: float) -> int:
    (_, th), base = cv2.getTextSize("Ag", FONT, 0.5 * s, 1)
    return th + base + 6


def _label(frame: np.ndarray, text: str, org: tuple[int, int], scale: float, colour: tuple[int, int, int],
           thickness: int, top: int = 0) -> None:
    """Text on a filled dark box, kept inside the frame and below `top`; `org` is the box's
    bottom-left corner."""
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
    h, w = frame.shape[:2]
    x = int(min(max(org[0], 0), max(w - tw - 6, 0)))
    y = int(min(max(org[1], top + th + base + 6), h))
    cv2.rectangle(frame, (x, y - th - base - 6), (x + tw + 6, y), BLACK, cv2.FILLED)
    cv2.putText(frame, text, (x + 3, y - base - 3), FONT, scale, colour, thickness, cv2.LINE_AA)


def draw_hand(frame: np.ndarray, landmarks: np.ndarray, handedness: str, letter: str | None,
              confidence: float | None, spelling: bool) -> None:
    """Skeleton, points and a "letter confidence handedness" label above the hand.  `spelling`
    marks the hand the text is spelled from (thicker lines)."""
    s = _scale(frame)
    colour = HAND_COLOURS.get(handedness.lower(), OTHER_COLOUR)
    points = np.rint(landmarks[:, :2] * max(frame.shape[:2])).astype(np.int32)
    line = max(1, round((3 if spelling else 2) * s))
    # Bones without anti-aliasing: a third of the cost of cv2.LINE_AA (benchmark.py's frame path);
    # the anti-aliased points cover the joints.
    cv2.polylines(frame, list(points[BONES]), False, colour, line, cv2.LINE_8)
    for x, y in points:
        cv2.circle(frame, (int(x), int(y)), max(2, round(4 * s)), WHITE, cv2.FILLED, cv2.LINE_AA)
    if confidence is None:
        text, text_colour = f"? {handedness}", NO_LETTER_COLOUR
    else:
        text = f"{letter if letter is not None else '?'} {confidence:.2f} {handedness}"
        text_colour = colour if letter is not None else NO_LETTER_COLOUR
    x0, y0 = points[:, 0].min(), points[:, 1].min()
    _label(frame, text, (x0, y0 - 6), 1.0 * s, text_colour, max(1, round(2 * s)), top=_status_height(s) + 2)


def draw_text_bar(frame: np.ndarray, text: str, progress: float, suggestions: tuple[str, ...] = ()) -> None:
    """The spelled text in a bar along the bottom, with the hold progress of the pending letter
    as a green line along its top, and above it the last word's suggestions, numbered by the key
    that takes each ("1 HELLO  2 HELP ...  u undo")."""
    s = _scale(frame)
    h, w = frame.shape[:2]
    thickness = max(1, round(2 * s))
    (_, th), base = cv2.getTextSize("Ag", FONT, 1.1 * s, thickness)
    top = h - th - base - round(16 * s)
    cv2.rectangle(frame, (0, top), (w, h), BLACK, cv2.FILLED)
    if progress > 0:
        cv2.rectangle(frame, (0, top), (int(w * progress), top + max(2, round(5 * s))), GREEN, cv2.FILLED)
    shown = text + "_"
    while len(shown) > 1 and cv2.getTextSize(shown, FONT, 1.1 * s, thickness)[0][0] > w - 20:
        shown = shown[1:]  # keep the end of a long text in view
    cv2.putText(frame, shown, (10, h - base - round(6 * s)), FONT, 1.1 * s, WHITE, thickness, cv2.LINE_AA)
    if suggestions:
        line = "  ".join(f"{i} {word}" for i, word in enumerate(suggestions, 1)) + "  u undo"
        _label(frame, line, (0, top - 2), 0.7 * s, GREEN, max(1, round(1.5 * s)))


def draw_status(frame: np.ndarray, status: Status) -> None:
    """FPS, per-stage milliseconds and the letters adaptation has learnt top-left; recording state
    and count at the right below them."""
    s = _scale(frame)
    stages = "  ".join(f"{name} {ms:.1f}ms" for name, ms in status.timings.items())
    fps = f"{status.fps:.1f} FPS  " if status.fps else ""
    adapted = "" if status.adapted is None else f"  adapted to {status.adapted} letters"
    _label(frame, f"{fps}{stages}{adapted}{'  [mirror]' if status.mirrored else ''}", (0, 0), 0.5 * s, WHITE, 1)
    if status.record:
        size = cv2.getTextSize(status.record, FONT, 0.7 * s, max(1, round(2 * s)))[0]
        colour = RED if status.record.startswith("REC") else NO_LETTER_COLOUR
        _label(frame, status.record, (frame.shape[1] - size[0] - 10, 0), 0.7 * s, colour, max(1, round(2 * s)),
               top=_status_height(s) + 2)


def annotate(frame: np.ndarray, result: "FrameResult", status: Status) -> None:
    """Hands, letters, the text bar with suggestions and the status line of one recognised frame."""
    for i, r in enumerate(result.hands):
        draw_hand(frame, r.hand.landmarks, r.hand.handedness, r.prediction.letter, r.prediction.confidence,
                  i == result.spelling)
    draw_text_bar(frame, result.text, result.progress, result.suggestions)
    draw_status(frame, status)
