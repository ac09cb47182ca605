"""confusion_channel.py + word_decoder.py: how new people's letters get misread (the folds'
counts, smoothed) and this signer's own swaps, on synthetic words: a person whose E always reads
as S gets their words back, rightly spelled names stay."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dataset.dataset_layout import KAGGLE_CLASSES
from spelling.confusion_channel import (LETTERS, Channel, ChannelError, SignerSubstitutions, load_channel,
                                        read_counts, write_counts)
from spelling.lexicon import Lexicon
from spelling.text_entry import TextEntry
from spelling.word_decoder import WordDecoder

CLASSES = KAGGLE_CLASSES


def confident(word: str, confidence: float = 0.9) -> list[np.ndarray]:
    """Each letter of `word` read with `confidence`, the rest spread evenly."""
    out = []
    for c in word:
        p = np.full(len(CLASSES), (1 - confidence) / (len(CLASSES) - 1))
        p[CLASSES.index(c)] = confidence
        out.append(p)
    return out


def counts(extra: dict[tuple[str, str], int] | None = None, right: int = 90) -> np.ndarray:
    """Fold counts: every letter read right `right` times, plus `extra` (signed, read) misreads."""
    table = np.eye(len(LETTERS)) * right
    for (signed, read), n in (extra or {}).items():
        table[LETTERS.index(signed), LETTERS.index(read)] += n
    return table


@pytest.fixture(scope="module")
def english() -> Lexicon:
    return Lexicon.english()


@pytest.fixture()
def channel() -> Channel:
    """New people's E reads as S only now and then (3 in 93): the folds' rare confusion."""
    return Channel.from_counts(counts({("E", "S"): 3, ("T", "N"): 6}))


def test_a_channel_is_smoothed_probabilities_of_what_each_letter_reads_as(channel: Channel):
    assert channel.matrix.shape == (26, 26)
    np.testing.assert_allclose(channel.matrix.sum(axis=1), 1.0)
    e, s, t, n = (LETTERS.index(c) for c in "ESTN")
    assert channel.matrix[e, e] > 0.85 and channel.matrix[t, n] > channel.matrix[e, s] > channel.matrix[e, 0] > 0
    unseen = Channel.from_counts(np.zeros((26, 26)))  # no data: the prior alone, mostly read right
    assert unseen.matrix[0, 0] == pytest.approx(0.9 + 0.1 / 26)


def test_a_signer_whose_e_reads_as_s_gets_their_words_back_and_names_stay(english: Lexicon, channel: Channel):
    """HSLP alone stays (E read as S is rare among new people, and this S is confident: HELP
    is not likely enough to beat the letters); WATSR then makes the swap this person's (and is
    decoded again with it), so BRSAD, the next HSLP and GRSSN are put right, while names spelled
    right (ZOLTAN, KLM, BJORN) stay, and without the channel every one stays as spelled."""
    plain = WordDecoder(english, CLASSES)
    decoder = WordDecoder(english, CLASSES, channel=channel, signer=SignerSubstitutions())
    said = {}
    for word in ("HSLP", "WATSR", "BRSAD", "ZOLTAN", "HSLP", "KLM", "GRSSN", "BJORN"):
        said.setdefault(word, []).append(decoder.decode(word, confident(word)).text)
        assert plain.decode(word, confident(word)).text == word  # the letters' own probabilities keep each
    assert said["HSLP"] == ["HSLP", "HELP"] and said["WATSR"] == ["WATER"] and said["BRSAD"] == ["BREAD"]
    assert said["GRSSN"] == ["GREEN"]
    assert said["ZOLTAN"] == ["ZOLTAN"] and said["KLM"] == ["KLM"] and said["BJORN"] == ["BJORN"]
    assert decoder.signer.adopted == {(LETTERS.index("E"), LETTERS.index("S"))}


def test_a_word_one_swap_from_many_words_is_weak_evidence(english: Lexicon):
    """A name one letter from many words (JAT: BAT, CAT, JAM, JET, ...) adopts no swap, even twice."""
    swaps = SignerSubstitutions()
    for _ in range(2):
        assert not swaps.observe("JAT", "JAT", english.log_probs)
    assert not swaps.adopted and max(swaps.evidence.values()) < 1


def test_corrections_by_one_swap_count_in_full(english: Lexicon):
    swaps = SignerSubstitutions()
    assert not swaps.observe("WATEP", "WATER", english.log_probs)
    assert swaps.observe("WAPM", "WARM", english.log_probs)  # R read as P twice: adopted
    assert swaps.adopted == {(LETTERS.index("R"), LETTERS.index("P"))}
    assert not swaps.observe("HOUSE", "HOUSE", english.log_probs)  # a word: no evidence


def test_a_word_the_channel_corrects_teaches_signer_adaptation(english: Lexicon, channel: Channel):
    """WATSR shown as WATER is a confirmed word, so signer adaptation learns its letters as
    signed: the hand committed as S becomes a sample of E, and hands like it read more as E."""
    from realtime.adaptation import SignerAdapter
    adapter = SignerAdapter(CLASSES)
    text = TextEntry(WordDecoder(english, CLASSES, channel=channel, signer=SignerSubstitutions()),
                     on_finished=lambda w: adapter.learn(w, w.shown, w.letters, w.samples, w.confirmed))
    hidden = {c: h for c, h in zip("WATSR", np.eye(5, dtype=np.float32))}  # one hidden unit a letter's hand
    for c, p in zip("WATSR", confident("WATSR")):
        text.commit(c, p, (np.log(p).astype(np.float32), hidden[c]))
    text.end_word()
    assert (text.last.letters, text.last.shown, text.last.confirmed) == ("WATSR", "WATER", True)
    assert adapter.samples == 5
    shift = adapter.correction(hidden["S"][None])[0]
    assert shift[CLASSES.index("E")] - shift[CLASSES.index("S")] > 0.5


def test_a_new_signer_forgets_the_swaps(english: Lexicon, channel: Channel):
    decoder = WordDecoder(english, CLASSES, channel=channel, signer=SignerSubstitutions())
    text = TextEntry(decoder)
    for word in ("WATSR", "HSLP"):
        for c, p in zip(word, confident(word)):
            text.commit(c, p)
        text.end_word()
    assert text.text == "WATER HELP " and decoder.signer.adopted  # WATSR by the channel; HSLP completes the swap
    text.new_signer()
    assert not decoder.signer.adopted
    assert decoder.decode("HSLP", confident("HSLP")).text == "HSLP"


def test_channel_files_round_trip_and_leave_a_collection_out(tmp_path: Path):
    path = tmp_path / "confusions.json"
    write_counts(path, {"alice": counts({("E", "S"): 30}), "bob": counts()}, made_by="a test")
    assert set(read_counts(path)) == {"alice", "bob"}
    with_alice, without = Channel.load(path), Channel.load(path, exclude=("alice",))
    e, s = LETTERS.index("E"), LETTERS.index("S")
    assert with_alice.matrix[e, s] > 0.1 > without.matrix[e, s]
    assert load_channel("none") is None and load_channel(path).matrix.shape == (26, 26)


@pytest.mark.parametrize("content", [None, "not json", json.dumps({"format": "other"}),
                                     json.dumps({"format": "asl-confusion-channel/1", "letters": "".join(LETTERS),
                                                 "sources": {"x": [[1, 2]]}})])
def test_unusable_channel_files_say_why(tmp_path: Path, content: str | None):
    path = tmp_path / "confusions.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ChannelError, match="confusion channel|26 x 26"):
        Channel.load(path)
