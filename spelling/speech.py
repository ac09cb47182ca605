"""Offline text-to-speech of finished words for `main.py --speak` (espeak-ng's command line). say()
only queues the word for a worker thread, so the frame loop never waits; close() raises failures."""
from __future__ import annotations

import io
import os
import queue
import shutil
import subprocess
import threading
import wave
from pathlib import Path
from typing import Sequence

from storage import atomic_files

ENGINES = ("espeak-ng", "espeak")  # binaries tried in order
VOICE = "en"  # espeak voice (-v)
RATE = 160  # words per minute (-s)
TIMEOUT_S = 30.0  # per word; a hung engine is killed
GAP_S = 0.3  # silence between two words in the WAV
EMPTY_WAV = (1, 2, 22050)  # channels, bytes per sample, Hz of a WAV with no word (espeak-ng's own format)

WavParams = tuple[int, int, int]  # channels, bytes per sample, frames per second


class SpeechError(RuntimeError):
    """No speech engine, or it failed: reported by main.py in one line (exit code 2)."""


def find_engine(engines: Sequence[str] = ENGINES) -> str:
    """Path of the first engine binary on PATH; SpeechError with an install hint if none."""
    for name in engines:
        path = shutil.which(name)
        if path:
            return path
    raise SpeechError(f"no speech engine found (tried {', '.join(engines)}); "
                      "install one, e.g. 'sudo apt-get install espeak-ng'")


def read_wav(data: bytes) -> tuple[WavParams, bytes]:
    """The parameters and PCM frames of a WAV in memory. espeak-ng --stdout streams, so its header
    holds a placeholder length: the frames are what is actually there, cut to whole frames."""
    try:
        with wave.open(io.BytesIO(data)) as clip:
            params = (clip.getnchannels(), clip.getsampwidth(), clip.getframerate())
            frames = clip.readframes(clip.getnframes())
    except (wave.Error, EOFError) as err:
        raise SpeechError(f"the speech engine did not return a WAV ({err})") from None
    return params, frames[:len(frames) - len(frames) % (params[0] * params[1])]


def wav_bytes(params: WavParams, frames: bytes) -> bytes:
    """A complete WAV file of `frames` in memory."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(params[0])
        out.setsampwidth(params[1])
        out.setframerate(params[2])
        out.writeframes(frames)
    return buffer.getvalue()


class Speaker:
    """Says words on a worker thread (say() returns at once). With `wav_path`, nothing is played:
    every word is synthesised and close() writes them, in order and GAP_S apart, into one WAV file
    (atomically; not at all if a word failed)."""

    def __init__(self, wav_path: str | os.PathLike | None = None, voice: str = VOICE, rate: int = RATE,
                 engine: str | None = None) -> None:
        self.wav_path = None if wav_path is None else Path(wav_path)
        if self.wav_path is not None and not self.wav_path.parent.is_dir():
            raise SpeechError(f"cannot write {self.wav_path}: no folder {self.wav_path.parent}")
        self.command = [engine or find_engine(), "-v", voice, "-s", str(rate)]
        self._words: queue.Queue[str | None] = queue.Queue()
        self._clips: list[tuple[WavParams, bytes]] = []
        self._error: str | None = None
        self._closed = False
        self._worker = threading.Thread(target=self._run, name="speaker", daemon=True)
        self._worker.start()

    def say(self, text: str) -> None:
        """Queue `text` to be said (empty or whitespace text is ignored); never waits for the engine."""
        if self._closed:
            raise SpeechError("say() after close()")
        if text.strip():
            self._words.put(text.strip())

    def close(self) -> None:
        """Wait for the queued words, stop the worker, write the WAV if any; SpeechError on the
        first engine failure. A second call does nothing."""
        if self._closed:
            return
        self._closed = True
        self._words.put(None)
        self._worker.join()
        if self._error is not None:
            raise SpeechError(self._error)
        if self.wav_path is not None:
            atomic_files.write_bytes(self.wav_path, self._joined_wav())

    def __enter__(self) -> Speaker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: object) -> None:
        """Close; a speech error does not hide an exception already on its way out."""
        try:
            self.close()
        except SpeechError:
            if exc is None:
                raise

    def _run(self) -> None:
        """Worker: say the queued words until None; after the first failure, skip the rest."""
        while (word := self._words.get()) is not None:
            if self._error is None:
                try:
                    self._say_now(word)
                except SpeechError as err:
                    self._error = str(err)

    def _say_now(self, word: str) -> None:
        """Run the engine on one word: play it, or keep its WAV frames."""
        to_wav = self.wav_path is not None
        command = [*self.command, *(["--stdout"] if to_wav else []), "--", word]
        name = Path(self.command[0]).name
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, timeout=TIMEOUT_S,
                                  stdout=subprocess.PIPE if to_wav else subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)  # kept for the message only
        except subprocess.TimeoutExpired:
            raise SpeechError(f"{name} took over {TIMEOUT_S:g} s to say {word!r}") from None
        except OSError as err:
            raise SpeechError(f"cannot run {name}: {err}") from None
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            reason = lines[-1].strip() if lines else "no message"
            raise SpeechError(f"{name} failed on {word!r} (exit code {done.returncode}): {reason}")
        if to_wav:
            self._clips.append(read_wav(done.stdout))

    def _joined_wav(self) -> bytes:
        """All clips, GAP_S of silence apart, as one WAV (an empty EMPTY_WAV if no word was said)."""
        params = self._clips[0][0] if self._clips else EMPTY_WAV
        if any(clip_params != params for clip_params, _ in self._clips):
            raise SpeechError(f"the speech engine returned WAVs in different formats: "
                              f"{sorted({clip_params for clip_params, _ in self._clips})}")
        silence = bytes(round(GAP_S * params[2]) * params[0] * params[1])
        return wav_bytes(params, silence.join(frames for _, frames in self._clips))
