"""speech.py: words to one WAV with the real espeak-ng, and fake engines (tiny scripts in tmp_path)
for a slow, a failing and a recording engine."""
from __future__ import annotations

import os
import shutil
import sys
import time
import wave
from pathlib import Path

import pytest

from spelling import speech


@pytest.fixture
def espeak_ng() -> str:
    """The real espeak-ng: skipped if absent, except in CI (CI=true), which must have it."""
    path = shutil.which("espeak-ng")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("espeak-ng is required in CI (apt-get install espeak-ng)")
        pytest.skip("espeak-ng is not installed (sudo apt-get install espeak-ng)")
    return path


def fake_engine(folder: Path, body: str, name: str = "fake-engine") -> str:
    """An executable shell script `name` in `folder` running `body`."""
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def python_engine(folder: Path, body: str) -> str:
    """An executable Python script; `text` is the word after '--'."""
    path = folder / "py-engine"
    path.write_text(f"#!{sys.executable}\nimport sys\ntext = sys.argv[sys.argv.index('--') + 1]\n{body}\n")
    path.chmod(0o755)
    return str(path)


def duration(path: Path) -> float:
    with wave.open(str(path)) as clip:
        assert clip.getnframes() > 0
        return clip.getnframes() / clip.getframerate()


def test_words_go_into_one_wav_in_order(espeak_ng: str, tmp_path: Path) -> None:
    with speech.Speaker(wav_path=tmp_path / "hello.wav", engine=espeak_ng) as speaker:
        speaker.say("hello")
    speaker = speech.Speaker(wav_path=tmp_path / "both.wav")
    speaker.say("hello")
    speaker.say("world")
    speaker.close()
    assert duration(tmp_path / "both.wav") > duration(tmp_path / "hello.wav") + speech.GAP_S
    assert sorted(p.name for p in tmp_path.iterdir()) == ["both.wav", "hello.wav"]  # no temp files left


def test_say_does_not_wait_for_the_engine(tmp_path: Path) -> None:
    speaker = speech.Speaker(engine=fake_engine(tmp_path, "sleep 1"))
    start = time.perf_counter()
    speaker.say("slow")
    assert time.perf_counter() - start < 0.3
    speaker.close()
    assert time.perf_counter() - start >= 0.9  # close() waited for the queued word


def test_engine_command_line_and_empty_text_ignored(tmp_path: Path) -> None:
    log = tmp_path / "calls.txt"
    with speech.Speaker(engine=fake_engine(tmp_path, f'echo "$@" >> "{log}"'), voice="en-us", rate=120) as speaker:
        for text in ("", "   ", "\n", " -hi ", "there"):
            speaker.say(text)
    assert log.read_text().splitlines() == ["-v en-us -s 120 -- -hi", "-v en-us -s 120 -- there"]


def test_no_word_writes_an_empty_wav(tmp_path: Path) -> None:
    speaker = speech.Speaker(wav_path=tmp_path / "none.wav", engine=fake_engine(tmp_path, "exit 1"))
    speaker.say(" ")
    speaker.close()
    speaker.close()  # idempotent
    with wave.open(str(tmp_path / "none.wav")) as clip:
        assert (clip.getnchannels(), clip.getsampwidth(), clip.getframerate(), clip.getnframes()) == (1, 2, 22050, 0)


@pytest.mark.parametrize("to_wav", [False, True])
def test_failing_engine_is_raised_by_close(tmp_path: Path, to_wav: bool) -> None:
    engine = fake_engine(tmp_path, 'echo "ALSA noise" >&2; echo "Error: no such voice" >&2; exit 1')
    speaker = speech.Speaker(wav_path=tmp_path / "out.wav" if to_wav else None, engine=engine)
    speaker.say("hello")  # the frame loop goes on
    speaker.say("again")
    with pytest.raises(speech.SpeechError, match=r"^fake-engine failed on 'hello' \(exit code 1\): "
                                                 r"Error: no such voice$"):
        speaker.close()
    assert not (tmp_path / "out.wav").exists()  # no WAV missing a word
    speaker.close()  # the error is reported once


def test_unknown_voice_fails(espeak_ng: str, tmp_path: Path) -> None:
    # not "no-such-voice": espeak-ng reads that as Norwegian ("no") with a variant and exits 0
    speaker = speech.Speaker(wav_path=tmp_path / "x.wav", voice="nosuchvoice", engine=espeak_ng)
    speaker.say("hello")
    with pytest.raises(speech.SpeechError, match="voice does not exist"):
        speaker.close()


def test_wavs_of_different_formats_are_refused(tmp_path: Path) -> None:
    engine = python_engine(tmp_path, "import wave\nwith wave.open(sys.stdout.buffer, 'wb') as out:\n"
                                     "    out.setnchannels(1); out.setsampwidth(2)\n"
                                     "    out.setframerate(8000 if text == 'a' else 16000); out.writeframes(bytes(200))")
    speaker = speech.Speaker(wav_path=tmp_path / "mixed.wav", engine=engine)
    speaker.say("a")
    speaker.say("b")
    with pytest.raises(speech.SpeechError, match="different formats"):
        speaker.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["py-engine"]


def test_not_a_wav_fails(tmp_path: Path) -> None:
    speaker = speech.Speaker(wav_path=tmp_path / "x.wav", engine=fake_engine(tmp_path, "echo not a wav"))
    speaker.say("hello")
    with pytest.raises(speech.SpeechError, match="did not return a WAV"):
        speaker.close()


def test_find_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(speech.SpeechError, match="sudo apt-get install espeak-ng"):
        speech.find_engine(("no-such-engine-1", "no-such-engine-2"))
    monkeypatch.setenv("PATH", str(tmp_path))
    fallback = fake_engine(tmp_path, "exit 0", name="espeak")
    assert speech.find_engine() == fallback  # espeak-ng absent: the fallback
    first = fake_engine(tmp_path, "exit 0", name="espeak-ng")
    assert speech.find_engine() == first  # the first in order wins
    with pytest.raises(speech.SpeechError, match="no folder"):
        speech.Speaker(wav_path=tmp_path / "missing" / "x.wav")
