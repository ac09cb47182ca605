"""Practice mode on the page (web/practice*.js) in real headless Chromium with a fake camera: the
`window.asl.practice` contract on streams of real photos (a miss, a double letter, words read right
at the first try, no hand), the summary against the stream's timing, the session rules, levels,
keys and history; the hand landmarker's delegate (GPU where it helps, the CPU otherwise, and why);
and the files practice needs (its word lists, the reference hands and the command that makes them).

ASL_PRACTICE_SCREENSHOT=docs/screenshot_practice.png makes the miss test save the page, as it
shows the miss, to that file (docs/web.md's screenshot)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ONNX_WEIGHTS as ONNX, PAGE_MISSING, REPO, SHARED_DATA, needs_data, needs_page

from bench import spelling_streams
from dataset import reference_hands
from hand import keypoints
from serving import browser_session, web_server
from storage import atomic_files

SAMPLES = REPO / "samples" / "hello"  # one signer's H, E, L, L, O (shipped with the project)
S_PHOTO = "more-signers/t32rahman/S/66.jpg"  # the same signer's S: the shipped model reads it as S (0.99)
FPS = 4  # slow enough that the page reads every frame (as in test_web_page.py)
LETTER_S = 2.0  # each letter's photo on screen: a dropped frame cannot cut its 0.3 s hold short
RELEASE_S = 0.5  # no hand between double letters
# The hand moving to the next letter: its photo moved sideways by MOVE_PX, then half as far, a frame
# each.  The speller commits one letter per held sign, and a sign ends only when the hand moves
# (for two frames at least: one frame's jump is a tracking glitch) or goes: photos that replace one
# another in place would be one sign.
MOVE_PX = 80
MOVE_S = 2 / FPS
PERIOD_S = LETTER_S + MOVE_S  # from one letter to the next
SCREENSHOT = os.environ.get("ASL_PRACTICE_SCREENSHOT")
STREAM_TIMEOUT_S = 120.0



@pytest.fixture(scope="module")
def server() -> str:
    """The page without a word list: practice scores letters as signed (overrides conftest's)."""
    if PAGE_MISSING is not None:
        pytest.fail(f"the page cannot run in CI: {PAGE_MISSING}")
    with browser_session.PageServer(weights=ONNX, lexicon="none") as url:
        yield url


def wait_for(page, expression: str, timeout_s: float = 30.0):
    """The value of `expression` in the page once it is truthy (polled: the page's CSP forbids eval)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = page.evaluate(expression)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"after {timeout_s} s: {expression} is still false; asl.practice = "
                         f"{page.evaluate('asl.practice')}, asl.error = {page.evaluate('asl.error')}")


def assert_loopback_only(page, server: str) -> None:
    """Every network request of the page went to its own server on 127.0.0.1."""
    network = [url for url in page.requests if not url.startswith(("data:", "blob:"))]
    assert network and all(url.startswith(server) for url in network), \
        [url for url in network if not url.startswith(server)]


# ----------------------------------------------------------------------------- streams of real photos
def photos(extra: dict[str, Path]) -> dict[str, list[np.ndarray]]:
    """The sample photos by letter (two of L), and `extra` letters' photos."""
    found: dict[str, list[np.ndarray]] = {}
    for letter, path in [(p.stem.split("_")[-1], p) for p in sorted(SAMPLES.glob("*.jpg"))] + list(extra.items()):
        found.setdefault(letter, []).append(keypoints.read_image(path))
    return found


def practice_video(folder: Path, signs: str, extra: dict[str, Path] | None = None) -> Path:
    """A y4m of `signs` signed from real photos after a second and before two seconds with no hand:
    a letter is held LETTER_S, the hand moving to it for MOVE_S from the letter before; '.': no
    hand for RELEASE_S, '_': no hand for a second, '=': the letter before held LETTER_S more, still.
    A letter signed again shows its next photo."""
    pictures = photos(extra or {})
    grey = np.full_like(pictures["H"][0], spelling_streams.NO_HAND_GREY)
    shown: dict[str, int] = {}
    frames = [(grey, 1.0)]
    for i, sign in enumerate(signs):
        if sign in "._=":
            frames.append((frames[-1][0], LETTER_S) if sign == "=" else (grey, RELEASE_S if sign == "." else 1.0))
            continue
        photo = pictures[sign][shown.get(sign, 0) % len(pictures[sign])]
        shown[sign] = shown.get(sign, 0) + 1
        if i and signs[i - 1] not in "._":
            frames += [(np.roll(photo, MOVE_PX, axis=1), 1 / FPS), (np.roll(photo, MOVE_PX // 2, axis=1), 1 / FPS)]
        frames.append((photo, LETTER_S))
    frames.append((grey, 2.0))
    path = folder / "practice.y4m"
    browser_session.write_y4m(path, (rgb for rgb, _ in spelling_streams.frames_at(frames, FPS, 0.0)), FPS)
    return path


@needs_page
@needs_data
def test_a_miss_is_recorded_and_the_summary_matches_the_stream(playwright, server: str, tmp_path: Path) -> None:
    """H E L S L O on HELLO: the second L is first read as S (a miss), then right."""
    video = practice_video(tmp_path, "HELSLO", {"S": SHARED_DATA / S_PHOTO})
    with browser_session.browser(playwright, camera=video) as browser:
        page = browser_session.open_page(browser, browser_session.with_query(server, practice="HELLO"))
        assert page.evaluate("asl.error") is None
        wait_for(page, "asl.practice && asl.practice.letters[3].reads.length > 0", STREAM_TIMEOUT_S)
        assert page.inner_text("#practice-feedback") == "Read as S. Sign L again."
        assert page.evaluate("document.getElementById('reference-read-figure').hidden") is False
        if SCREENSHOT:
            page.set_viewport_size({"width": 1280, "height": 800})
            atomic_files.write_bytes(SCREENSHOT, page.screenshot())
        practice = wait_for(page, "asl.practice.finished && asl.practice", STREAM_TIMEOUT_S)
        assert_loopback_only(page, server)
    assert practice["word"] == "HELLO"
    assert [(x["target"], x["reads"], x["done"]) for x in practice["letters"]] == [
        ("H", ["H"], True), ("E", ["E"], True), ("L", ["L"], True), ("L", ["S", "L"], True), ("O", ["O"], True)]
    # The stream shows a letter every PERIOD_S from 1 s (the S between the two Ls): each letter is
    # done that long after the one before, give or take three frames (H follows no hand, which
    # the speller leaves sooner than a moving hand; a busy machine drops a frame now and then).
    done = [x["doneMs"] / 1000 for x in practice["letters"]]
    assert np.diff(done) == pytest.approx([PERIOD_S, PERIOD_S, 2 * PERIOD_S, PERIOD_S], abs=3 / FPS)
    summary = practice["summary"]
    assert summary["seconds"] == pytest.approx((practice["finishedMs"] - practice["startedMs"]) / 1000)
    assert practice["finishedMs"] == practice["letters"][-1]["doneMs"]
    # From the first frame (the stream's start, give or take the camera's start-up) to O: O is in
    # place at 13.5 s and committed once the hand is still and has held it 0.3 s.
    assert 13.0 <= summary["seconds"] <= 15.0
    assert (summary["letters"], summary["right"], summary["firstTry"], summary["skipped"]) == (5, 5, 4, 0)
    assert summary["rightPerMinute"] == pytest.approx(5 / summary["seconds"] * 60)
    assert summary["hardest"] == [{"letter": "L", "misses": 1, "readAs": ["S"]}]


@needs_page
def test_double_letters_and_words_read_right_at_the_first_try(playwright, server: str, tmp_path: Path) -> None:
    """H E L (release) L O, then H O L E, on HELLO,HOLE: every letter right at the first try; the
    second L of HELLO commits only after the release."""
    video = practice_video(tmp_path, "HEL.LO_HOLE")
    with browser_session.browser(playwright, camera=video) as browser:
        page = browser_session.open_page(browser, browser_session.with_query(server, practice="HELLO,HOLE"))
        assert page.evaluate("asl.error") is None
        practice = wait_for(page, "asl.practice.finished && asl.practice", STREAM_TIMEOUT_S)
        summary_shown = page.evaluate("!document.getElementById('practice-summary').hidden")
        history = page.evaluate("JSON.parse(localStorage.getItem('asl-practice-history'))")
        assert_loopback_only(page, server)
    assert [w["word"] for w in practice["words"]] == ["HELLO", "HOLE"]
    assert (practice["word"], practice["index"]) == ("HOLE", 1)
    for word in practice["words"]:
        assert [(x["target"], x["reads"], x["done"]) for x in word["letters"]] == \
            [(c, [c], True) for c in word["word"]], word
    first_l, second_l = practice["words"][0]["letters"][2:4]
    assert second_l["doneMs"] - first_l["doneMs"] == pytest.approx((LETTER_S + RELEASE_S) * 1000, abs=3 / FPS * 1000)
    summary = practice["summary"]
    assert (summary["letters"], summary["right"], summary["firstTry"], summary["hardest"]) == (9, 9, 9, [])
    assert summary_shown
    assert [entry["words"] for entry in history] == [["HELLO", "HOLE"]]


@needs_page
def test_a_double_letter_needs_its_release(playwright, server: str, tmp_path: Path) -> None:
    """H E L, the L held twice as long without moving, then O, on HELLO: one sign, one L; the O
    is then a miss for the second L."""
    video = practice_video(tmp_path, "HEL=O")
    with browser_session.browser(playwright, camera=video) as browser:
        page = browser_session.open_page(browser, browser_session.with_query(server, practice="HELLO"))
        practice = wait_for(page, "asl.practice.letters[3].reads.length > 0 && asl.practice", STREAM_TIMEOUT_S)
    assert [x["reads"] for x in practice["letters"]] == [["H"], ["E"], ["L"], ["O"], []]
    assert not practice["finished"]


@needs_page
def test_no_hand_leaves_practice_unfinished(playwright, server: str, tmp_path: Path) -> None:
    video = practice_video(tmp_path, "__")
    with browser_session.browser(playwright, camera=video) as browser:
        page = browser_session.open_page(browser, browser_session.with_query(server, practice="HELLO"))
        wait_for(page, "asl.last && asl.last.frame >= 4 * 6", STREAM_TIMEOUT_S)  # six seconds of frames
        practice = page.evaluate("asl.practice")
        assert page.inner_text("#practice-feedback") == "Your words. HELLO: sign H."
        assert_loopback_only(page, server)
    assert practice["finished"] is False and practice["summary"] is None
    assert practice["startedMs"] is not None, "the session's clock starts at its first frame"
    assert [(x["reads"], x["done"]) for x in practice["letters"]] == [([], False)] * 5


# ----------------------------------------------------------------------------- the rules, levels, keys
RULES_JS = """async () => {
  const { PracticeSession } = await import('/web/practice.js');
  const session = new PracticeSession(['HELLO', 'HI']);
  session.tick(1000);
  const kinds = [['H', 2000], ['del', 2100], ['E', 3000], ['space', 3100], ['L', 4000], ['S', 5000],
    ['nothing', 5100], ['L', 6000], ['O', 7000], ['H', 8000], ['J', 9000], ['I', 10000], ['X', 11000]]
    .map(([cls, t]) => session.commit(cls, t).kind);
  const skipping = new PracticeSession(['AB', 'OO', 'OK'], 'short');
  skipping.tick(0);
  const doubles = [];
  for (const [cls, t] of [['A', 100], [null, 200], ['O', 300], ['O', 400], ['O', 500], [null, 600]]) {
    if (cls === null) skipping.skip(t);
    else skipping.commit(cls, t);
    doubles.push(skipping.double);
  }
  return { kinds, state: session.state(), skipped: skipping.state(), doubles };
}"""


@needs_page
def test_session_rules(page) -> None:
    """Right letters move on, misses are kept, del/space/nothing and letters after the end are
    ignored; skipping a word leaves its letters undone; double letters are told apart."""
    got = page.evaluate(RULES_JS)
    assert got["kinds"] == ["right", "ignored", "right", "ignored", "right", "miss", "ignored", "right", "right",
                            "right", "miss", "right", "ignored"]
    state = got["state"]
    assert state["finished"] and (state["word"], state["index"]) == ("HI", 1)
    assert [x["reads"] for x in state["words"][0]["letters"]] == [["H"], ["E"], ["L"], ["S", "L"], ["O"]]
    assert [x["reads"] for x in state["letters"]] == [["H"], ["J", "I"]]
    assert (state["startedMs"], state["finishedMs"]) == (1000, 10000)
    summary = state["summary"]
    assert (summary["seconds"], summary["letters"], summary["right"], summary["firstTry"]) == (9, 7, 7, 5)
    assert summary["rightPerMinute"] == pytest.approx(7 / 9 * 60)
    assert summary["hardest"] == [{"letter": "I", "misses": 1, "readAs": ["J"]}, {"letter": "L", "misses": 1, "readAs": ["S"]}]
    skipped = got["skipped"]
    assert [w["skipped"] for w in skipped["words"]] == [True, False, True]
    assert skipped["finished"] and skipped["finishedMs"] == 600 and skipped["word"] == "OK"
    assert [[x["done"] for x in w["letters"]] for w in skipped["words"]] == [[True, False], [True, True], [True, False]]
    assert (skipped["summary"]["right"], skipped["summary"]["skipped"]) == (4, 2)
    assert skipped["summary"]["hardest"] == [{"letter": "B", "misses": 1, "readAs": []},
                                             {"letter": "K", "misses": 1, "readAs": []}]
    # OO's second O follows its first, and OK's O follows OO's last O: both need a release.
    assert got["doubles"] == [False, False, True, True, False, False]


LEVELS_JS = """async () => {
  const p = await import('/web/practice.js');
  const { lists } = await (await fetch('/practice.json')).json();
  const bad = [];
  for (const text of ['', 'HI5', 'A B', ',']) {
    try { p.parseWords(text); } catch (err) { bad.push(err.message); }
  }
  return { lists, levels: p.LEVELS.map((l) => l.id), letters: p.levelWords('letters', lists),
    shuffled: p.levelWords('shuffled', lists), short: p.levelWords('short', lists),
    names: p.levelWords('names', lists), parsed: p.parseWords(' hello,, World '), bad };
}"""


@needs_page
def test_levels_and_word_lists(page) -> None:
    got = page.evaluate(LEVELS_JS)
    assert got["lists"] == json.loads(web_server.practice_bytes(web_server.PRACTICE_WORDS))["lists"]
    assert set(got["lists"]) == {"short", "long", "names"}
    assert got["levels"] == ["letters", "shuffled", "short", "long", "names"]
    alphabet = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    assert got["letters"] == alphabet and sorted(got["shuffled"]) == alphabet
    for level in ("short", "names"):
        assert len(set(got[level])) == 5 and set(got[level]) <= set(got["lists"][level])
    assert got["parsed"] == ["HELLO", "WORLD"]
    assert len(got["bad"]) == 4 and all(m.startswith("?practice=") for m in got["bad"])


@needs_page
def test_keys_live_region_and_history(playwright, server: str) -> None:
    """Start, skip, next level and reset from the keyboard, each said in the live region; a
    finished session's summary and its history entry, kept in localStorage only."""
    with browser_session.browser(playwright) as browser:
        page = browser_session.open_page(browser, browser_session.with_query(server, practice="AB"))
        said = lambda: page.inner_text("#practice-feedback")  # noqa: E731
        assert page.get_attribute("#practice-feedback", "aria-live") == "polite"
        assert said() == "Your words. AB: sign A."
        assert page.input_value("#practice-level") == "custom"
        page.keyboard.press("s")
        assert said().startswith("Skipped AB. Finished: 0 of 2 letters right")
        assert page.evaluate("asl.practice.finished") and page.is_visible("#practice-summary")
        assert page.inner_text("#summary-first") == "0 of 2"
        history = page.evaluate("JSON.parse(localStorage.getItem('asl-practice-history'))")
        assert [(h["words"], h["right"], h["letters"]) for h in history] == [(["AB"], 0, 2)]
        page.keyboard.press("r")
        assert said() == "Your words. AB: sign A." and not page.evaluate("asl.practice.finished")
        page.keyboard.press("l")
        assert said() == "Letters A–Z, in order. Sign A." and page.input_value("#practice-level") == "letters"
        assert page.evaluate("asl.practice.level") == "letters" and page.evaluate("asl.practice.words.length") == 26
        page.keyboard.press("s")
        assert said() == "Skipped A. Sign B."
        page.keyboard.press("l")
        assert page.evaluate("asl.practice.level") == "shuffled"
        page.keyboard.press("p")  # to spelling: practice keys do nothing there
        assert page.is_hidden("#practice-panel") and page.get_attribute("#tab-spell", "aria-selected") == "true"
        before = page.evaluate("asl.practice")
        page.keyboard.press("s")
        assert page.evaluate("asl.practice") == before
        page.keyboard.press("p")
        page.select_option("#practice-level", "names")  # leaves the picker focused: Enter there starts it
        page.keyboard.press("Enter")
        assert page.evaluate("asl.practice.level") == "names" and page.evaluate("asl.practice.words.length") == 5
        page.click("#practice-history summary")
        page.click("#practice-forget")
        assert page.evaluate("localStorage.getItem('asl-practice-history')") is None
        assert page.inner_text("#history-empty") == "No finished session yet."
        assert_loopback_only(page, server)


# ----------------------------------------------------------------------------- the landmarker's delegate
RENDERER_JS = """() => {
  const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
  const info = gl && gl.getExtension('WEBGL_debug_renderer_info');
  return info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : null;
}"""


@needs_page
def test_the_landmarker_runs_on_the_gpu_only_where_it_helps(playwright, server: str) -> None:
    """By default the GPU delegate where WebGL runs on a GPU, else the CPU with the reason shown;
    ?delegate=cpu forces the CPU, a value the page does not know is said so."""
    with browser_session.browser(playwright) as browser:
        page = browser_session.open_page(browser, server, delegate=None)
        renderer = page.evaluate(RENDERER_JS)
        software = renderer is None or any(s in renderer.lower() for s in ("swiftshader", "llvmpipe", "software"))
        delegate = page.evaluate("asl.delegate")
        if software:
            assert delegate == {"name": "CPU", "reason": f"WebGL runs in software here ({renderer}), slower than the CPU"} \
                or renderer is None and delegate["reason"] == "this browser offers no WebGL2"
        else:
            assert delegate == {"name": "GPU", "reason": None}
        assert page.inner_text("#delegate") == delegate["name"] + (f" ({delegate['reason']})" if delegate["reason"] else "")
        for asked, reason in (("cpu", "?delegate=cpu"), ("fast", "?delegate=fast is neither cpu nor gpu")):
            page = browser_session.open_page(browser, server, delegate=asked)
            assert page.evaluate("asl.delegate") == {"name": "CPU", "reason": reason}
            assert page.evaluate("asl.error") is None


@needs_page
def test_the_gpu_delegate_reads_frames(playwright, server: str) -> None:
    """?delegate=gpu: both landmarkers made on the GPU delegate (here WebGL in software, ~1 s a
    frame) read the camera's frames."""
    with browser_session.browser(playwright) as browser:
        page = browser_session.open_page(browser, server, delegate="gpu")
        assert page.evaluate("asl.delegate") == {"name": "GPU", "reason": None}
        wait_for(page, "asl.last !== null && asl.last.frame >= 1", 90)
        assert page.evaluate("asl.error") is None


# ----------------------------------------------------------------------------- files and commands
def test_practice_word_lists_are_checked(tmp_path: Path) -> None:
    (tmp_path / "short.txt").write_text("# a comment\ncat\n\nDOG\n")
    assert json.loads(web_server.practice_bytes(tmp_path)) == {"lists": {"short": ["CAT", "DOG"]}}
    (tmp_path / "names.txt").write_text("ANNA\nJOSÉ\n")
    with pytest.raises(web_server.StartupError, match=r"names.txt:2: 'JOSÉ' is not a word of the letters A-Z"):
        web_server.practice_bytes(tmp_path)
    with pytest.raises(web_server.StartupError, match="no practice word list"):
        web_server.practice_bytes(tmp_path / "absent")


def test_reference_hands_are_normalised_and_medoids() -> None:
    rng = np.random.default_rng(0)
    hand = rng.normal(size=(21, 3))
    moved = hand * 3.0 + np.array([5.0, -2.0, 1.0])
    assert np.allclose(reference_hands.canonical(moved, "Right"), reference_hands.canonical(hand, "Right"))
    mirrored = reference_hands.canonical(hand * np.array([-1.0, 1.0, 1.0]), "Left")
    assert np.allclose(mirrored, reference_hands.canonical(hand, "Right"))
    hands = np.stack([hand + rng.normal(0, s, hand.shape) for s in (0.3, 0.01, 0.3, 0.5)])
    assert reference_hands.medoid(hands) == 1  # the one nearest the others
    points = np.asarray(reference_hands.drawing(reference_hands.canonical(hand, "Right")))
    assert points.shape == (21, 2) and points.min() >= 0 and points.max() <= 1
    assert max(np.ptp(points, axis=0)) == pytest.approx(1, abs=1e-3)  # the longer side fills the square
    assert points[0, 0] - points[1, 0] == pytest.approx(-(hand[0, 0] - hand[1, 0]) / max(np.ptp(hand[:, :2], axis=0)),
                                                        abs=2e-3)  # mirrored


def test_the_shipped_references_cover_every_letter() -> None:
    shipped = json.loads(reference_hands.OUT.read_text())
    assert sorted(shipped["letters"]) == [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    for letter, entry in shipped["letters"].items():
        points = np.asarray(entry["points"])
        assert points.shape == (21, 2) and points.min() >= 0 and points.max() <= 1, letter
        assert entry["photo"].split("/")[:2] in [c.split("/") for c in shipped["licences"]], letter
    assert shipped["licences"] == reference_hands.COLLECTIONS
    assert reference_hands.OUT.stat().st_size < 16_000


@needs_data
def test_the_references_are_what_the_command_writes(tmp_path: Path) -> None:
    """One letter rebuilt from the data gives the shipped letter; the command's one-line error."""
    rebuilt = reference_hands.build(SHARED_DATA, letters="L")["letters"]["L"]
    assert rebuilt == json.loads(reference_hands.OUT.read_text())["letters"]["L"]
    run = subprocess.run([sys.executable, str(REPO / "export.py"), "--references", str(tmp_path / "r.json"),
                          "--references-data", str(tmp_path / "absent")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "not found" in run.stderr
    assert not (tmp_path / "r.json").exists()
