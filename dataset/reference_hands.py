"""The practice page's reference hands (web/references.json): for each letter, the medoid hand of
that letter in licensed photo collections, as a 21-point skeleton the page draws.

    python export.py --references              # reads ../shared/data, writes web/references.json

Each photo is read as `preprocess.py` reads it (MediaPipe's hand landmarker, one hand, the
fallback borders).  Every hand is made a right hand (a hand MediaPipe labels 'Left' is mirrored),
moved so its wrist is at the origin and scaled by its mean wrist-to-point distance in the image
plane, as `hand.keypoints.features` does, but never rotated: a letter's orientation (G and H
sideways, P and Q down) is part of it.  The medoid of a letter is the hand with the smallest
summed distance (the mean distance between corresponding points, x, y and z) to all its other
hands: a real hand, the most typical one, not an average that no hand makes.  It is stored as
the page shows it, mirrored like a selfie camera (the signer's own view of a right hand), its x
and y fitted into the unit square.  Only the skeleton is stored, never a photo.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from dataset import dataset_layout as layout
from hand import keypoints, photo_readers
from storage import atomic_files

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"  # the shared data folder (../shared/data)
OUT = REPO / "web" / "references.json"
# The photo collections read (inside the data folder), each with its own MIT licence and not
# derived from another public set (their PROVENANCE.txt files): six signers, 640x480 webcam photos.
COLLECTIONS = {
    "more-signers/t32rahman": "MIT License, Copyright (c) 2023 Tamim Rahman (github.com/t32rahman/ASL-ML)",
    "more-signers/hands4all_saksham": "MIT License, Copyright (c) 2023 Saksham (github.com/sakshamsood3/Hands4All)",
    "more-signers/meyyappan_in": "MIT License, Copyright (c) 2025 Meyyappan-Dm "
                                 "(github.com/Meyyappan-Dm/sign-language-detector)",
    "more-signers/lolzorus_fr": "MIT License, Copyright (c) 2025 Lolzorus (github.com/Lolzorus/IA-et-apprentissage)",
    "more-signers/hawkcodesz": "MIT License, Copyright (c) 2024 HawkCodesZ (github.com/HawkCodesZ/SignLang.AI)",
    "more-signers/gunsai75": "MIT License, Copyright (c) 2023 Sai Ganesha (github.com/gunsai75/AI_capstone_SLR)",
}
DIGITS = 3  # decimals stored: a thousandth of the drawing's side


class ReferenceError(ValueError):
    """Unusable input (a missing folder, a letter with no hand); the message is one line."""


def canonical(landmarks: np.ndarray, handedness: str) -> np.ndarray:
    """A hand (21x3) as a right hand, wrist at the origin, scaled by its mean wrist-to-point
    distance in the image plane; never rotated."""
    lm = np.asarray(landmarks, np.float64).reshape(keypoints.NUM_LANDMARKS, 3).copy()
    if keypoints.is_left(handedness)[0]:
        lm[:, 0] *= -1.0
    lm -= lm[:1]
    return lm / np.linalg.norm(lm[1:, :2], axis=1).mean()


def medoid(hands: np.ndarray) -> int:
    """Index of the hand (of N canonical hands, Nx21x3) with the smallest summed distance to the
    others, a distance being the mean distance between corresponding points; the first on a tie."""
    distance = np.linalg.norm(hands[:, None] - hands[None], axis=3).mean(axis=2)
    return int(distance.sum(axis=1).argmin())


def drawing(hand: np.ndarray) -> list[list[float]]:
    """A canonical hand as the page draws it: x and y only, mirrored (the signer's own view of a
    right hand), fitted into the unit square and centred, rounded to DIGITS decimals."""
    xy = hand[:, :2] * np.array([-1.0, 1.0])
    low, high = xy.min(axis=0), xy.max(axis=0)
    side = float((high - low).max())
    fitted = (xy - low) / side + (1.0 - (high - low) / side) / 2
    return [[round(float(x), DIGITS), round(float(y), DIGITS)] for x, y in fitted]


def letter_photos(data: Path, collections: Iterable[str], letters: str) -> list[tuple[str, Path]]:
    """(letter, photo) for every photo of `letters` in the collections, sorted; ReferenceError
    for a collection that is not there."""
    photos = []
    for name in collections:
        root = data / name
        if not root.is_dir():
            raise ReferenceError(f"{root} not found (the reference hands are made from it)")
        entries, _ = layout.list_entries(layout.Source(name, root))
        photos += [(e.label, e.path) for e in entries
                   if e.label in letters and e.path.suffix.lower() in layout.IMAGE_EXTENSIONS]
    return photos


def build(data: str | os.PathLike = DATA, collections: dict[str, str] = COLLECTIONS,
          letters: str = "".join(layout.LETTERS), workers: int = 1) -> dict:
    """The references object: per letter its drawing, the photo its medoid hand comes from and
    how many hands it was chosen among; the licences of the collections and how it was made."""
    data = Path(data)
    if not data.is_dir():
        raise ReferenceError(f"data folder {data} not found (give it with --references-data)")
    photos = letter_photos(data, collections, letters)
    hands: dict[str, list[tuple[np.ndarray, Path]]] = {c: [] for c in letters}
    keypoints.resolve_hand_model()
    for index, readings in photo_readers.detect_files([str(p) for _, p in photos], workers=workers):
        found = [hand for reading in readings or [] for hand in reading.hands]
        if found:
            letter, path = photos[index]
            hands[letter].append((canonical(found[0].landmarks, found[0].handedness), path))
    out = {}
    for letter in letters:
        if not hands[letter]:
            raise ReferenceError(f"no hand found in any photo of {letter}")
        chosen = sorted(hands[letter], key=lambda item: str(item[1]))  # completion order varies with workers
        best = medoid(np.stack([hand for hand, _ in chosen]))
        out[letter] = {"points": drawing(chosen[best][0]), "photo": chosen[best][1].relative_to(data).as_posix(),
                       "among": len(chosen)}
    return {"about": "Reference hands for the practice page: each letter's medoid hand in the collections "
                     "below, drawn as the signer sees their right hand in a mirror (x right, y down, unit square). "
                     "Made by `python export.py --references` (dataset/reference_hands.py).",
            "licences": dict(collections), "letters": out}


def write(path: str | os.PathLike, references: dict) -> None:
    """The references as JSON, one letter a line, written atomically."""
    letters = references["letters"]
    head = {k: v for k, v in references.items() if k != "letters"}
    lines = [f" {json.dumps(letter)}: {json.dumps(entry, separators=(',', ':'))}" for letter, entry in letters.items()]
    text = json.dumps(head, indent=1)[:-2] + ',\n "letters": {\n' + ",\n".join(lines) + "\n }\n}\n"
    json.loads(text)  # a malformed file is never written
    atomic_files.write_text(path, text)
