"""The page's spelling against Python's, in real headless Chromium, on the same frames: smoothing
and committing, the lexicon and the word decoder (with the confusion channel and the signer's
swaps, and their pace), J and Z from motion, and hands the landmarker loses, doubles or reads as
the other hand."""
from __future__ import annotations


import numpy as np
import pytest
from conftest import ONNX_WEIGHTS as ONNX, needs_page, needs_data

from classifiers.onnx_classifier import OnnxClassifier
from hand import keypoints
from spelling import speller
from spelling.confusion_channel import (ADOPTED_P, EVIDENCE_MIN_LOG_PROB, EVIDENCE_NEEDED, Channel,
                                        SignerSubstitutions)
from spelling.lexicon import Lexicon
from spelling.text_entry import TextEntry
from spelling.word_decoder import WordDecoder

pytestmark = needs_page  # skipped where the page cannot run, never in CI (conftest.py)


SPELL_JS = """async ([frames, pauses, settings, words, channel]) => {
  const { Smoother, Speller, best } = await import('/web/speller.js');
  const { TextEntry } = await import('/web/text_entry.js');
  const { SignerSubstitutions, WordDecoder } = await import('/web/word_decoder.js');
  const classes = asl.config.model.classes;
  const smoother = new Smoother(classes, settings.smooth_ms, settings.threshold);
  const spell = new Speller(settings.hold_s * 1000, settings.gap_ms, classes);
  const decoder = { ...asl.config.decoder, ...(channel ?? { channel: null }) };
  const swaps = channel ? new SignerSubstitutions(decoder) : null;
  const text = new TextEntry(new WordDecoder(words, classes, decoder, swaps));
  const steps = frames.map(([t, p, moving], i) => {
    const prediction = best([smoother.update(t, p === null ? null : Float32Array.from(p))]);
    const committed = spell.update(t, prediction.letter, prediction.proba, moving);
    if (committed !== null) text.commit(committed, spell.signProba, null, t);
    if (pauses.includes(i)) text.endWord();
    return [prediction.letter, committed];
  });
  text.endWord(false);
  return { steps, text: text.text, letters: text.letters, suggestions: text.suggestions };
}"""


def probability_stream(classes: list[str], seed: int) -> tuple[list, list[int]]:
    """Frames (time ms, class probabilities or None, the hand moving) of noisy words: misreads,
    dips, missing frames, double letters, names, a movement into each new letter (none, now and
    then, so a sign's reading changes on a still hand); and the frames after which a word pause
    ends the word."""
    rng = np.random.default_rng(seed)
    frames, pauses, t = [], [], 0.0
    for word in ("HELLO", "WATER", "QZXJ", "CAT", "SPELL", "BORIS"):
        for i, c in enumerate(word):
            if i and word[i - 1] == c:
                for _ in range(3):
                    frames.append((t, None, False))
                    t += 66.7
            moves = 2 if rng.random() > 0.15 else 0
            for k in range(int(rng.integers(9, 15))):
                target = classes.index(c) if rng.random() > 0.2 else int(rng.integers(0, 26))
                p = rng.dirichlet(np.full(len(classes), 0.3))
                p = 0.3 * p + 0.7 * np.eye(len(classes))[target] * rng.uniform(0.4, 1.0)
                frames.append((t, None if rng.random() < 0.08 else (p / p.sum()).astype(np.float32).tolist(),
                               k < moves))
                t += float(rng.uniform(50, 80))
        pauses.append(len(frames) - 1)
        for _ in range(4):
            frames.append((t, None, False))
            t += 66.7
    return frames, pauses


def spell_in_python(frames: list, pauses: list[int], settings: dict, classes: list[str],
                    decoder: WordDecoder) -> tuple[TextEntry, list]:
    """What SPELL_JS does, in Python: the text entry after the frames, and each frame's smoothed
    letter and commit."""
    smoother = speller.Smoother(classes, settings["smooth_ms"], settings["threshold"])
    spell = speller.Speller(settings["hold_s"] * 1000, settings["gap_ms"], classes)
    text, steps = TextEntry(decoder), []
    for i, (t, p, moving) in enumerate(frames):
        prediction = speller.best([smoother.update(t, None if p is None else np.array(p, np.float32))])
        committed = spell.update(t, prediction.letter, prediction.proba, moving)
        if committed is not None:
            text.commit(committed, spell.sign_proba, t_ms=t)
        if i in pauses:
            text.end_word()
        steps.append([prediction.letter, committed])
    text.end_word(space=False)
    return text, steps


def test_speller_and_lexicon_match_python(page) -> None:
    config = page.evaluate("asl.config")
    classes, settings = config["model"]["classes"], config["settings"]
    words = {"HELLO": -6.0, "WATER": -7.5, "CAT": -8.0, "SPELL": -9.0, "SPELT": -11.0, "HALLO": -12.0,
             "WAFER": -11.5, "CUT": -8.5, "COT": -9.5, "BORES": -10.0, "BORN": -8.0}
    corrected = 0
    for seed in range(4):
        frames, pauses = probability_stream(classes, seed)
        got = page.evaluate(SPELL_JS, [frames, pauses, settings, [[w, p] for w, p in words.items()], None])
        text, steps = spell_in_python(frames, pauses, settings, classes, WordDecoder(Lexicon(words), classes))
        assert got["steps"] == steps
        assert (got["text"], got["letters"], got["suggestions"]) == (text.text, text.letters, list(text.suggestions))
        corrected += text.text != text.letters
    assert corrected, "the streams should exercise the lexicon's corrections"


def held_signs_stream(classes: list[str], words: list[list[str]]) -> tuple[list, list[int]]:
    """Frames at 15 fps of `words`, each a list of signs, each sign a string of its frames'
    readings (0.6 on that letter, 0.35 on a look-alike): the hand moves on the first two frames of
    each sign and is still after; a release between double letters, a pause after each word."""
    frame_ms, frames, pauses, t = 1000 / 15, [], [], 0.0
    for signs in words:
        for k, sign in enumerate(signs):
            if k and signs[k - 1][-1] == sign[0]:
                for _ in range(3):
                    frames.append((t, None, False))
                    t += frame_ms
            for i, c in enumerate(sign):
                p = np.full(len(classes), 0.05 / (len(classes) - 2))
                look_alike = {"E": "S", "S": "E"}.get(c, "B" if c == "A" else "A")
                p[classes.index(c)], p[classes.index(look_alike)] = 0.6, 0.35
                frames.append((t, (p / p.sum()).astype(np.float32).tolist(), i < 2))
                t += frame_ms
        pauses.append(len(frames) - 1)
        for _ in range(12):
            frames.append((t, None, False))
            t += frame_ms
    return frames, pauses


def test_a_held_sign_that_flickers_and_a_word_the_channel_corrects_spell_as_python_does(page) -> None:
    """A still E whose reading flickers to S and back for longer than the hold is one letter, and
    WATSR (this person's E read as S, which the channel knows new people do now and then) is shown
    as WATER: the page's speller, text entry and decoder (with the channel and the signer's swaps)
    give the same letters, commits and words as Python's on the same frames."""
    config = page.evaluate("asl.config")
    classes, settings = config["model"]["classes"], config["settings"]
    table = np.eye(26) * 90
    table[4, 18], table[19, 13] = 3, 6  # E read as S, T as N: now and then among new people
    channel = Channel.from_counts(table)
    decoder = {"channel": channel.matrix.tolist(), "evidence_needed": EVIDENCE_NEEDED,
               "evidence_min_log_prob": EVIDENCE_MIN_LOG_PROB, "adopted_p": ADOPTED_P}
    frames, pauses = held_signs_stream(classes, [["H" * 12, "E" * 8 + "S" * 6 + "E" * 6, "L" * 12, "L" * 12, "O" * 12],
                                                 ["W" * 12, "A" * 12, "T" * 12, "S" * 12, "R" * 12]])
    english = Lexicon.english()
    got = page.evaluate(SPELL_JS, [frames, pauses, settings, [[w, lp] for w, lp in english.items()], decoder])
    text, steps = spell_in_python(frames, pauses, settings, classes,
                                  WordDecoder(english, classes, channel=channel, signer=SignerSubstitutions()))
    assert "EEESSSSSSEEE" in "".join(letter or "." for letter, _ in steps), "the held E's reading should flicker"
    assert (text.letters, text.text) == ("HELLO WATSR ", "HELLO WATER ")
    assert got["steps"] == steps
    assert (got["text"], got["letters"], got["suggestions"]) == (text.text, text.letters, list(text.suggestions))


DECODE_JS = """async ([cases, words]) => {
  const { WordDecoder } = await import('/web/word_decoder.js');
  const decoder = new WordDecoder(words, asl.config.model.classes, { ...asl.config.decoder, channel: null });
  return cases.map(([letters, probs, times]) => {
    const result = decoder.decode(letters, probs, times);
    return [result.text, result.suggestions.map(({ word, score }) => [word, score])];
  });
}"""


def test_word_decoder_matches_python(page) -> None:
    """Finished words with each kind of edit (a misread, a missed letter with time for it and
    without, a double commit, an unsure and a confident extra letter), one after another as one
    signer's: the page picks the same word with the same scores."""
    classes = page.evaluate("asl.config.model.classes")
    words = {"WATER": -7.5, "WAFER": -11.5, "US": -6.0, "USE": -7.0, "BORN": -8.0, "CAT": -8.0, "CUT": -8.5,
             "DOCTOR": -9.0, "QUIET": -8.0}
    rng = np.random.default_rng(0)

    def vector(letter: str, confidence: float, second: str) -> list[float]:
        p = rng.dirichlet(np.full(len(classes), 0.5)) * (1 - confidence) * 0.2
        p[classes.index(letter)] += confidence
        p[classes.index(second)] += 1 - p.sum()
        return p.tolist()
    cases = []
    for letters, unsure, second, slow in (("WATEP", 4, "R", -1), ("WTER", -1, "A", 1), ("WTER", -1, "A", -1),
                                          ("WAATER", 2, "E", -1), ("WATKER", 3, "E", -1), ("USB", -1, "E", -1),
                                          ("BJORN", -1, "A", 1), ("CXT", 1, "A", -1), ("QQ", 0, "R", -1),
                                          ("QUET", -1, "A", 1), ("DOCGOR", 3, "A", -1)):
        probs = [vector(c, 0.55 if i == unsure else 0.98, second if c != second else "Z")
                 for i, c in enumerate(letters)]
        times = np.cumsum([700.0 * (1 + (i == slow)) + rng.uniform(-50, 50) for i in range(len(letters))]).tolist()
        cases.append((letters, probs, times))
    got = page.evaluate(DECODE_JS, [cases, [[w, lp] for w, lp in words.items()]])
    decoder = WordDecoder(Lexicon(words), classes)
    for (letters, probs, times), (text, suggestions) in zip(cases, got):
        want = decoder.decode(letters, [np.array(p) for p in probs], times)
        assert text == want.text, letters
        assert [w for w, _ in suggestions] == [c.word for c in want.suggestions], letters
        assert [s for _, s in suggestions] == pytest.approx([c.score for c in want.suggestions], abs=1e-9), letters
    assert [text for text, _ in got[1:3]] == ["WATER", "WTER"], "a missed letter needs time for it"
    assert [text for text, _ in got[-2:]] == ["QUIET", "DOCTOR"], "time for a sign next to the gap; a replaced misread"
    assert {text for text, _ in got} >= {"WATER", "CAT"}, "the cases should exercise corrections"


CHANNEL_JS = """async ([words, decoder, sequence]) => {
  const { SignerSubstitutions, WordDecoder } = await import('/web/word_decoder.js');
  const settings = { ...asl.config.decoder, ...decoder };
  const swaps = new SignerSubstitutions(settings);
  const words_ = new WordDecoder(words, asl.config.model.classes, settings, swaps);
  const shown = sequence.map(([letters, probs, times]) => words_.decode(letters, probs, times).text);
  const learnt = { adopted: [...swaps.adopted].sort(), intervals: words_.pace.intervals.length };
  words_.newSigner();  // the page's new-signer key
  return { shown, ...learnt, forgotten: [swaps.adopted.size, words_.pace.intervals.length] };
}"""


def test_the_channel_and_the_signers_swaps_decode_as_python_does(page) -> None:
    """A person whose E reads as S, with a channel where that is rare: the page corrects the same
    words at the same point of the session as Python (WATSR by the channel, HSLP once the swap is
    theirs), keeps the same names, adopts the same swap and learns the same pace; a new signer
    forgets both."""
    classes = page.evaluate("asl.config.model.classes")
    english = Lexicon.english()
    table = np.eye(26) * 90
    table[4, 18], table[19, 13] = 3, 6  # E read as S, T as N: now and then among new people
    channel = Channel.from_counts(table)
    settings = {"channel": channel.matrix.tolist(), "evidence_needed": EVIDENCE_NEEDED,
                "evidence_min_log_prob": EVIDENCE_MIN_LOG_PROB, "adopted_p": ADOPTED_P}

    def confident(word: str) -> list[list[float]]:
        rows = np.full((len(word), len(classes)), 0.1 / (len(classes) - 1))
        rows[np.arange(len(word)), [classes.index(c) for c in word]] = 0.9
        return rows.tolist()
    sequence = [(w, confident(w), [700.0 * i for i in range(len(w))])
                for w in ("HSLP", "WATSR", "ZOLTAN", "HSLP", "KLM", "GRSSN", "LIGHN")]
    words = [[w, lp] for w, lp in english.items()]
    got = page.evaluate(CHANNEL_JS, [words, settings, sequence])
    decoder = WordDecoder(english, classes, channel=channel, signer=SignerSubstitutions())
    want = [decoder.decode(letters, [np.array(p) for p in probs], times).text for letters, probs, times in sequence]
    assert got["shown"] == want
    assert want[:5] == ["HSLP", "WATER", "ZOLTAN", "HELP", "KLM"]
    assert got["adopted"] == sorted(f"{s},{r}" for s, r in decoder.signer.adopted)
    assert got["intervals"] == len(decoder.pace.intervals) > 0
    decoder.new_signer()
    assert got["forgotten"] == [len(decoder.signer.adopted), len(decoder.pace.intervals)] == [0, 0]


MOTION_JS = """async ([streams]) => {
  const { loadClassifier } = await import('/web/classifier.js');
  const { loadMotionModel } = await import('/web/motion_letters.js');
  const { Recogniser } = await import('/web/recogniser.js');
  const { TextEntry } = await import('/web/text_entry.js');
  const ort = await import('/npm/onnxruntime-web/ort.wasm.min.mjs');
  const classifier = await loadClassifier(ort, asl.config.model);
  const model = await loadMotionModel(asl.config.motion);
  const out = [];
  for (const [times, frames, labels, side] of streams) {
    const landmarker = {  // a side x side frame (1 x 1 without one) whose hands are the stream's: the tracker's output
      detectForVideo: (i) => ({ landmarks: frames[i].map((hand) => hand.map(([x, y, z]) => ({ x, y, z }))),
                                handedness: frames[i].map((_, j) => [{ categoryName: labels ? labels[i][j] : 'Right',
                                                                       score: 0.95 }]) }) };
    // without a frame size no pixels under the hand: no motion noise floor, as recogniser.py's process_hands
    const settings = { ...asl.config.settings, adapt: false, ...(side ? {} : { motion_floor_px: 0 }) };
    const recogniser = new Recogniser(landmarker, classifier, settings, new TextEntry(null), null, null, model);
    const committed = [];
    for (let i = 0; i < frames.length; i++) {
      committed.push((await recogniser.process(i, side || 1, side || 1, times[i])).committed);
    }
    recogniser.text.endWord(false);
    out.push({ committed, letters: recogniser.text.letters });
  }
  return out;
}"""


def test_a_still_hand_commits_no_j_or_z_on_streams_as_python_does(page) -> None:
    """With a motion model the speller takes a hand's reading without J and Z (their share spread
    over the other classes, a J or Z reading replaced by the likeliest other class or none below
    the threshold), the same on the page as in recogniser.py."""
    from classifiers.motion_letters import still_reading
    classes = page.evaluate("asl.config.model.classes")
    rng = np.random.default_rng(0)
    cases = []
    for letter, top, share in (("Z", "D", 0.3), ("J", "I", 0.1), ("A", "A", 0.8), ("Z", None, 0.0)):
        p = rng.dirichlet(np.full(len(classes), 0.3)) * 0.05 if top else np.full(len(classes), 0.1 / len(classes))
        if top:
            p[classes.index(top)] += share
        p[classes.index(letter)] += 1 - p.sum()
        cases.append((letter, p.astype(np.float32)))
    got = page.evaluate("""async ([cases, classes, threshold]) => {
      const { stillReading } = await import('/web/motion_letters.js');
      return cases.map(([letter, p]) => {
        const [l, kept] = stillReading(letter, Float32Array.from(p), classes, threshold);
        return [l, Array.from(kept)];
      });
    }""", [[[c, p.tolist()] for c, p in cases], classes, 0.3])
    for (letter, p), (page_letter, page_kept) in zip(cases, got):
        want_letter, want_kept = still_reading(letter, p, classes, 0.3)
        assert page_letter == want_letter, letter
        np.testing.assert_allclose(page_kept, want_kept, atol=1e-6)
        assert want_kept[classes.index("J")] == want_kept[classes.index("Z")] == 0
    assert [still_reading(c, p, classes, 0.3)[0] for c, p in cases] == ["D", "I", "A", None]


@needs_data
def test_j_and_z_from_motion_spell_as_python_does(page) -> None:
    """Held I and D hands, then a J and a Z traced from them, through the page's recogniser and
    recogniser.py: the same letters committed on the same frames, J and Z each spelled once, an
    X signed soon after a Z's end pose spelled too, and a hand cut from K to C to D along a Z's
    steps spelled KCD (the steps read as a Z, but the hand is still when they do)."""
    from classifiers.motion_letters import MotionModel
    from conftest import jumping_stream, traced_stream, z_then
    from realtime.recogniser import Recogniser
    streams = [traced_stream(letter, start, seed) for letter, start in (("J", "I"), ("Z", "D")) for seed in (0, 1)]
    spelled = [stream.motions[0][0] for stream in streams] + ["ZX"]
    streams.append(z_then("X", 0))  # an X the hand moves on to from the Z's end pose is a letter
    streams.append(jumping_stream("KCD", 1))
    spelled.append("KCD")
    got = page.evaluate(MOTION_JS, [[[s.times.tolist(), s.landmarks[:, None].tolist()] for s in streams]])
    for stream, page_result, letters in zip(streams, got, spelled):
        recogniser = Recogniser(None, OnnxClassifier(ONNX), motion_model=MotionModel.load())
        committed = [recogniser.process_hands([keypoints.Hand(lm, "Right", 0.95)], float(t)).committed
                     for t, lm in zip(stream.times, stream.landmarks)]
        recogniser.finish()
        assert page_result == {"committed": committed, "letters": recogniser.text.letters}
        assert recogniser.text.letters == letters


@needs_data
def test_a_hand_read_as_the_other_hand_spells_as_python_does(page) -> None:
    """One person's D, A, N, C, E held 0.8 s each, cut from one to the next, each letter's hand
    read as the other hand from the last (photos saved part mirrored): the page and recogniser.py
    commit the same letters on the same frames, one a letter."""
    from conftest import static_hands
    from realtime.recogniser import Recogniser
    frames = np.concatenate([np.repeat(static_hands(c)[:1], 24, axis=0) for c in "DANCE"])
    labels = [("Right", "Left")[i // 24 % 2] for i in range(len(frames))]
    times = np.arange(len(frames)) * 1000 / 30
    got = page.evaluate(MOTION_JS, [[[times.tolist(), frames[:, None].tolist(), [[label] for label in labels]]]])[0]
    recogniser = Recogniser(None, OnnxClassifier(ONNX))
    committed = [recogniser.process_hands([keypoints.Hand(lm, label, 0.95)], float(t)).committed
                 for t, lm, label in zip(times, frames, labels)]
    recogniser.finish()
    assert got == {"committed": committed, "letters": recogniser.text.letters}
    assert len(recogniser.text.letters.strip()) == 5


@needs_data
def test_a_hand_lost_or_doubled_as_the_letter_changes_spells_as_python_does(page) -> None:
    """One person's D, A, N, C, E held 0.8 s each: the landmarker misses the hand for a frame before
    A and reads it as the other hand after; one frame before N also reads the A hand far off (a
    glitch) beside the N under the other label; the hand before E is missed for a frame and E
    comes back as the other hand far from where C was.  The page and recogniser.py commit the
    same letters on the same frames, each a new sign."""
    from conftest import static_hands
    from realtime.recogniser import Recogniser
    held = [np.repeat(static_hands(c)[:1], 24, axis=0) for c in "DANCE"]
    far = np.float32([0.5, 0, 0])  # half the frame: many palm sizes
    frames = ([[lm] for lm in held[0]] + [[]] + [[lm] for lm in held[1]] + [[held[1][0] + far, held[2][0]]]
              + [[lm] for lm in held[2][1:]] + [[lm] for lm in held[3]] + [[]] + [[lm + far] for lm in held[4]])
    labels = ([["Right"]] * 24 + [[]] + [["Left"]] * 24 + [["Left", "Right"]] + [["Right"]] * 23
              + [["Right"]] * 24 + [[]] + [["Left"]] * 24)
    times = np.arange(len(frames)) * 1000 / 30
    got = page.evaluate(MOTION_JS, [[[times.tolist(), [[h.tolist() for h in hands] for hands in frames], labels]]])[0]
    recogniser = Recogniser(None, OnnxClassifier(ONNX))
    committed = [recogniser.process_hands([keypoints.Hand(lm, label, 0.95) for lm, label in zip(hands, names)],
                                          float(t)).committed for t, hands, names in zip(times, frames, labels)]
    recogniser.finish()
    assert got == {"committed": committed, "letters": recogniser.text.letters}
    assert recogniser.text.letters.strip() == "DANCE"


class FrameIndexDetector:
    """VIDEO-mode stand-in for the landmarker on real frames: a frame's first pixel holds the index
    of its hand in `hands` (landmarks in the frame's units)."""
    mode = "video"
    last_resort_confidence = None

    def __init__(self, hands: np.ndarray) -> None:
        self.hands = hands

    def read(self, frame: np.ndarray, border: float = 0.0, timestamp_ms: int | None = None) -> list:
        return [keypoints.Hand(self.hands[int(frame[0, 0, 0])], "Right", 0.95)]


@needs_data
def test_a_hand_a_few_dozen_pixels_across_spells_as_python_does(page) -> None:
    """One person's B, A, C, O, N in 64-pixel frames (a palm of about a dozen pixels), each held 0.8 s and
    shifted by the camera's jitter of up to 2 pixels a frame, each letter's hand 6 pixels from the
    last: the page and recogniser.py commit the same letters on the same frames (the jitter within
    the motion's noise floor, the move to the next letter not), one a letter."""
    from classifiers.motion_letters import MotionModel
    from conftest import static_hands
    from realtime.recogniser import Recogniser
    side, per_letter = 64, 24
    hands = np.concatenate([np.repeat(static_hands(c)[:1], per_letter, axis=0) for c in "BACON"])
    hands[:, :, 0] += (np.arange(len(hands)) // per_letter % 2 * 6 + np.arange(len(hands)) % 3)[:, None] / side
    times = np.arange(len(hands)) * 1000 / 30
    got = page.evaluate(MOTION_JS, [[[times.tolist(), hands[:, None].tolist(), None, side]]])[0]
    recogniser = Recogniser(FrameIndexDetector(hands), OnnxClassifier(ONNX), motion_model=MotionModel.load())
    frame = np.zeros((side, side, 3), np.uint8)
    committed = []
    for i, t in enumerate(times):
        frame[0, 0, 0] = i
        committed.append(recogniser.process(frame, float(t)).committed)
    recogniser.finish()
    assert got == {"committed": committed, "letters": recogniser.text.letters}
    assert recogniser.text.letters.strip() == "BACON"


PACE_JS = """async ([settings, words]) => {
  const { LetterPace } = await import('/web/word_decoder.js');
  const pace = new LetterPace({ ...asl.config.decoder, ...settings });
  return words.map((word) => { const usual = pace.usual(word); pace.observe(word); return usual; });
}"""


def test_the_signers_pace_is_the_same_quantile_as_python(page) -> None:
    """The page's LetterPace gives the signer's usual interval Python's does, word after word
    (too few intervals, a window that drops the oldest, a quantile between two intervals)."""
    from spelling.word_decoder import PACE_MIN, PACE_QUANTILE, PACE_WINDOW, LetterPace
    rng = np.random.default_rng(3)
    words = [rng.uniform(300, 2000, size=int(rng.integers(0, 7))).round(1).tolist() for _ in range(30)]
    settings = {"pace_min": PACE_MIN, "pace_window": PACE_WINDOW, "pace_quantile": PACE_QUANTILE}
    got = page.evaluate(PACE_JS, [settings, words])
    pace, want = LetterPace(), []
    for word in words:
        want.append(pace.usual(word))
        pace.observe(word)
    assert got == pytest.approx(want, abs=1e-9) and sum(w is not None for w in want) > 20
