"""A checkpoint as an ONNX graph for torch-free inference (onnx_classifier.py): written by export.py.

The graph maps the model inputs (`keypoints.model_inputs`: features (batch, 6, 21), the gesture
embedder's hand (batch, 21, 3) and right-hand probability (batch, 1), float32; those the model
uses) -> logits (batch, classes) and, for a one-head model, its hidden layer (batch, hidden: what
adaptation.py corrects), with a dynamic batch axis; dropout is off and BatchNorm is
folded into the convolutions.  The pretrained embedder is inside the graph.  The metadata_props
carry `classes` (JSON list), `feature_version`, `temperature` and `checkpoint_sha256` (of the .pth
file's bytes), which OnnxClassifier checks; class_mapping.txt is written beside the output when
absent.  The export is checked against PyTorch (max |difference| <= TOLERANCE) before the file is
renamed into place, so a failed export never replaces a good one.  `beside` names the export of a
checkpoint: the same stem, `.onnx` (what train.py, personalize.py and export.py write by default).
"""
from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from storage import atomic_files
from hand import keypoints
import model as model_lib
from classifiers.classifier import CheckpointError, default_class_mapping, read_class_mapping, write_class_mapping
from classifiers.onnx_classifier import CHECKPOINT_SHA256, HIDDEN, file_sha256

# ----------------------------------------------------------------------------- settings
OPSET = 17  # runs on ONNX Runtime >= 1.13
TOLERANCE = 1e-5  # max |ONNX Runtime - PyTorch| logit difference accepted
# -----------------------------------------------------------------------------
OUTPUT = "logits"


class _WithHidden(torch.nn.Module):
    """The model with its hidden layer as a second output (`LetterModel.with_hidden`)."""

    def __init__(self, net: model_lib.LetterModel) -> None:
        super().__init__()
        self.net = net

    def forward(self, features: torch.Tensor, hand: torch.Tensor, right: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.net.with_hidden(features, hand, right)


def outputs(net: model_lib.LetterModel) -> list[str]:
    """The graph's outputs: logits, and the hidden layer where the model has one head."""
    return [OUTPUT, HIDDEN] if net.has_hidden else [OUTPUT]


def example_inputs(n: int, seed: int = 0) -> keypoints.ModelInputs:
    """Model inputs of `n` random hands (random landmarks, either handedness)."""
    rng = np.random.default_rng(seed)
    landmarks = rng.normal(size=(n, keypoints.NUM_LANDMARKS, 3)).astype(np.float32)
    return keypoints.model_inputs(landmarks, rng.random(n).astype(np.float32))


def to_onnx(net: model_lib.LetterModel, opset: int) -> onnx.ModelProto:
    """The eval-mode model as an ONNX graph with a dynamic batch axis (TorchScript-based exporter,
    which needs no extra package; the dynamo exporter would need onnxscript).  Its inputs are the
    model inputs the model uses (`keypoints.MODEL_INPUT_NAMES`), by name; its outputs `outputs(net)`."""
    names, out_names = list(keypoints.MODEL_INPUT_NAMES), outputs(net)
    example = tuple(torch.from_numpy(part) for part in example_inputs(2))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)  # unused inputs of a CNN-only model are dropped
        torch.onnx.export((net if len(out_names) == 1 else _WithHidden(net)).eval(), example, buffer, dynamo=False,
                          opset_version=opset, input_names=names, output_names=out_names,
                          dynamic_axes={name: {0: "batch"} for name in names + out_names})
    return onnx.load_from_string(buffer.getvalue())


def max_difference(net: model_lib.LetterModel, data: bytes, samples: int = 256) -> float:
    """Largest |difference| between ONNX Runtime and PyTorch on random hands, over every output."""
    import onnxruntime as ort
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    used = [i.name for i in session.get_inputs()]
    out_names = outputs(net)
    worst = 0.0
    for n in (1, samples):
        inputs = example_inputs(n, seed=n)
        with torch.inference_mode():
            tensors = tuple(torch.from_numpy(part) for part in inputs)
            expected = net.with_hidden(*tensors) if len(out_names) > 1 else (net(*tensors),)
        got = session.run(out_names, {name: getattr(inputs, name) for name in used})
        worst = max(worst, *(float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected)))
    return worst


def beside(weights: str | Path) -> Path:
    """The export of a checkpoint: beside it, the same stem, `.onnx`."""
    return Path(weights).with_suffix(".onnx")


def export(weights: Path, out: Path, opset: int = OPSET) -> float:
    """Write `out` (atomically) from a checkpoint; returns the checked max difference to PyTorch.
    Raises CheckpointError for bad weights, an `out` that is the checkpoint itself, a
    class_mapping.txt beside `out` that disagrees, or an export that does not match PyTorch."""
    net, payload = model_lib.load_checkpoint(weights, default_class_mapping(weights))
    if out.resolve() == weights.resolve():
        raise CheckpointError(f"the export would overwrite its checkpoint {weights}; choose another output")
    sha256 = file_sha256(weights)
    classes = list(payload["classes"])
    mapping = default_class_mapping(out)
    if mapping.is_file() and read_class_mapping(mapping) != classes:
        raise CheckpointError(f"{mapping} lists other classes than {weights}; export to another folder")
    proto = to_onnx(net, opset)
    meta = {"classes": json.dumps(classes), "feature_version": str(payload["feature_version"]),
            "temperature": repr(float(payload.get("meta", {}).get("temperature", 1.0))),
            "source_weights": weights.name, CHECKPOINT_SHA256: sha256}
    onnx.helper.set_model_props(proto, meta)
    proto.doc_string = ("ASL fingerspelling classifier: features (batch, 6, 21), hand (batch, 21, 3) and "
                        "right (batch, 1), as keypoints.model_inputs makes them -> logits (batch, classes) "
                        "[and hidden (batch, hidden), the head's last hidden layer]")
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    difference = max_difference(net, data)
    if difference > TOLERANCE:
        raise CheckpointError(f"the ONNX export differs from PyTorch by {difference:.2e} (> {TOLERANCE})")
    atomic_files.write_bytes(out, data, make_parents=True)
    if not mapping.is_file():
        write_class_mapping(mapping, classes)
    return difference
