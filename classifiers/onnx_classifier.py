"""The trained model exported by export.py, run with ONNX Runtime (no torch import: a smaller,
faster-starting live app).  Class names, feature version and temperature come from the ONNX
metadata written by export.py and are checked against the code and `class_mapping.txt`; the
checkpoint's sha256 recorded there is checked against the `.pth` of the same stem beside it, if any."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from hand import keypoints
from classifiers.classifier_base import CheckpointError, Classifier, check_weights

# ----------------------------------------------------------------------------- settings
THREADS = 1  # ONNX Runtime intra-op threads: 1 gives the lowest batch-1 latency (see benchmark.py)
# -----------------------------------------------------------------------------
METADATA_KEYS = ("classes", "feature_version", "temperature")
CHECKPOINT_SHA256 = "checkpoint_sha256"  # metadata key: sha256 of the .pth file the export was made from
HIDDEN = "hidden"  # the optional second output: the head's hidden layer (signer adaptation)


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_checkpoint_beside(path: Path, recorded: str | None) -> None:
    """Refuse an export that was not made from the `.pth` of the same stem beside it (when there is
    one), or that records no checkpoint sha256 while one is there.  Raises CheckpointError."""
    checkpoint = path.with_suffix(".pth")
    if not checkpoint.is_file():
        return
    fix = f"run: python export.py --weights {checkpoint}"
    if recorded is None:
        raise CheckpointError(f"{path} records no checkpoint sha256 (an older export) and {checkpoint.name} "
                              f"is beside it; {fix}")
    if recorded != file_sha256(checkpoint):
        raise CheckpointError(f"{path} was exported from another checkpoint than {checkpoint.name} beside it; {fix}")


class OnnxClassifier(Classifier):
    """An `.onnx` export of a checkpoint; `logits` runs in ONNX Runtime on the CPU."""

    def __init__(self, path: str | os.PathLike, class_mapping: str | os.PathLike | None = None,
                 threads: int = THREADS) -> None:
        import onnxruntime as ort
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"ONNX model not found: {path} (write one with `python export.py`)")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # ONNX Runtime's errors derive from Exception only
            raise CheckpointError(f"{path} is not a readable ONNX model ({str(err).splitlines()[0][:120]}); "
                                  f"export it again with `python export.py`") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        missing = [k for k in METADATA_KEYS if k not in meta]
        if missing:
            raise CheckpointError(f"{path} is not an ASL_Recognition export (metadata lacks {', '.join(missing)}); "
                                  f"export it with `python export.py`")
        check_checkpoint_beside(path, meta.get(CHECKPOINT_SHA256))
        classes = list(json.loads(meta["classes"]))
        check_weights(path, meta["feature_version"], classes, class_mapping,
                      "re-train with `python train.py` and export again")
        output = self.session.get_outputs()[0]
        if output.shape[-1] != len(classes):
            raise CheckpointError(f"{path} outputs {output.shape[-1]} scores but its metadata lists "
                                  f"{len(classes)} classes; export it again")
        self.input_names = [i.name for i in self.session.get_inputs()]
        unknown = sorted(set(self.input_names) - set(keypoints.MODEL_INPUT_NAMES))
        if unknown:
            raise CheckpointError(f"{path} takes inputs this code does not make ({', '.join(unknown)}); "
                                  f"export it again with `python export.py`")
        self.output_name = output.name
        self.hidden_name = HIDDEN if HIDDEN in [o.name for o in self.session.get_outputs()[1:]] else None
        self.feature_version = int(meta["feature_version"])
        self.checkpoint_sha256 = meta.get(CHECKPOINT_SHA256)  # of the .pth the export was made from
        super().__init__(classes, float(meta["temperature"]))

    def logits(self, inputs: keypoints.ModelInputs) -> np.ndarray:
        return self.session.run([self.output_name], self._feeds(inputs))[0]

    @property
    def can_adapt(self) -> bool:
        return self.hidden_name is not None

    def logits_and_hidden(self, inputs: keypoints.ModelInputs) -> tuple[np.ndarray, np.ndarray]:
        logits, hidden = self.session.run([self.output_name, self.hidden_name], self._feeds(inputs))
        return logits, hidden

    def _feeds(self, inputs: keypoints.ModelInputs) -> dict[str, np.ndarray]:
        named = inputs._asdict()
        return {name: np.ascontiguousarray(named[name], np.float32) for name in self.input_names}
