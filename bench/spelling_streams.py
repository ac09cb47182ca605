"""Spelling streams for spellbench.py: one signer's photos played as if the person spelled words.

A word becomes frames: each letter a photo of it (a different photo each time the letter comes
up, when the signer has several) shown for `letter_s`, a short release with no hand only between
double letters (how "LL" is spelled), then a pause with no hand that ends the word.  Idle
stretches are frames with no hand and the signer's own `nothing` photos (empty scenes, and in
some collections hands at rest).  Every frame is shifted by up to 2 pixels from the last, like a
camera's jitter, so the tracker never sees two identical frames.  Photos of another size than
the signer's usual one are letterboxed into it.

With transitions (`transition_ms`), the hand moves between two letters the way hands do instead
of jumping: for 100-300 ms (drawn per transition) the frames carry no picture but the hand's
landmarks, interpolated from the last letter's hand to the next one's (each photo's hand as the
landmarker reads it, IMAGE mode), which the live path takes as the tracker's output
(`Recogniser.process_hands`).  This is a simulation: straight-line paths between two photos'
landmarks, not a real hand's movement; passing shapes the classifier misreads become measurable.

With motion letters (`motions`), J and Z are signed as the motions they are, not held as photos:
the signer's photo of the hand the motion starts from (I for J, D for Z) is shown for half the
letter's time, then the hand (its landmarks, as with transitions) traces a synthetic J or Z
(`motion_paths.synthetic_motion`: a random path, size, speed and twist) over MOTION_S and rests
at its end pose for MOTION_REST_S.  Also a simulation: the photo's hand moved along a drawn path.

The word lists (words/dictionary.txt, words/names.txt) were written for this project.
"""
from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from dataset import dataset_layout as layout
from dataset import motion_paths
from hand import keypoints

WORD_LISTS = {"dictionary": Path(__file__).resolve().parents[1] / "words" / "dictionary.txt",
              "names": Path(__file__).resolve().parents[1] / "words" / "names.txt"}
NO_HAND_GREY = 127  # the "no hand" frame: one flat colour
MOTION_S = (0.6, 1.0)  # how long a J or Z takes (drawn per motion), seconds
MOTION_REST_S = 0.2  # the hand still at the motion's end pose before the next letter
MOTION_FRAMES = 60  # key poses of a synthetic motion (frames between them interpolated)
MOTION_STARTS = {letter: hands[0] for letter, hands in motion_paths.MOTION_HANDS.items()}  # its start photo

@dataclass(frozen=True)
class Transition:
    """The hand on its way from one letter's hand to the next's (landmarks interpolated)."""
    start: keypoints.Hand
    end: keypoints.Hand

    def at(self, fraction: float) -> list[keypoints.Hand]:
        """The hand `fraction` (0..1) of the way."""
        landmarks = self.start.landmarks + (self.end.landmarks - self.start.landmarks) * fraction
        return [keypoints.Hand(landmarks.astype(np.float32), self.start.handedness, self.start.score)]


@dataclass(frozen=True)
class Motion:
    """The hand tracing a J or Z: key poses (image units) from rest to rest."""
    poses: np.ndarray  # (key poses, 21, 3)
    handedness: str
    score: float

    @property
    def end(self) -> keypoints.Hand:
        """The hand at the motion's end pose."""
        return keypoints.Hand(self.poses[-1], self.handedness, self.score)

    def at(self, fraction: float) -> list[keypoints.Hand]:
        """The hand `fraction` (0..1) of the way (between two key poses, interpolated)."""
        x = float(np.clip(fraction, 0.0, 1.0)) * (len(self.poses) - 1)
        i = min(int(x), len(self.poses) - 2)
        pose = self.poses[i] + (self.poses[i + 1] - self.poses[i]) * (x - i)
        return [keypoints.Hand(pose.astype(np.float32), self.handedness, self.score)]


def traced(hand: keypoints.Hand, letter: str, rng: np.random.Generator) -> Motion:
    """`hand` (a photo's, image units) tracing a synthetic `letter` (J or Z) of its own size."""
    lm = np.asarray(hand.landmarks, np.float64)
    wrist = lm[0].copy()
    size = float(np.linalg.norm(lm[1:, :2] - wrist[:2], axis=1).mean())
    left = hand.handedness == "Left"  # synthetic motions are made from right hands
    shape = motion_paths.canonical(((lm - wrist) / size)[None], np.array([left]))[0]
    poses = motion_paths.canonical(motion_paths.synthetic_motion(shape, letter, rng, MOTION_FRAMES),
                                   np.full(MOTION_FRAMES, left)) * size + wrist
    return Motion(poses.astype(np.float32), hand.handedness, hand.score)


Frames = list[tuple["np.ndarray | Transition | Motion", float]]  # (RGB frame or the hand's landmarks, seconds shown)


def read_words(path: str | Path) -> list[str]:
    """Upper-case words of a word list (one a line; blank lines and # comments skipped)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip().upper() for line in lines if line.strip() and not line.lstrip().startswith("#")]


@dataclass
class Signer:
    """One collection's photos by class: letters (A-Z) and `nothing` (idle)."""
    name: str
    letters: dict[str, list[Path]]
    nothing: list[Path]

    def can_spell(self, word: str) -> bool:
        """True when the signer has a photo of every letter of `word` (and of the hand a J or Z
        starts from, for spelling it as a motion)."""
        return all(self.letters.get(c) and self.letters.get(MOTION_STARTS.get(c, c)) for c in word)


def find_signers(roots: list[str | Path], names: list[str] | None = None) -> list[Signer]:
    """Every collection of photos below `roots` (landmark-only ones have nothing to play), or
    those named; a collection's own signs (dataset_layout.OWN_SIGNS) are left out."""
    signers = []
    for source in layout.find_sources(roots):
        if names and source.name not in names:
            continue
        entries, _ = layout.list_entries(source)
        photos = [e for e in entries if e.path.suffix.lower() in layout.IMAGE_EXTENSIONS
                  and not layout.own_sign(e.source, e.label)]
        letters: dict[str, list[Path]] = {}
        for e in photos:
            if e.label in layout.LETTERS:
                letters.setdefault(e.label, []).append(e.path)
        if letters:
            signers.append(Signer(source.name, letters, [e.path for e in photos if e.label == "nothing"]))
    return signers


def pick_words(signer: Signer, kind: str, count: int, seed: int) -> list[str]:
    """`count` words of list `kind` the signer can spell, drawn without replacement; the same
    for every run with the same seed."""
    words = [w for w in read_words(WORD_LISTS[kind]) if signer.can_spell(w)]
    rng = np.random.default_rng([seed, zlib.crc32(f"{signer.name}/{kind}".encode())])
    return [words[i] for i in rng.permutation(len(words))[:count]]


class Player:
    """Builds one signer's frames: decoded photos (cached), letterboxed to the usual size."""

    def __init__(self, signer: Signer, seed: int, detector: keypoints.HandDetector | None = None) -> None:
        self.signer = signer
        self.detector = detector  # IMAGE mode: each photo's hand, for transitions
        self._hands: dict[int, keypoints.Hand | None] = {}  # id of a photo's array -> its hand
        self.rng = np.random.default_rng([seed, zlib.crc32(signer.name.encode())])
        self.motion_rng = np.random.default_rng([seed, zlib.crc32(signer.name.encode()), 1])  # J and Z paths
        self._cache: dict[Path, np.ndarray | None] = {}
        self._next: Counter[str] = Counter()
        self._order = {c: self.rng.permutation(len(p)) for c, p in signer.letters.items()}
        first = {paths[0]: keypoints.read_image(paths[0]) for paths in signer.letters.values()}
        sizes = Counter(rgb.shape[:2] for rgb in first.values() if rgb is not None)
        self.size: tuple[int, int] = sizes.most_common(1)[0][0] if sizes else (480, 640)
        self._cache.update((path, None if rgb is None else self._fit(rgb)) for path, rgb in first.items())
        self.no_hand = np.full((*self.size, 3), NO_HAND_GREY, np.uint8)
        self.unreadable = 0

    def _photo(self, path: Path) -> np.ndarray | None:
        if path not in self._cache:
            rgb = keypoints.read_image(path)
            self._cache[path] = None if rgb is None else self._fit(rgb)
        return self._cache[path]

    def _fit(self, rgb: np.ndarray) -> np.ndarray:
        """`rgb` letterboxed (black bars) into the signer's usual size."""
        if rgb.shape[:2] == self.size:
            return rgb
        import cv2
        h, w = self.size
        s = min(h / rgb.shape[0], w / rgb.shape[1])
        small = cv2.resize(rgb, (max(1, round(rgb.shape[1] * s)), max(1, round(rgb.shape[0] * s))))
        out = np.zeros((h, w, 3), np.uint8)
        y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
        out[y:y + small.shape[0], x:x + small.shape[1]] = small
        return out

    def letter(self, c: str) -> np.ndarray:
        """The next photo of letter `c` (a different one each time while there are others);
        unreadable photos are skipped and counted."""
        paths = self.signer.letters[c]
        for _ in range(len(paths)):
            path = paths[self._order[c][self._next[c] % len(paths)]]
            self._next[c] += 1
            rgb = self._photo(path)
            if rgb is not None:
                return rgb
            self.unreadable += 1
        raise ValueError(f"{self.signer.name}: no readable photo of {c}")

    def hand(self, rgb: np.ndarray) -> keypoints.Hand | None:
        """The hand of one of this player's photos (the best of its first reading that finds one;
        None without a detector, or when none does)."""
        if self.detector is None:
            return None
        if id(rgb) not in self._hands:  # read as the photo path reads it: borders, then the last resort
            found = [hands[0] for _, hands in self.detector.readings(rgb) if hands]
            self._hands[id(rgb)] = found[0] if found else None
        return self._hands[id(rgb)]

    def word(self, word: str, letter_s: float, release_s: float, pause_s: float,
             transition_ms: tuple[float, float] | None = None, motions: bool = False) -> Frames:
        """The frames of `word` signed, then `pause_s` with no hand; with `transition_ms` (shortest,
        longest), the hand moves between two different letters for a time drawn in that range;
        with `motions`, J and Z are traced from the hand they start from (module docstring)."""
        frames: Frames = []
        for i, c in enumerate(word):
            start = self.letter(MOTION_STARTS[c]) if motions and c in MOTION_STARTS else None
            hand = None if start is None else self.hand(start)  # None: the letter's photo held instead
            rgb = self.letter(c) if hand is None else start
            if i and word[i - 1] == c:
                frames.append((self.no_hand, release_s))
            elif i and transition_ms is not None:
                seconds = float(self.rng.uniform(*transition_ms)) / 1000
                before, after = self._last_hand(frames), self.hand(rgb)
                if before is not None and after is not None:
                    frames.append((Transition(before, after), seconds))
            if hand is None:
                frames.append((rgb, letter_s))
                continue
            motion = traced(hand, c, self.motion_rng)
            frames += [(rgb, letter_s / 2), (motion, float(self.motion_rng.uniform(*MOTION_S))),
                       (Transition(motion.end, motion.end), MOTION_REST_S)]
        return frames + [(self.no_hand, pause_s)]

    def _last_hand(self, frames: Frames) -> keypoints.Hand | None:
        """The hand the last of `frames` ends with (a photo's, or where a motion left it)."""
        shown = frames[-1][0]
        return shown.end if isinstance(shown, (Transition, Motion)) else self.hand(shown)

    def idle(self, seconds: float, photo_s: float) -> list[tuple[str, Frames]]:
        """Idle stretches: `seconds` with no hand, and `seconds` of the signer's `nothing` photos
        (each shown for `photo_s`), when it has any."""
        stretches = [("no hand", [(self.no_hand, seconds)])]
        chosen = self.rng.permutation(len(self.signer.nothing))[:max(1, round(seconds / photo_s))]
        nothing = [rgb for rgb in (self._photo(self.signer.nothing[i]) for i in chosen) if rgb is not None]
        if nothing:
            stretches.append(("nothing", [(rgb, photo_s) for rgb in nothing]))
        return stretches


def frames_at(frames: Frames, fps: float, start_ms: float
              ) -> Iterator[tuple[np.ndarray | list[keypoints.Hand], float]]:
    """(jittered frame, timestamp in ms) at `fps` for frames shown for their seconds each; a
    transition or a motion gives the hands of its frames instead of a picture."""
    t, k = start_ms, 0
    for shown, seconds in frames:
        count = max(1, round(seconds * fps))
        for i in range(count):
            if isinstance(shown, Transition):
                yield shown.at((i + 1) / (count + 1)), t
            elif isinstance(shown, Motion):
                yield shown.at(i / max(count - 1, 1)), t
            else:
                yield (np.roll(shown, k % 3, axis=1) if k % 3 else shown), t
            t += 1000.0 / fps
            k += 1
