"""The live path's command-line flags, shared by main.py and web.py with each script's defaults."""
from __future__ import annotations

import argparse

from realtime.recogniser import MOTION_LETTERS, MOTION_MS


def add_flags(p: argparse.ArgumentParser, max_hands: int, threshold: float, hold: float, gap_ms: float,
              smooth_ms: float, word_pause: float, adapt: bool, move_threshold: float,
              motion_letters: bool = MOTION_LETTERS) -> None:
    """The live path's flags (main.py and web.py), with the script's defaults."""
    p.add_argument("--max-hands", type=int, default=max_hands, help="hands detected per frame")
    p.add_argument("--threshold", type=float, default=threshold, help="min smoothed confidence for a letter")
    p.add_argument("--hold", type=float, default=hold,
                   help="seconds a letter is held to add it to the text (from when the hand came to rest)")
    p.add_argument("--gap-ms", type=float, default=gap_ms,
                   help="dips shorter than this (ms) do not restart a letter's hold")
    p.add_argument("--smooth-ms", type=float, default=smooth_ms, help="smoothing window in milliseconds")
    p.add_argument("--move-threshold", type=float, default=move_threshold,
                   help=f"palm sizes the hand must move within {MOTION_MS:g} ms to end a sign (one letter per "
                        f"held sign; a new letter, or a double letter, needs that much movement or the hand lowered)")
    p.add_argument("--word-pause", type=float, default=word_pause,
                   help="seconds with no hand that end a word (and add its space)")
    p.add_argument("--adapt", action=argparse.BooleanOptionalAction, default=adapt,
                   help="learn the signer's hand from the words they spell (each word the lexicon, a suggestion "
                        "or undo confirms teaches the model its letters as signed)")
    p.add_argument("--motion-letters", action=argparse.BooleanOptionalAction, default=motion_letters,
                   help="on streams, read J and Z from the hand's motion (photos keep the single-frame reading)")


def check_flags(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit with a usage error for live-path flags out of range (`add_flags`)."""
    if args.hold < 0 or args.gap_ms < 0 or args.smooth_ms < 0 or args.word_pause <= 0 or args.move_threshold <= 0:
        p.error("--hold, --gap-ms and --smooth-ms must be >= 0, --word-pause and --move-threshold > 0")
    if args.max_hands < 1:
        p.error("--max-hands must be >= 1")
