"""What the motion-letter detector is measured on: recorded J and Z sequences it was not trained
on, and negative streams of signers it never saw, each played frame by frame through
`motion_letters.MotionLetters.update` as the live path calls it, the hand taken to be moving on
every frame (the model's own reports; the live path also holds a report back while the hand is
still, which tests/test_motion_spelling.py measures on the recorded sequences through it)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from classifiers import motion_letters as ml
from dataset import motion_streams as ms


def play(detector: ml.MotionLetters, stream: ms.Stream) -> list[ml.MotionLetter]:
    """The motion letters `detector` reports on a stream (reset first)."""
    detector.reset()
    found = []
    for t, lm in zip(stream.times, stream.landmarks):
        seen = not np.isnan(lm).any()
        letter = detector.update(float(t), lm if seen else None, stream.handedness if seen else None)
        if letter is not None:
            found.append(letter)
    return found


@dataclass
class Recall:
    """Recorded sequences played at one frame rate: per letter, how many were read right (the
    first report is the letter), read as the other letter, or not read; and when right reports
    came, ms after the motion's onset and after the last recorded frame."""
    right: dict[str, int] = field(default_factory=lambda: {"J": 0, "Z": 0})
    wrong: dict[str, int] = field(default_factory=lambda: {"J": 0, "Z": 0})
    missed: dict[str, int] = field(default_factory=lambda: {"J": 0, "Z": 0})
    after_onset_ms: list[float] = field(default_factory=list)
    after_last_frame_ms: list[float] = field(default_factory=list)

    def add(self, letter: str, found: list[ml.MotionLetter], onset_ms: float, last_ms: float) -> None:
        """Score one sequence of `letter` given what was reported on it."""
        if not found:
            self.missed[letter] += 1
        elif found[0].letter == letter:
            self.right[letter] += 1
            self.after_onset_ms.append(found[0].t_ms - onset_ms)
            self.after_last_frame_ms.append(found[0].t_ms - last_ms)
        else:
            self.wrong[letter] += 1

    def summary(self) -> dict:
        """Counts, recall per letter and overall, and the median / 90th percentile of the delays."""
        total = {k: self.right[k] + self.wrong[k] + self.missed[k] for k in self.right}
        out = {"right": self.right, "wrong": self.wrong, "missed": self.missed, "sequences": total,
               "recall": {k: self.right[k] / total[k] if total[k] else None for k in total},
               "recall_all": sum(self.right.values()) / max(sum(total.values()), 1)}
        for name, values in (("after_onset_ms", self.after_onset_ms), ("after_last_frame_ms", self.after_last_frame_ms)):
            out[name] = ({"median": float(np.median(values)), "p90": float(np.percentile(values, 90))}
                         if values else None)
        return out


def recorded_recall(model: ml.MotionModel, sequences: dict[str, np.ndarray], held_out: dict[str, list[int]],
                    fps: float, recall: Recall | None = None) -> Recall:
    """Play each held-out recorded sequence at `fps` (after 0.5 s of its first frame held
    still, as recorded: no jitter, a right hand) and score it."""
    recall = recall if recall is not None else Recall()
    detector = ml.MotionLetters(model)
    for letter, indices in held_out.items():
        for i in indices:
            stream = ms.recorded_stream(sequences[letter][i], letter, fps=fps)
            _, onset, last = stream.motions[0]
            recall.add(letter, play(detector, stream), onset, last)
    return recall


def false_letters(model: ml.MotionModel, streams: list[ms.Stream]) -> dict:
    """J and Z reported on streams without any (none is right): count, minutes, per minute."""
    detector = ml.MotionLetters(model)
    counts = {"J": 0, "Z": 0}
    for stream in streams:
        for letter in play(detector, stream):
            counts[letter.letter] += 1
    minutes = sum(s.minutes for s in streams)
    return {"J": counts["J"], "Z": counts["Z"], "minutes": minutes,
            "per_minute": (counts["J"] + counts["Z"]) / minutes if minutes else None}


def synthetic_recall(model: ml.MotionModel, streams: list[ms.Stream]) -> dict:
    """Synthetic J and Z streams (`motion_streams.motion_stream`): read right / as the other
    letter / not read per letter, and when right reports came, ms after the motion began and
    after it ended (negative: before)."""
    detector = ml.MotionLetters(model)
    right, wrong, missed = {"J": 0, "Z": 0}, {"J": 0, "Z": 0}, {"J": 0, "Z": 0}
    after: dict[str, list[float]] = {"after_start_ms": [], "after_end_ms": []}
    for stream in streams:
        letter, start, end = stream.motions[0]
        found = play(detector, stream)
        if not found:
            missed[letter] += 1
        elif found[0].letter == letter:
            right[letter] += 1
            after["after_start_ms"].append(found[0].t_ms - start)
            after["after_end_ms"].append(found[0].t_ms - end)
        else:
            wrong[letter] += 1
    total = {k: right[k] + wrong[k] + missed[k] for k in right}
    return {"right": right, "wrong": wrong, "missed": missed,
            "recall": {k: right[k] / total[k] if total[k] else None for k in total},
            **{name: {"median": float(np.median(v)), "p10": float(np.percentile(v, 10)),
                      "p90": float(np.percentile(v, 90))} if v else None for name, v in after.items()}}
