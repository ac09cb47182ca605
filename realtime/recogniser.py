"""The live path shared by main.py, evaluate.py --clip-frames, spellbench.py and benchmark.py.

Frame -> keypoints.HandDetector (landmarks; for photos also of the mirror image, and of both read
with every fallback border) -> classifier.Classifier.predict_proba -> speller.Smoother per hand ->
speller.Speller (one letter per held sign: the hand's motion, speller.HandMotion, separates signs;
short dips bridged) -> text_entry.TextEntry (words, lexicon).  On streams, with a motion model,
each hand's path also goes to motion_letters.MotionLetters: a J or Z read from it replaces the
letters committed during the motion and the held sign it began from (MOTION_STARTS), and the
sign it ends in (its end pose) commits nothing.  J and Z are then committed from motion only: the
speller gets the hand's smoothed reading with their share spread over the other letters
(`still_reading`), so a still hand that one frame of a J or Z resembles commits the letter it is
read as next (D, I, X); the reading itself (the overlay, the motion's shape check) keeps them.

On a stream (VIDEO mode) a hand the tracker cannot find is looked for again: from the frame
after the one that lost it, each frame is read the next way of (no border,
*keypoints.FALLBACK_BORDERS), then, with `last_resort`, the same borders by the detector's last
resort (its twin at keypoints.LAST_RESORT_CONFIDENCE), starting again from the plain reading each
time a hand is lost, until one finds a hand; that reading is kept while the hand is tracked.
It costs no extra landmarker run (a frame without a tracked hand runs the palm detector anyway),
so hands that fill the frame or that only a lower confidence finds, which the photo path
finds, are found on streams too.  As on photos, the last resort reads only hands the detector
cannot: while it holds the hand, every PROBE_FRAMES-th frame is read by the detector first (with
the same border), which takes the hand back when it finds it (the last resort then reads that
frame only when the detector finds nothing).

With `adapt`, the classifier learns this signer's hand from the words they spell
(adaptation.SignerAdapter): each committed letter keeps its hand's sample (the model's view of it on
the commit frame), and each confirmed word teaches the adapter its letters.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from hand import keypoints
from spelling import speller
from realtime.adaptation import SignerAdapter, check_can_adapt
from realtime.frame_hands import group_views, hand_keys
from classifiers.classifier import Classifier, combine_views
from classifiers.motion_letters import MotionLetter, MotionLetters, MotionModel, still_reading
from classifiers.classifier_base import Scores
from spelling.text_entry import FinishedWord, TextEntry

# ----------------------------------------------------------------------------- defaults (main.py's settings)
MAX_HANDS = 2  # hands detected per frame
THRESHOLD = 0.3  # smoothed probability below which no letter is shown or held (chosen with spellbench.py)
HOLD = 0.3  # seconds a letter must be held to be added to the text (chosen with spellbench.py: README)
GAP_MS = 150.0  # dips shorter than this (no letter, or another one) do not restart the hold
SMOOTH_MS = 300  # smoothing window (majority vote + mean probability over the frames in it)
MOVE_THRESHOLD = 0.12  # palm sizes the hand moves within MOTION_MS that end a sign (chosen with spellbench.py)
MOTION_MS = 150  # the window the hand's motion is measured over
MOTION_FLOOR_PX = 3.0  # the hand's landmarks shifting by at most this many pixels is noise, not movement
# (the camera's jitter and the landmarker's: on a hand a few dozen pixels across, more than MOVE_THRESHOLD)
SETTLE_MS = 300  # after a hand appears, its landmarks settle this long before motion counts (speller.HandMotion)
RELABEL_PALMS = 3.0  # a hand read as the other hand within this many palm sizes of one just gone is it
WORD_PAUSE = 0.7  # seconds with no hand that end a word and add its space (spellbench.py: README)
ADAPT = True  # learn the signer's hand from the words they spell (adaptation.py; chosen with spellbench.py: README)
MOTION_LETTERS = True  # read J and Z from the hand's motion on streams (motion_letters.py)
MOTION_STARTS = {"J": "IJY", "Z": "DGLRXZ"}  # what one frame of the motion's hand is read as: the held
# sign it begins from, its end pose, and the hand's reading when it is reported (else it is no J or Z)
MOTION_LEAD_MS = 1000.0  # such a sign committed at most this long before the motion began is replaced
MOTION_ABSORB_MS = 1000.0  # the next sign, like its start and beginning up to this long after a motion letter, is its end pose
PROBE_FRAMES = 3  # on streams, while the last resort holds the hand: every this many frames the
# detector itself reads the frame first, and takes the hand back when it finds it
# -----------------------------------------------------------------------------


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
    text: str  # what the user sees
    progress: float  # hold progress of the pending letter, 0..1
    letters: str = ""  # the committed letters, before lexicon corrections
    suggestions: tuple[str, ...] = ()  # the lexicon's best words for the last finished word
    timings: dict[str, float] = field(default_factory=dict)  # ms per stage
    adapted: int | None = None  # letters signer adaptation has learnt from (None: --no-adapt)
    motion: str | None = None  # the letter read from the hand's motion and committed on this frame (J, Z), if any


class Recogniser:
    """The per-frame path: landmarks, letter probabilities, smoothing, committing and the text.
    Independent frames (photos) are not smoothed together, and each photo's letter commits at
    once.  With a `mirror_detector`, each frame's mirror image is read too, and with
    `every_border` (IMAGE mode) each view is read with every fallback border; each hand's
    probabilities are combined over all its readings (`classifier.combine_views`): a hand and its
    mirror image then read the same.  `text` (default: no lexicon) receives the commits."""

    def __init__(self, detector: keypoints.HandDetector, classifier: Classifier, threshold: float = THRESHOLD,
                 hold_s: float = HOLD, smooth_ms: float = SMOOTH_MS, independent_frames: bool = False,
                 mirror_detector: keypoints.HandDetector | None = None, every_border: bool = False,
                 gap_ms: float = GAP_MS, word_pause_s: float = WORD_PAUSE, text: TextEntry | None = None,
                 reacquire: bool = True, last_resort: bool = True, adapt: bool = False,
                 move_threshold: float = MOVE_THRESHOLD, motion_model: MotionModel | None = None,
                 motion_floor_px: float = MOTION_FLOOR_PX) -> None:
        self.detector = detector
        self.mirror_detector = mirror_detector
        self.every_border = every_border
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="mirror-view") if mirror_detector else None
        self.classifier = classifier
        self.independent_frames = independent_frames
        self.threshold = threshold
        self.smooth_ms = 0.0 if independent_frames else smooth_ms
        self.speller = speller.Speller(0.0 if independent_frames else hold_s * 1000.0, gap_ms, classifier.classes,
                                       0.0 if independent_frames else MOTION_MS)
        self.move_threshold = move_threshold
        self.motion_floor_px = motion_floor_px
        self.text = text if text is not None else TextEntry()
        self.word_pause_ms = word_pause_s * 1000.0
        self.adapter: SignerAdapter | None = None
        if adapt:  # the classifier applies the adapter; confirmed words teach it
            check_can_adapt(classifier, "this model")
            self.adapter = classifier.adapter = SignerAdapter(classifier.classes)
            self.text.on_finished = self._learn
        self.reacquire = reacquire and detector is not None and detector.mode == "video"
        borders = (0.0, *keypoints.FALLBACK_BORDERS)
        # The ways streams are read, in turn while no hand is found: (by the last resort, border).
        last_resort = last_resort and self.reacquire and detector.last_resort_confidence is not None
        self._ways = [(False, b) for b in borders] + ([(True, b) for b in borders] if last_resort else [])
        self._way = 0  # index in _ways of the way streams are read now
        self._held = 0  # frames in a row the last resort has found the hand
        self._no_hand_since: float | None = None
        self._smoothers: dict[str, speller.Smoother] = {}
        self._motions: dict[str, speller.HandMotion] = {}
        self.motion_model = None if independent_frames else motion_model  # photos keep the single-frame reading
        self._paths: dict[str, MotionLetters] = {}  # per hand: J and Z from its path
        # J, Z -> each letter the speller took a hand read as it for (still_reading) -> when, last
        self._stand_ins: dict[str, dict[str, float]] = {}
        self._sign_key: str | None = None  # the hand the sign going on began on
        self._noise = 0.0  # the motion's noise floor in landmark units (motion_floor_px over the last frame's longer side)

    def _read(self, detector: keypoints.HandDetector, rgb: np.ndarray, ts: int | None,
              way: int) -> list[list[keypoints.Hand]]:
        """The hands of each reading of `rgb` by `detector`: on streams one reading, the `way`-th of
        `_ways`; on photos as is, then with the fallback borders (then the last resort)."""
        if self.reacquire:
            by_last_resort, border = self._ways[way]
            return [(detector.last_resort() if by_last_resort else detector).read(rgb, border, ts)]
        return [hands for _, hands in detector.readings(rgb, self.every_border, ts)]

    def _frame_views(self, frame_rgb: np.ndarray, timestamp_ms: float) -> list[list[keypoints.Hand]]:
        """`_views` read the way streams are read now; while the last resort holds the hand, every
        PROBE_FRAMES-th frame is read by the detector first, which keeps the hand if it finds it."""
        by_last_resort, border = self._ways[self._way]
        if by_last_resort and self._held % PROBE_FRAMES == PROBE_FRAMES - 1:  # (only ways of streams)
            own = self._ways.index((False, border))
            views = self._views(frame_rgb, timestamp_ms, own)
            if any(views):
                self._way = own
                return views
        return self._views(frame_rgb, timestamp_ms, self._way)

    def _views(self, frame_rgb: np.ndarray, timestamp_ms: float, way: int) -> list[list[keypoints.Hand]]:
        """The hands of each reading of the frame (the frame, then its mirror image mapped back)."""
        ts = int(timestamp_ms) if self.detector.mode == "video" else None
        mirrored = None
        if self.mirror_detector is not None:  # the landmarker releases the GIL: both views run at once
            mirrored = self._pool.submit(self._read, self.mirror_detector, frame_rgb[:, ::-1], ts, way)
        views = self._read(self.detector, frame_rgb, ts, way)
        if mirrored is not None:
            h, w = frame_rgb.shape[:2]
            views += [[keypoints.Hand(keypoints.mirror_landmarks(t.landmarks, w / max(h, w)),
                                      keypoints.other_hand(t.handedness), t.score) for t in hands]
                      for hands in mirrored.result()]
        return views

    def process(self, frame_rgb: np.ndarray, timestamp_ms: float) -> FrameResult:
        """Recognise one RGB frame taken at `timestamp_ms` (increasing for streams)."""
        t0 = time.perf_counter()
        if self.motion_floor_px:
            self._noise = self.motion_floor_px / max(frame_rgb.shape[:2])
        views = self._frame_views(frame_rgb, timestamp_ms)
        groups = group_views(views) if len(views) > 1 else [[hand] for hand in views[0]]
        return self._recognise(groups, timestamp_ms, t0)

    def process_hands(self, hands: list[keypoints.Hand], timestamp_ms: float) -> FrameResult:
        """Recognise a frame whose hands are given as the tracker would give them (spellbench.py's
        simulated movements between letters), without running the landmarker; the motion's noise
        floor is in the last frame's pixels (none before any frame)."""
        return self._recognise([[hand] for hand in hands], timestamp_ms, time.perf_counter())

    def _recognise(self, groups: list[list[keypoints.Hand]], timestamp_ms: float, t0: float) -> FrameResult:
        """The frame's hands (each group: one hand's readings, the first shown) to its FrameResult."""
        hands = [group[0] for group in groups]
        self._track_absence(bool(hands), timestamp_ms)
        t1 = time.perf_counter()
        if self.independent_frames:
            self._smoothers.clear()
            self.speller.release()
        scores = None
        if hands:
            readings = [hand for group in groups for hand in group]
            hands_in = (np.stack([r.landmarks for r in readings]),
                        np.array([r.right_probability for r in readings], np.float32))
            scores = (self.classifier.predict(*hands_in) if self.adapter is not None
                      else Scores(self.classifier.predict_proba(*hands_in)))
            proba = scores.proba
            if len(readings) > len(hands):  # one row per hand: its readings combined
                proba = combine_views(proba, [i for i, group in enumerate(groups) for _ in group])[1]
        keys = hand_keys(hands)
        self._follow_relabelled(hands, keys)
        for key in self._smoothers.keys() - set(keys):
            self._smoothers[key].update(timestamp_ms, None)
            if key in self._motions:
                self._motions[key].lost()
            if key in self._paths:
                self._paths[key].update(timestamp_ms, None, None)
        results, motions = [], []
        for i, (hand, key) in enumerate(zip(hands, keys)):
            smoother = self._smoothers.get(key)
            if smoother is None:
                smoother = self._smoothers[key] = speller.Smoother(self.classifier.classes, self.smooth_ms,
                                                                   self.threshold)
            results.append(HandResult(hand, smoother.update(timestamp_ms, proba[i])))
            motion = self._motions.get(key)
            if motion is None:  # made once per hand, not on every frame
                motion = self._motions[key] = speller.HandMotion(MOTION_MS, SETTLE_MS)
            motions.append(motion.update(timestamp_ms, hand.landmarks, self._noise))
        moves = [m > self.move_threshold for m in motions]
        motion_letter = self._motion_letter(hands, keys, timestamp_ms, moves)
        self._smoothers = {k: s for k, s in self._smoothers.items() if not s.empty}
        self._motions = {k: m for k, m in self._motions.items() if k in self._smoothers}  # kept over short losses
        self._paths = {k: m for k, m in self._paths.items() if k in self._smoothers}
        chosen = speller.best(r.prediction for r in results)
        hand_index = next((i for i, r in enumerate(results) if r.prediction is chosen), None)
        moving = not self.independent_frames and hand_index is not None and (
            moves[hand_index] or self._hand_gone(keys[hand_index], keys, timestamp_ms))
        letter, sign_proba = chosen.letter, chosen.proba
        if self.motion_model is not None:  # J and Z come from the hand's path (_motion_letter) only
            letter, sign_proba = still_reading(letter, sign_proba, self.classifier.classes, self.threshold)
            if letter is not None and letter != chosen.letter:
                self._stand_ins.setdefault(chosen.letter, {})[letter] = timestamp_ms
        signing = self.speller.signing
        committed = self.speller.update(timestamp_ms, letter, sign_proba, moving)
        if hand_index is not None and self.speller.signing and not signing:
            self._sign_key = keys[hand_index]
        spelling = hand_index if chosen.letter is not None else None
        if committed is not None:
            self.text.commit(committed, self.speller.sign_proba, self._sample(scores, spelling, len(hands)),
                             timestamp_ms)
        motion = None if motion_letter is None else self._commit_motion(motion_letter, chosen.letter)
        committed = motion or committed
        t2 = time.perf_counter()
        return FrameResult(results, spelling, committed, self.text.text, self.speller.progress(timestamp_ms),
                           self.text.letters, self.text.suggestions,
                           {"landmarker": (t1 - t0) * 1000, "model": (t2 - t1) * 1000},
                           None if self.adapter is None else self.adapter.samples,
                           motion)

    def _follow_relabelled(self, hands: list[keypoints.Hand], keys: list[str]) -> None:
        """A hand the landmarker reads as the other hand (its handedness flipping on a held sign, a
        photo saved mirrored) is the same hand: it keeps the smoothing and motion it had under the
        label it had before, so a flip is neither a new sign nor a hand that cannot have moved.  A
        hand under a label with nothing kept takes over the nearest hand not in this frame whose
        state is kept (seen within the smoothing window: a flip across a frame or two the
        landmarker missed, too), within RELABEL_PALMS palm sizes.  Its J/Z path starts again: a
        path read under one label does not go on under the other."""
        gone = [k for k in self._motions if k not in keys]
        for hand, key in zip(hands, keys):
            if key in self._motions or not gone:
                continue
            palms = {k: self._motions[k].palms_from(hand.landmarks) for k in gone}
            near = min(gone, key=palms.__getitem__)
            if palms[near] > RELABEL_PALMS:
                continue
            gone.remove(near)
            if self._sign_key == near:
                self._sign_key = key
            for states in (self._smoothers, self._motions):  # photos read as independent frames keep no smoothing
                if near in states:
                    states[key] = states.pop(near)
                else:
                    states.pop(key, None)

    def _hand_gone(self, key: str, keys: list[str], timestamp_ms: float) -> bool:
        """True when the sign going on began on another hand than `key`, one no longer in view, and
        hand `key` has just been found (within SETTLE_MS): the sign's hand has gone (frames
        without it, or a hand read as another far from where it was) and this one came instead,
        so the sign has ended, though this hand has not moved since it appeared.  A hand in view
        all along (one resting while the other signs) ends no sign when the signing hand is missed
        for a frame."""
        return (self.speller.signing and self._sign_key not in (None, key) and self._sign_key not in keys
                and self._motions[key].found_ms >= timestamp_ms - SETTLE_MS)

    def _motion_letter(self, hands: list[keypoints.Hand], keys: list[str], timestamp_ms: float,
                       moves: list[bool]) -> MotionLetter | None:
        """Each hand's path (and whether it is moving) to its MotionLetters; a J or Z read from one
        of them (None: none)."""
        if self.motion_model is None:
            return None
        found = None
        for hand, key, moving in zip(hands, keys, moves):
            paths = self._paths.get(key)
            if paths is None:
                paths = self._paths[key] = MotionLetters(self.motion_model)
            found = paths.update(timestamp_ms, hand.landmarks, hand.handedness, moving) or found
        return found

    def _commit_motion(self, motion: MotionLetter, reading: str | None) -> str | None:
        """A J or Z read from motion, while the hand's letter reads `reading` (None: unsure): unless
        that is a letter of another shape (a hand moving between letters), it takes the place of
        what the static model committed during the motion and of the sign it began from, and the
        sign it ends in (read as a letter like its start) commits nothing.  A start read as the
        motion's letter, which the speller took as another (`still_reading`), counts as its start."""
        classes = list(self.classifier.classes)
        starts = MOTION_STARTS.get(motion.letter, motion.letter)
        starts += "".join(c for c, seen_ms in self._stand_ins.get(motion.letter, {}).items()  # the start read as
                          if seen_ms >= motion.start_ms - MOTION_LEAD_MS and c not in starts)  # it, taken as c
        if motion.letter not in classes or (reading is not None and reading not in starts):
            return None
        self.speller.claim(motion.t_ms + MOTION_ABSORB_MS, starts)
        proba = np.full(len(classes), (1.0 - motion.probability) / (len(classes) - 1), np.float32)
        proba[classes.index(motion.letter)] = motion.probability
        self.text.commit_motion(motion.letter, proba, motion.start_ms, starts, MOTION_LEAD_MS)
        return motion.letter

    def _track_absence(self, found: bool, timestamp_ms: float) -> None:
        """Word pause and re-acquisition: how long the frame has been without a hand."""
        if found:
            self._no_hand_since = None
            self._held = self._held + 1 if self._ways[self._way][0] else 0
            return
        lost_now = self._no_hand_since is None
        if lost_now:
            self._no_hand_since = timestamp_ms
        away = timestamp_ms - self._no_hand_since
        if not self.independent_frames and away >= self.word_pause_ms:
            self.text.end_word()
        if self.reacquire:
            self._way = 0 if lost_now else (self._way + 1) % len(self._ways)

    @staticmethod
    def _sample(scores: Scores | None, spelling: int | None, hands: int) -> tuple[np.ndarray, np.ndarray] | None:
        """What adaptation learns from the hand whose letter committed: its calibrated logits and
        hidden layer (None without an adapter, for a hand read more than once, or unusable)."""
        if spelling is None or scores is None or scores.hidden is None or len(scores.hidden) != hands \
                or np.isnan(scores.hidden[spelling]).any():
            return None
        return scores.calibrated[spelling], scores.hidden[spelling]

    def _learn(self, word: FinishedWord) -> None:
        """A word ended, or its shown text changed: the adapter takes what it confirms."""
        self.adapter.learn(word, word.shown, word.letters, word.samples, word.confirmed)

    def finish(self) -> None:
        """The stream has ended: end the word being spelled (no space after it)."""
        self.text.end_word(space=False)

    def clear(self) -> None:
        """Empty the spelled text."""
        self.text.clear()
        self.speller.release()
        self._paths.clear()  # a new MotionLetters per hand from the next frame

    def new_signer(self) -> None:
        """Someone else signs now: forget what signer adaptation and the decoder's swaps have learnt."""
        if self.adapter is not None:
            self.adapter.reset()
        self.text.new_signer()
        self._paths.clear()  # a new MotionLetters per hand from the next frame

    def close(self) -> None:
        """Stop the mirror-view thread (the detectors belong to the caller)."""
        if self._pool is not None:
            self._pool.shutdown()
