"""spellbench.py + spelling_streams.py: streams built right, errors counted right, a real run on
one signer's photos (through the real landmarker and model) that scores and resumes."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import SHARED_DATA, WEIGHTS, needs_data

import spellbench
from bench import spelling_scores, spelling_streams as streams
from spelling.word_decoder import Candidate, Decoded


def test_edit_counts_split_missed_wrong_and_extra_letters():
    assert spelling_scores.edit_counts("WATER", "WATER") == (0, 0, 0)
    assert spelling_scores.edit_counts("WATER", "TER") == (2, 0, 0)
    assert spelling_scores.edit_counts("WATER", "WATEP") == (0, 1, 0)
    assert spelling_scores.edit_counts("WATER", "WAATERS") == (0, 0, 2)
    assert spelling_scores.edit_counts("CAT", "") == (3, 0, 0)


def test_scores_of_known_outcomes():
    words = [{"kind": "dictionary", "word": "WATER", "seconds": 6.0, "letters": "WATEP", "lexicon": "WATER"},
             {"kind": "dictionary", "word": "CAT", "seconds": 4.0, "letters": "CT", "lexicon": "CUT"},
             {"kind": "names", "word": "ZOLTAN", "seconds": 5.0, "letters": "ZOLTAN", "lexicon": "ZOLTAN"}]
    raw = spelling_scores.score(words, "dictionary", "letters")
    assert raw["word_accuracy"] == 0.0 and raw["cer"] == pytest.approx(2 / 8)
    assert raw["missed"] == pytest.approx(1 / 8) and raw["wrong"] == pytest.approx(1 / 8)
    assert raw["letters_per_minute"] == pytest.approx(6 / (10 / 60))
    lex = spelling_scores.score(words, "dictionary", "lexicon")
    assert lex["word_accuracy"] == 0.5 and lex["cer"] == pytest.approx(1 / 8)
    summary = spelling_scores.summarise({"s": {"words": words, "idle": {"no hand": {"seconds": 30.0, "commits": ["A"]}}}})
    assert summary["overall"]["dictionary.errors_removed"] == pytest.approx(0.5)
    assert summary["overall"]["idle"]["false_commits_per_minute"] == pytest.approx(2.0)
    assert summary["overall"]["names.lexicon"]["word_accuracy"] == 1.0


def test_j_and_z_read_from_motion_that_a_word_does_not_need_are_false():
    words = [{"kind": "dictionary", "word": "JAZZ", "seconds": 20.0, "letters": "JAZZ", "lexicon": "JAZZ",
              "motion": ["J", "Z", "Z", "Z"]},  # one Z too many
             {"kind": "names", "word": "ANNA", "seconds": 10.0, "letters": "ANNA", "lexicon": "ANNA", "motion": ["J"]}]
    idle = {"no hand": {"seconds": 30.0, "commits": [], "motion": ["Z"]}}
    summary = spelling_scores.summarise({"s": {"words": words, "idle": idle}})
    assert summary["overall"]["false_motion_per_minute"] == pytest.approx(3 / 1.0)


def test_names_are_decoded_as_names_the_lexicon_does_not_know():
    """UNESCO is in the English list; a benchmark name must be one the lexicon does not know, so
    the misread UNESCA is not put right unless --known-names, while WATEP still becomes WATER."""
    from dataset.dataset_layout import KAGGLE_CLASSES

    def vector(letter: str, second: str | None = None) -> list[float]:
        p = np.full(len(KAGGLE_CLASSES), 0.001)
        p[KAGGLE_CLASSES.index(letter)] = 0.6 if second else 0.97
        if second:
            p[KAGGLE_CLASSES.index(second)] = 0.35
        return (p / p.sum()).tolist()

    def word(kind: str, truth: str, letters: str, misread: str) -> dict:
        probs = [vector(c, misread if i == len(letters) - 1 else None) for i, c in enumerate(letters)]
        return {"kind": kind, "word": truth, "letters": letters, "lexicon": letters,
                "finished": [{"letters": letters, "probs": probs}]}
    for known, shown in ((False, "UNESCA"), (True, "UNESCO")):
        runs = {"s/0.3/150": {"words": [word("dictionary", "WATER", "WATEP", "R"),
                                        word("names", "UNESCO", "UNESCA", "O")], "classes": list(KAGGLE_CLASSES)}}
        spellbench.rescore(runs, "en", known_names=known, channel="none")
        assert [w["lexicon"] for w in runs["s/0.3/150"]["words"]] == ["WATER", shown]


class CorrectsTo:
    """A word decoder that turns every word into `word` (its one-word lexicon)."""

    def __init__(self, word: str) -> None:
        self.word, self.lexicon = word, {word}

    def decode(self, letters: str, probs: list, times: list | None = None) -> Decoded:
        return Decoded(self.word, (Candidate(self.word, 0.0),), True)


def test_the_picks_user_fixes_a_word_only_when_a_key_can():
    """--picks: WATEL (an L read at 0.97 where R was signed) stays WATEL, WATER among the
    suggestions: the user takes it.  GWEN signed right, shown as WHEN: the user undoes.  A right
    word, a word not offered, or an earlier word: no key."""
    from dataset.dataset_layout import KAGGLE_CLASSES
    from spelling.lexicon import Lexicon
    from spelling.text_entry import TextEntry
    from spelling.word_decoder import WordDecoder

    def spell(text: TextEntry, letters: str) -> int:
        start = len(text.text)
        for c in letters:
            p = np.full(len(KAGGLE_CLASSES), 0.001)
            p[KAGGLE_CLASSES.index(c)] = 0.97
            text.commit(c, (p / p.sum()).astype(np.float32))
        text.end_word()
        return start
    text = TextEntry(WordDecoder(Lexicon.english(), KAGGLE_CLASSES))
    start = spell(text, "WATEL")
    assert text.text == "WATEL " and "WATER" in text.last.suggestions
    assert not spellbench.fix_word(text, "WATERS", start)  # not offered
    assert spellbench.fix_word(text, "WATER", start) and text.text == "WATER " and text.last.confirmed
    assert not spellbench.fix_word(text, "WATER", start)  # already right
    start = spell(text, "DOG")
    assert not spellbench.fix_word(text, "WATER", len(text.text))  # its word never finished
    text.decoder = CorrectsTo("WHEN")
    start = spell(text, "GWEN")
    assert text.text == "WATER DOG WHEN " and spellbench.fix_word(text, "GWEN", start)
    assert text.text == "WATER DOG GWEN " and text.last.confirmed


@pytest.fixture
def tiny_signer(tmp_path: Path) -> streams.Signer:
    """A signer with two photos of A-E and L and one of `nothing`, each photo a different colour
    with a brighter left half."""
    root = tmp_path / "signer"
    for k, c in enumerate("ABCDEL"):
        (root / c).mkdir(parents=True)
        for i in range(2):
            photo = np.full((48, 64, 3), 10 * k + i, np.uint8)
            photo[:, :32] += 100
            cv2.imwrite(str(root / c / f"{i}.png"), photo)
    (root / "nothing").mkdir()
    cv2.imwrite(str(root / "nothing" / "0.png"), np.full((40, 40, 3), 200, np.uint8))
    (root / "C" / "broken.png").write_bytes(b"not an image")
    return streams.find_signers([root])[0]


def test_word_frames_release_only_between_double_letters(tiny_signer: streams.Signer):
    player = streams.Player(tiny_signer, seed=0)
    frames = player.word("BALL", 1.0, 0.5, 2.0)
    no_hand = [i for i, (rgb, _) in enumerate(frames) if rgb is player.no_hand]
    assert no_hand == [3, 5] and [s for _, s in frames] == [1.0, 1.0, 1.0, 0.5, 1.0, 2.0]
    first, second = frames[2][0], frames[4][0]
    assert not np.array_equal(first, second)  # another photo of L the second time
    assert all(rgb.shape == (48, 64, 3) for rgb, _ in frames)
    player.word("CCC", 1.0, 0.5, 1.0)
    assert player.unreadable >= 1  # the broken photo of C was skipped and counted
    (kind_a, a), (kind_b, b) = player.idle(4.0, 2.0)
    assert (kind_a, kind_b) == ("no hand", "nothing") and b[0][0].shape == (48, 64, 3)  # letterboxed


class PhotoHands:
    """IMAGE-mode stand-in: every photo's hand is one synthetic right hand (none with `finds` off)."""

    def __init__(self, finds: bool = True) -> None:
        from conftest import synthetic_hand
        from hand import keypoints
        self.finds, self.hand = finds, keypoints.Hand(synthetic_hand(np.random.default_rng(0)).astype(np.float32),
                                                      "Right", 0.9)

    def readings(self, rgb: np.ndarray) -> list:
        return [(0.0, [self.hand] if self.finds else [])]


def test_with_motion_letters_a_z_is_traced_from_the_photo_it_starts_from(tiny_signer: streams.Signer):
    """With motion letters a Z is its start hand's photo (D), then that hand tracing a Z (moving its
    index tip, the way through its key poses), then at rest; without them, or when the start photo's
    hand cannot be read, the Z photo is held as before."""
    signer = streams.Signer("z", {**tiny_signer.letters, "Z": tiny_signer.letters["A"]}, [])
    player = streams.Player(signer, seed=0, detector=PhotoHands())
    frames = player.word("ZA", 1.0, 0.5, 2.0, motions=True)
    kinds = [type(shown).__name__ for shown, _ in frames]
    assert kinds == ["ndarray", "Motion", "Transition", "ndarray", "ndarray"]
    assert frames[0][1] == 0.5 and streams.MOTION_S[0] <= frames[1][1] <= streams.MOTION_S[1]
    assert any(np.array_equal(frames[0][0], player._photo(p)) for p in signer.letters["D"])
    motion = frames[1][0]
    tip = np.array([motion.at(f)[0].landmarks[8, :2] for f in np.linspace(0, 1, 30)])
    size = np.linalg.norm(PhotoHands().hand.landmarks[1:, :2] - PhotoHands().hand.landmarks[0, :2], axis=1).mean()
    assert np.abs(np.diff(tip, axis=0)).sum() > size  # the index tip travels more than a hand size
    np.testing.assert_allclose(motion.at(0.0)[0].landmarks[8], PhotoHands().hand.landmarks[8], atol=1e-4)
    assert np.array_equal(frames[2][0].at(0.5)[0].landmarks, motion.end.landmarks)
    for player in (streams.Player(signer, seed=0), streams.Player(signer, seed=0, detector=PhotoHands(False))):
        held = player.word("ZA", 1.0, 0.5, 2.0, motions=True)
        assert [s for _, s in held] == [1.0, 1.0, 2.0]
        assert any(np.array_equal(held[0][0], player._photo(p)) for p in signer.letters["Z"])


class ShiftedHands(PhotoHands):
    """IMAGE-mode stand-in: each photo's hand is the synthetic hand moved right by its photo's colour."""

    def readings(self, rgb: np.ndarray) -> list:
        from hand import keypoints
        moved = self.hand.landmarks + np.float32([rgb[0, 0, 0] / 1000, 0, 0])
        return [(0.0, [keypoints.Hand(moved, "Right", 0.9)])]


def test_with_transitions_the_hand_moves_from_one_letter_to_the_next(tiny_signer: streams.Signer):
    """--transitions: between two different letters the hand travels for 100-300 ms from the one
    photo's hand to the next's, its frames given as landmarks part of the way (none at either
    end); double letters keep their release, and a photo whose hand cannot be read jumps."""
    player = streams.Player(tiny_signer, seed=0, detector=ShiftedHands())
    frames = player.word("ALL", 1.0, 0.5, 2.0, transition_ms=(100, 300))
    kinds = [type(shown).__name__ for shown, _ in frames]
    assert kinds == ["ndarray", "Transition", "ndarray", "ndarray", "ndarray", "ndarray"]
    assert frames[3][0] is player.no_hand and 0.1 <= frames[1][1] <= 0.3
    move = frames[1][0]
    assert move.start == player.hand(frames[0][0]) and move.end == player.hand(frames[2][0])
    assert move.start.landmarks[0, 0] != move.end.landmarks[0, 0]
    out = list(streams.frames_at(frames[:3], fps=30, start_ms=0))
    between = [shown[0].landmarks for shown, _ in out if isinstance(shown, list)]
    assert len(between) == max(1, round(frames[1][1] * 30))
    x = [lm[0, 0] for lm in between]
    lo, hi = sorted((move.start.landmarks[0, 0], move.end.landmarks[0, 0]))
    assert all(lo < v < hi for v in x) and (np.all(np.diff(x) > 0) or np.all(np.diff(x) < 0))
    lost = streams.Player(tiny_signer, seed=0, detector=PhotoHands(False))
    assert [type(shown).__name__ for shown, _ in lost.word("AB", 1.0, 0.5, 2.0, transition_ms=(100, 300))] \
        == ["ndarray", "ndarray", "ndarray"]


def test_frames_at_keeps_time_and_jitters(tiny_signer: streams.Signer):
    player = streams.Player(tiny_signer, seed=0)
    out = list(streams.frames_at(player.word("AB", 1.0, 0.5, 1.0), fps=10, start_ms=500))
    assert len(out) == 30 and out[0][1] == 500 and out[-1][1] == pytest.approx(500 + 2900)
    assert any(not np.array_equal(out[i][0], out[i + 1][0]) for i in range(3))


def test_picked_words_are_spellable_and_repeatable(tiny_signer: streams.Signer):
    words = streams.read_words(streams.WORD_LISTS["dictionary"])
    assert len(words) >= 50 and all(w.isalpha() and w.isupper() for w in words)
    assert len(streams.read_words(streams.WORD_LISTS["names"])) >= 30
    real = streams.Signer("x", {c: [Path(c)] for c in "ABCDEFGHIKLMNOPQRSTUVWXY"}, [])  # no J, Z
    picked = streams.pick_words(real, "dictionary", 10, seed=3)
    assert len(picked) == 10 and all("J" not in w and "Z" not in w for w in picked)
    assert picked == streams.pick_words(real, "dictionary", 10, seed=3) != streams.pick_words(real, "dictionary", 10, 4)


def test_bad_inputs_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture):
    assert spellbench.main(["--data", str(tmp_path / "none")]) == 2
    assert spellbench.main(["--data", str(SHARED_DATA), "--signers", "nobody"]) == 2 or not SHARED_DATA.is_dir()
    assert "error" in capsys.readouterr().err


@needs_data
def test_one_signer_spells_words_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A real run (t32rahman, 2 words and 1 name at two hold times) through the landmarker and the
    shipped model: every word has an outcome, scores are in range, and an interrupted run goes on."""
    out = tmp_path / "spell.json"
    args = ["--data", str(SHARED_DATA), "--signers", "t32rahman", "--weights", str(WEIGHTS), "--words", "2",
            "--names", "1", "--holds", "0.4", "0.6", "--idle", "3", "--picks", "--json", str(out)]
    real, calls = spellbench.play_signer, []

    def stop_after_one(*a, **k):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*a, **k)
    monkeypatch.setattr(spellbench, "play_signer", stop_after_one)
    assert spellbench.main(args) == 130 and not out.exists()
    monkeypatch.setattr(spellbench, "play_signer", real)
    assert spellbench.main(args) == 0
    result = json.loads(out.read_text())
    assert set(result["results"]) == {"hold=0.4s gap=150ms", "hold=0.6s gap=150ms"}
    for summary in result["results"].values():
        overall = summary["overall"]
        assert overall["dictionary.letters"]["words"] == 2 and overall["names.lexicon"]["words"] == 1
        for key in ("dictionary.letters", "dictionary.lexicon", "dictionary.picked", "names.letters", "names.lexicon",
                    "names.picked"):
            assert 0 <= overall[key]["word_accuracy"] <= 1 and overall[key]["cer"] >= 0
        assert overall["dictionary.picked"]["word_accuracy"] >= overall["dictionary.lexicon"]["word_accuracy"]
        assert 0 <= overall["picks_per_word"] <= 1
        assert overall["idle"]["minutes"] == pytest.approx(3 / 60)
    run = next(iter(result["runs"].values()))
    assert all(w["letters"] or w["lexicon"] == "" for w in run["words"]) and run["frames"] > 50
    assert not out.with_name("spell.json.runs").exists()
    monkeypatch.setattr(spellbench, "play_signer", lambda *a, **k: pytest.fail("played again"))
    fewer = args.copy()
    fewer[fewer.index("--holds") + 1:fewer.index("--holds") + 3] = ["0.6"]
    assert spellbench.main(fewer) == 0  # a finished run's settings: nothing is played again
    again = tmp_path / "rescored.json"
    assert spellbench.main(["--rescore", str(out), "--json", str(again)]) == 0  # the same lexicon: the same words
    for run in result["runs"].values():  # what a user took from the earlier suggestions is not kept
        for word in run["words"]:
            del word["picked"]
    assert json.loads(again.read_text())["runs"] == result["runs"]
    assert spellbench.main(["--rescore", str(out), "--lexicon", "none", "--json", str(again)]) == 0
    words = [w for run in json.loads(again.read_text())["runs"].values() for w in run["words"]]
    assert all(w["lexicon"] == w["letters"] for w in words)
    assert spellbench.main(["--rescore", str(tmp_path / "none.json")]) == 2
