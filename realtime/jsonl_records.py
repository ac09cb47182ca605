"""main.py --jsonl: one JSON line per frame (`frame_record`) and one after the last (`end_record`)."""
from __future__ import annotations

import json

from realtime.recogniser import FrameResult
from spelling.text_entry import TextEntry


def frame_record(index: int, t_ms: float, result: FrameResult) -> str:
    """One JSONL line (main.py --jsonl): the frame, its time, each hand's letter (null below
    threshold), the text shown, the letters as committed, the last word's suggestions and the
    letters signer adaptation has learnt from (null without it)."""
    hands = [{"handedness": r.hand.handedness, "letter": r.prediction.letter,
              "confidence": None if r.prediction.confidence is None else round(r.prediction.confidence, 4)}
             for r in result.hands]
    return json.dumps({"frame": index, "time_ms": round(t_ms, 3), "hands": hands, "text": result.text,
                       "letters": result.letters, "suggestions": list(result.suggestions),
                       "adapted": result.adapted})


def end_record(text: TextEntry) -> str:
    """The JSONL line after the last frame: the text once the last word has ended."""
    return json.dumps({"end": True, "text": text.text, "letters": text.letters, "suggestions": list(text.suggestions)})
