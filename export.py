"""Export a trained checkpoint to ONNX for torch-free inference (onnx_classifier.py).

    python export.py [--weights keypoint_model_L_cnn_50.pth] [--out keypoint_model_L_cnn_50.onnx] [--opset 17]
    python export.py --references [web/references.json] [--references-data ../shared/data]

Writes OUT (default: the .onnx beside the weights, same stem, which main.py and evaluate.py run;
opset 17, the default, runs on ONNX Runtime >= 1.13) with the checkpoint's classes, feature
version, temperature and sha256 in its metadata, and class_mapping.txt beside it when absent.  The
export is checked against PyTorch (max |difference| <= 1e-5) before the file is renamed into place,
so a failed export never replaces a good one.  The graph and its checks: onnx_export.py.

--references exports for the page's practice mode instead: each letter's reference hand, the
medoid hand of that letter in licensed photo collections, as the skeleton the page draws
(dataset/reference_hands.py says how it is chosen and which collections it reads).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from classifiers import onnx_export
from classifiers.classifier import CheckpointError
from dataset import reference_hands
from hand import keypoints

# ----------------------------------------------------------------------------- settings
WEIGHTS = "keypoint_model_L_cnn_50.pth"
OUT = None  # None: the .onnx beside WEIGHTS, same stem (keypoint_model_L_cnn_50.onnx)
OPSET = onnx_export.OPSET
# the accepted difference to PyTorch (TOLERANCE) is set in onnx_export.py
REFERENCES_OUT = str(reference_hands.OUT)  # web/references.json, what --references writes when given no file
REFERENCES_DATA = str(reference_hands.DATA)  # ../shared/data, holding the collections the references are made from
# -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; defaults are the settings at the top of this file."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--weights", default=WEIGHTS, help="checkpoint from train.py")
    p.add_argument("--out", default=OUT,
                   help="ONNX file to write (None: the .onnx beside --weights; class_mapping.txt goes beside it)")
    p.add_argument("--opset", type=int, default=OPSET, help="ONNX opset version")
    p.add_argument("--references", nargs="?", const=REFERENCES_OUT, default=None, metavar="JSON",
                   help="write the practice page's reference hands to JSON instead of exporting the model "
                        f"(no file given: {REFERENCES_OUT})")
    p.add_argument("--references-data", default=REFERENCES_DATA,
                   help="the data folder holding the collections the reference hands are made from")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Export; returns the exit code (2 with a one-line message for unusable weights)."""
    args = parse_args(argv)
    if args.references:
        return export_references(args.references, args.references_data)
    out = Path(args.out) if args.out else onnx_export.beside(args.weights)
    try:
        difference = onnx_export.export(Path(args.weights), out, args.opset)
    except CheckpointError as err:
        print(f"export.py: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out} (opset {args.opset}; max |ONNX - PyTorch| {difference:.1e})")
    return 0


def export_references(out: str, data: str) -> int:
    """Write the reference hands; returns the exit code (2 with a one-line message for missing data)."""
    try:
        references = reference_hands.build(data)
        reference_hands.write(out, references)
    except (reference_hands.ReferenceError, keypoints.HandModelError, OSError) as err:
        print(f"export.py: error: {err}", file=sys.stderr)
        return 2
    chosen = ", ".join(f"{letter}: {entry['photo']}" for letter, entry in references["letters"].items())
    print(f"wrote {out} (the medoid hand of each letter; from {chosen})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
