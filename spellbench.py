"""Spelling benchmark: words spelled from each signer's photos, played through the live path.

    python spellbench.py [--data ../shared/data] [--fold-models DIR | --weights PATH] [--holds 1.0 0.6 0.4 0.3]
                         [--gaps-ms 150] [--signers NAME ...] [--jobs 2] [--json OUT.json]

For each signer (a collection of photos), hold time and gap: dictionary words and names/codes
(words/*.txt) become streams (spelling_streams.py: each letter a photo held for hold + SLACK_S,
a release only between double letters, a pause after each word), played frame by frame at FPS
through recogniser.Recogniser exactly as main.py runs a camera (VIDEO-mode tracking, one view,
smoothing, hold-to-commit, the word pause, the lexicon).  Then idle stretches (no hand, the
signer's `nothing` photos) count false commits.  Scored per signer and overall, for the letters
as committed (no lexicon) and as shown (--lexicon), from the same run: word accuracy, character
error rate (missed, wrong and extra letters), letters per minute (right letters per minute of
stream) and false commits per idle minute.  Names are decoded with the benchmark's names taken
out of the lexicon (most are in the English list, and a user's own name often is not), so the
names figure says whether the lexicon keeps a name it does not know; --known-names keeps them
in.  The JSON keeps every word's committed letters with their probabilities, so a lexicon
setting can be compared without playing the streams again.  With --fold-models
(crossval.py --keep-models DIR), each signer is spelled by the model trained without its
collection: a new person's figure.  Running again with more signers, holds or gaps and the same
--json plays only what is new; --rescore EARLIER.json decodes an earlier run's committed letters
again (another --lexicon or word_decoder.py setting) without playing anything.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from storage import atomic_files
from realtime import recogniser as live
from storage.finished_runs import Finished
from bench.spelling_scores import KINDS, PICKED, tables
from spelling.confusion_channel import SHIPPED as SHIPPED_CHANNEL
from bench.spelling_streams import WORD_LISTS, Player, find_signers, frames_at, pick_words, read_words

# ----------------------------------------------------------------------------- settings
DATA_DIRS = ["../shared/data"]
SIGNERS: list[str] = []  # empty: every collection of photos
WEIGHTS = str(Path(__file__).with_name("keypoint_model_L_cnn_50.onnx"))
FOLD_MODELS = None  # crossval.py --keep-models DIR: spell each signer with the model that never saw it
HOLDS = [1.0, 0.6, 0.4, 0.3]  # seconds a letter is held to commit (main.py --hold; 0.3 is its default)
GAPS_MS = [live.GAP_MS]  # dips bridged while holding (main.py --gap-ms)
WORD_PAUSE = live.WORD_PAUSE  # seconds with no hand that end a word (main.py --word-pause)
THRESHOLD = live.THRESHOLD  # smoothed confidence below which no letter is shown or held (main.py --threshold)
MOVE_THRESHOLD = live.MOVE_THRESHOLD  # palm sizes the hand moves that end a sign (main.py --move-threshold)
TRANSITIONS_MS = None  # e.g. (100, 300): the hand moves between letters for a time in this range (simulated)
LEXICON = "en"  # main.py --lexicon
CHANNEL = str(SHIPPED_CHANNEL)  # main.py --channel; each signer is decoded without its own collection's counts
SIGNER_SWAPS = True  # with a channel, learn the signer's own swaps from their words as main.py does (off: the channel alone)
ADAPT = live.ADAPT  # main.py --adapt: the signer's confirmed words teach the model their hand
MOTION_LETTERS = live.MOTION_LETTERS  # main.py --motion-letters: J and Z from the hand's motion
PICKS = False  # a user who puts a wrong word right with the keys: a suggestion (1/2/3) or undo (u)
KNOWN_NAMES = False  # decode names with the lexicon as it is (default: the benchmark's names taken out of it)
WORDS = 12  # dictionary words per signer
NAMES = 8  # names and codes per signer
FPS = 15.0  # frames per second of the streams
SLACK_S = 0.4  # each letter is shown for hold + this (the smoothed letter turns ~0.15-0.2 s after the sign)
RELEASE_S = 0.5  # no hand between double letters
PAUSE_MARGIN_S = 0.3  # the pause after a word lasts the word pause + this
IDLE_S = 20.0  # seconds of each idle stretch (no hand; the signer's `nothing` photos)
IDLE_PHOTO_S = 2.0  # each `nothing` photo is shown this long
SEED = 0
JOBS = 1  # signers played at once (one thread each)
# -----------------------------------------------------------------------------


def fix_word(text: Any, word: str, start: int) -> bool:
    """The --picks user: when the text from `start` on (this word's) is not `word`, undo a
    correction of letters that were right (main.py's key u) or take `word` from the last finished
    word's suggestions (key 1/2/3); True if a key was pressed."""
    last = text.last
    if text.text[start:].strip() == word or last is None or last.start < start:
        return False
    if last.letters == word:
        return text.undo()
    return word in last.suggestions and text.choose(last.suggestions.index(word))


def play_signer(signer: Any, weights: str, hold: float, gap_ms: float, args: argparse.Namespace) -> dict[str, Any]:
    """One signer's words and idle stretches through the live path; the raw outcome."""
    import torch

    from hand import keypoints
    from classifiers.classifier import load_classifier
    from classifiers.motion_letters import MotionModel
    from spelling.text_entry import TextEntry
    torch.set_num_threads(1)
    clf = load_classifier(weights)
    decoders = kind_decoders(args.lexicon, clf.classes, args.known_names, args.channel, signer.name, args.signer_swaps)
    finished: list[dict[str, Any]] = []  # each finished word's letters and their probabilities
    text = TextEntry(decoders["dictionary"],
                     on_word=lambda _: finished.append({"letters": text.last.letters, "probs": [
                         None if p is None else np.round(p, 4).tolist() for p in text.last.probs],
                         "times": [None if t is None else round(t, 1) for t in text.last.times]}))
    out: dict[str, Any] = {"words": [], "idle": {}, "frames": 0}
    with contextlib.ExitStack() as stack:
        detector = stack.enter_context(keypoints.HandDetector(args.hand_model, mode="video", max_hands=live.MAX_HANDS))
        photo_detector = None  # each photo's hand, for --transitions and J/Z motions (a landmarker of its own)
        if args.transitions or args.motion_letters:
            photo_detector = stack.enter_context(keypoints.HandDetector(args.hand_model, mode="image", max_hands=1))
        player = Player(signer, args.seed, photo_detector)
        recogniser = live.Recogniser(detector, clf, threshold=args.threshold, hold_s=hold, gap_ms=gap_ms,
                                     word_pause_s=args.word_pause, text=text, reacquire=args.reacquire,
                                     last_resort=args.last_resort, adapt=args.adapt,
                                     move_threshold=args.move_threshold,
                                     motion_model=MotionModel.load() if args.motion_letters else None)
        t_ms = 0.0
        for kind, count in zip(KINDS, (args.words, args.names)):
            text.decoder = decoders[kind]
            for word in pick_words(signer, kind, count, args.seed):
                frames = player.word(word, hold + args.slack, args.release, args.word_pause + args.pause_margin,
                                     args.transitions, args.motion_letters)
                shown, letters, motion = len(text.text), len(text.letters), []
                for frame, t_ms in frames_at(frames, args.fps, t_ms):
                    if isinstance(frame, list):  # a transition or motion: the landmarks, as the tracker gives them
                        result = recogniser.process_hands(frame, t_ms)
                    else:
                        result = recogniser.process(frame, t_ms)
                    if result.motion is not None:
                        motion.append(result.motion)
                    out["frames"] += 1
                t_ms += 1000.0 / args.fps
                out["words"].append({"kind": kind, "word": word, "seconds": sum(s for _, s in frames),
                                     "letters": text.letters[letters:].strip(), "lexicon": text.text[shown:].strip(),
                                     "finished": finished[:], "motion": motion})
                if args.picks:
                    fix_word(text, word, shown)
                    out["words"][-1][PICKED] = text.text[shown:].strip()
                finished.clear()
        for kind, frames in player.idle(args.idle, IDLE_PHOTO_S):
            commits, motion = [], []
            for rgb, t_ms in frames_at(frames, args.fps, t_ms):
                result = recogniser.process(rgb, t_ms)
                if result.committed is not None:
                    commits.append(result.committed)
                if result.motion is not None:
                    motion.append(result.motion)
                out["frames"] += 1
            t_ms += 1000.0 / args.fps
            out["idle"][kind] = {"seconds": sum(s for _, s in frames), "commits": commits, "motion": motion}
        recogniser.close()
    out["unreadable"] = player.unreadable
    out["classes"] = list(clf.classes)
    return out


def kind_decoders(lexicon: str, classes: Sequence[str], known_names: bool, channel: str,
                  signer: str, signer_swaps: bool = SIGNER_SWAPS) -> dict[str, Any]:
    """The word decoder (None without a lexicon) for each kind of word: names get the lexicon
    less the benchmark's names unless `known_names`.  Both share one memory of the signer's pace
    and, with a channel and `signer_swaps`, of their swaps, as main.py's one decoder has; the
    channel leaves out the signer's own collection (a new person's)."""
    from spelling.confusion_channel import SignerSubstitutions, load_channel
    from spelling.lexicon import load_lexicon
    from spelling.word_decoder import LetterPace, WordDecoder
    words = load_lexicon(lexicon)
    if words is None:
        return dict.fromkeys(KINDS)
    names = words if known_names else words.without(read_words(WORD_LISTS["names"]))
    confusions = load_channel(channel, exclude=(signer,))
    swaps = SignerSubstitutions() if confusions is not None and signer_swaps else None
    pace = LetterPace()
    return {kind: WordDecoder(w, classes, channel=confusions, signer=swaps, pace=pace)
            for kind, w in (("dictionary", words), ("names", names))}


def rescore(runs: dict[str, dict[str, Any]], lexicon: str, known_names: bool, channel: str,
            signer_swaps: bool = SIGNER_SWAPS) -> None:
    """Decode every finished word of `runs` again (in place) with `lexicon`, `channel` and the word
    decoder's settings now in force, exactly as text_entry.TextEntry does when a word ends (each
    signer's words in the order played, so the decoder learns their swaps as it did live)."""
    from dataset.dataset_layout import KAGGLE_CLASSES
    from spelling.text_entry import TextEntry
    for key, run in runs.items():
        decoders = kind_decoders(lexicon, tuple(run.get("classes", KAGGLE_CLASSES)), known_names, channel,
                                 key.split("/")[0], signer_swaps)
        for word in run["words"]:
            shown = []
            for finished in word["finished"]:
                text = TextEntry(decoders[word["kind"]])
                times = finished.get("times") or [None] * len(finished["letters"])  # runs before times were kept
                for letter, p, t in zip(finished["letters"], finished["probs"], times):
                    text.commit(letter, None if p is None else np.array(p, np.float32), t_ms=t)
                text.end_word(space=False)
                shown.append(text.text)
            word["lexicon"] = " ".join(shown)
            word.pop(PICKED, None)  # what the user took was among the earlier decoder's suggestions


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; defaults are the settings at the top of this file."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", nargs="+", default=DATA_DIRS, metavar="DIR", help="folders of class folders of photos")
    p.add_argument("--signers", nargs="*", default=SIGNERS, metavar="NAME", help="collections to play (default: all)")
    p.add_argument("--weights", default=WEIGHTS, help="one model for every signer (.pth or .onnx)")
    p.add_argument("--fold-models", default=FOLD_MODELS, metavar="DIR",
                   help="crossval.py --keep-models DIR: each signer spelled by the model trained without it")
    p.add_argument("--hand-model", default=None, help="hand_landmarker.task (None: found automatically)")
    p.add_argument("--holds", type=float, nargs="+", default=HOLDS, metavar="S", help="hold times to compare")
    p.add_argument("--gaps-ms", type=float, nargs="+", default=GAPS_MS, metavar="MS", help="--gap-ms values to compare")
    p.add_argument("--word-pause", type=float, default=WORD_PAUSE)
    p.add_argument("--threshold", type=float, default=THRESHOLD, help="main.py's --threshold")
    p.add_argument("--move-threshold", type=float, default=MOVE_THRESHOLD, help="main.py's --move-threshold")
    p.add_argument("--transitions", type=float, nargs=2, default=TRANSITIONS_MS, metavar=("MIN_MS", "MAX_MS"),
                   help="the hand moves between two letters for MIN_MS-MAX_MS (landmarks interpolated from one "
                        "photo's hand to the next: a simulation) instead of jumping")
    p.add_argument("--reacquire", action=argparse.BooleanOptionalAction, default=True,
                   help="look for a lost hand with borders (what main.py does; off: plain VIDEO-mode tracking)")
    p.add_argument("--last-resort", action=argparse.BooleanOptionalAction, default=True,
                   help="look for it at a lower confidence too (what main.py does; off: the borders only)")
    p.add_argument("--adapt", action=argparse.BooleanOptionalAction, default=ADAPT,
                   help="learn each signer's hand from the words they spell, as main.py --adapt")
    p.add_argument("--motion-letters", action=argparse.BooleanOptionalAction, default=MOTION_LETTERS,
                   help="read J and Z from the hand's motion, as main.py (the streams hold none: a J or Z read "
                        "from motion that the word does not need counts as a false one)")
    p.add_argument("--picks", action=argparse.BooleanOptionalAction, default=PICKS,
                   help="a user who puts a wrong word right when a key can: takes it from the suggestions "
                        "or undoes a correction of right letters (with --adapt this teaches adaptation); "
                        "scored as a third column")
    p.add_argument("--lexicon", default=LEXICON, metavar="none|en|FILE|en+FILE")
    p.add_argument("--channel", default=CHANNEL, metavar="FILE|none",
                   help="main.py's --channel (each signer decoded without its own collection's counts)")
    p.add_argument("--signer-swaps", action=argparse.BooleanOptionalAction, default=SIGNER_SWAPS,
                   help="with a channel, learn each signer's own swaps from their words, as main.py does "
                        "(off: the channel alone; what each part adds)")
    p.add_argument("--known-names", action=argparse.BooleanOptionalAction, default=KNOWN_NAMES,
                   help="decode names with the lexicon as it is (off: the benchmark's names taken out of it)")
    p.add_argument("--words", type=int, default=WORDS, help="dictionary words per signer")
    p.add_argument("--names", type=int, default=NAMES, help="names and codes per signer")
    p.add_argument("--fps", type=float, default=FPS)
    p.add_argument("--slack", type=float, default=SLACK_S, help="each letter is shown for hold + this (s)")
    p.add_argument("--release", type=float, default=RELEASE_S, help="no hand between double letters (s)")
    p.add_argument("--pause-margin", type=float, default=PAUSE_MARGIN_S, help="pause after a word: word pause + this")
    p.add_argument("--idle", type=float, default=IDLE_S, help="seconds of each idle stretch per signer")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--jobs", type=int, default=JOBS, help="signers played at once")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON (finished signers kept beside it)")
    p.add_argument("--rescore", metavar="EARLIER.json",
                   help="no streams: decode an earlier run's committed letters again with --lexicon")
    args = p.parse_args(argv)
    if args.jobs < 1 or args.fps <= 0 or min(args.holds) < 0 or min(args.gaps_ms) < 0 or args.word_pause <= 0:
        p.error("--jobs and --fps must be positive, --holds and --gaps-ms >= 0, --word-pause > 0")
    if args.move_threshold <= 0 or (args.transitions and not 0 < args.transitions[0] <= args.transitions[1]):
        p.error("--move-threshold must be > 0 and --transitions 0 < MIN_MS <= MAX_MS")
    problem = atomic_files.missing_folder({"--json": args.json})
    if problem:
        p.error(problem)
    return args


def read_json(path: str) -> dict[str, Any]:
    """An earlier --json output ({} when there is none or it cannot be read)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def fold_model(folder: Path, signer: str) -> str | None:
    """The model crossval.py --keep-models trained without `signer` (its first seed), if any."""
    found = sorted(folder.glob(f"{signer}-*/model.pth"))
    return str(found[0]) if found else None


def check_inputs(lexicon: str, channel: str, weights: set[str]) -> str | None:
    """Why the word list, the channel or a model cannot be used (one line), before any job starts."""
    from classifiers.classifier import CheckpointError, load_classifier
    from spelling.confusion_channel import load_channel
    from spelling.lexicon import load_lexicon
    try:
        load_lexicon(lexicon)
        load_channel(channel)
        for path in sorted(weights):
            load_classifier(path)
    except (FileNotFoundError, ValueError, CheckpointError, ImportError) as err:
        return str(err)
    return None


def main(argv: list[str] | None = None) -> int:
    """Play every signer at every setting; print the tables; returns the exit code."""
    args = parse_args(argv)
    if args.rescore:
        return main_rescore(args)
    try:
        signers = find_signers(args.data, args.signers)
    except (FileNotFoundError, ValueError) as err:
        print(f"spellbench.py: error: {err}", file=sys.stderr)
        return 2
    unknown = sorted(set(args.signers) - {s.name for s in signers})
    if unknown or not signers:
        print(f"spellbench.py: error: no photos of {', '.join(unknown) or 'any signer'} in {' '.join(args.data)}",
              file=sys.stderr)
        return 2
    if args.fold_models and not Path(args.fold_models).is_dir():
        print(f"spellbench.py: error: --fold-models {args.fold_models} is not a folder", file=sys.stderr)
        return 2
    if not args.fold_models and not Path(args.weights).is_file():
        print(f"spellbench.py: error: weights file not found: {args.weights}", file=sys.stderr)
        return 2
    models = {s.name: fold_model(Path(args.fold_models), s.name) if args.fold_models else args.weights
              for s in signers}
    for name in [n for n, m in models.items() if m is None]:
        print(f"warning: no fold model for {name} in {args.fold_models} (crossval.py --keep-models); skipped",
              file=sys.stderr)
    problem = check_inputs(args.lexicon, args.channel, {m for m in models.values() if m})
    if problem:
        print(f"spellbench.py: error: {problem}", file=sys.stderr)
        return 2
    jobs = [(s, hold, gap) for hold in args.holds for gap in args.gaps_ms for s in signers if models[s.name]]
    settings = {k: v for k, v in vars(args).items() if k not in ("jobs", "json", "holds", "gaps_ms", "signers")}
    options = [repr(sorted(settings.items()))]
    done = Finished(Path(args.json + ".runs") if args.json else None, options)
    earlier = read_json(args.json) if args.json else {}
    if earlier.get("options") == options:  # a finished run with the same settings: play only what is new
        done.runs = {**earlier.get("runs", {}), **done.runs}
    todo = [job for job in jobs if done.get((job[0].name, job[1], job[2])) is None]
    if len(todo) < len(jobs):
        print(f"resuming: {len(jobs) - len(todo)} of {len(jobs)} runs already played ({done.path})", file=sys.stderr)
    try:
        run_jobs(todo, models, args, done)
    except KeyboardInterrupt:
        print(f"\ninterrupted; run the same command to continue ({done.path or 'nothing kept without --json'})",
              file=sys.stderr)
        return 130
    ordered = sorted(jobs, key=lambda job: (args.holds.index(job[1]), args.gaps_ms.index(job[2])))
    runs = {f"{s.name}/{hold}/{gap}": done.get((s.name, hold, gap)) for s, hold, gap in ordered}
    results = tables(runs, "fold models" if args.fold_models else args.weights)
    if args.json:
        atomic_files.write_json(args.json, {"settings": {**settings, "holds": args.holds, "gaps_ms": args.gaps_ms},
                                            "options": options, "models": models, "results": results,
                                            "runs": done.runs})
        done.clear()
    return 0


def main_rescore(args: argparse.Namespace) -> int:
    """--rescore: an earlier run's committed letters decoded again with --lexicon; no streams."""
    earlier = read_json(args.rescore)
    if "runs" not in earlier:
        print(f"spellbench.py: error: {args.rescore} is not a spellbench.py --json output", file=sys.stderr)
        return 2
    problem = check_inputs(args.lexicon, args.channel, set())
    if problem:
        print(f"spellbench.py: error: {problem}", file=sys.stderr)
        return 2
    from spelling import word_decoder
    rescore(earlier["runs"], args.lexicon, args.known_names, args.channel, args.signer_swaps)
    runs = dict(sorted(earlier["runs"].items(), key=lambda item: item[0].split("/", 1)[1]))
    results = tables(runs, f"rescored from {args.rescore}")
    if args.json:
        settings = {k: getattr(word_decoder, k) for k in ("PRIOR_WEIGHT", "OOV_LOG_PRIOR", "OOV_LENGTH",
                                                          "OOV_LOG_PER_LETTER", "MISSED_PENALTY", "EXTRA_PENALTY",
                                                          "MARGIN", "TOP_K", "BEAM", "CHANNEL_WEIGHT")}
        atomic_files.write_json(args.json, {**earlier, "rescored_from": args.rescore, "lexicon": args.lexicon,
                                            "channel": args.channel, "signer_swaps": args.signer_swaps,
                                            "known_names": args.known_names,
                                            "word_decoder": settings,
                                            "results": results})
    return 0


def run_jobs(todo: list[tuple[Any, float, float]], models: dict[str, str], args: argparse.Namespace,
             done: Finished) -> None:
    """Play the jobs (in --jobs processes), keeping each result as it finishes."""
    from tqdm import tqdm
    bar = tqdm(total=len(todo), unit="run", desc="spellbench", dynamic_ncols=True)
    if args.jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(play_signer, s, models[s.name], hold, gap, args): (s.name, hold, gap)
                       for s, hold, gap in todo}
            for future in as_completed(futures):
                done.add(futures[future], future.result())
                bar.update()
    else:
        for s, hold, gap in todo:
            done.add((s.name, hold, gap), play_signer(s, models[s.name], hold, gap, args))
            bar.update()
    bar.close()


if __name__ == "__main__":
    sys.exit(main())
