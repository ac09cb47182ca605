"""Landmarks in, letter probabilities out: the trained model behind one small interface used by
evaluate.py and main.py.  A `.pth` checkpoint runs in PyTorch; a `.onnx` export (export.py) runs in
ONNX Runtime without importing torch.  `load_classifier` picks the back-end; the shared interface
and checks live in classifier_base.py and are re-exported here, so callers need only this module."""
from __future__ import annotations

import os

import numpy as np

from hand import keypoints
from classifiers.classifier_base import (CheckpointError, Classifier, check_weights, combine_views, default_class_mapping,
                             read_class_mapping, write_class_mapping)

__all__ = ["CheckpointError", "Classifier", "TorchClassifier", "check_weights", "combine_views",
           "default_class_mapping", "load_classifier", "read_class_mapping", "write_class_mapping"]


class TorchClassifier(Classifier):
    """A PyTorch checkpoint from train.py."""

    def __init__(self, path: str | os.PathLike, class_mapping: str | os.PathLike | None = None) -> None:
        import torch
        from model import load_checkpoint
        # Batches here are one frame's hands: a second intra-op thread only waits for a core that
        # MediaPipe is using (benchmark.py measured 80 ms vs 0.15 ms per call on 2 busy cores).
        torch.set_num_threads(1)
        self._torch = torch
        self.model, self.checkpoint = load_checkpoint(path, class_mapping)
        super().__init__(list(self.checkpoint["classes"]),
                         float(self.checkpoint.get("meta", {}).get("temperature", 1.0)))

    def logits(self, inputs: keypoints.ModelInputs) -> np.ndarray:
        with self._torch.inference_mode():
            return self.model(*self._tensors(inputs)).numpy()

    @property
    def can_adapt(self) -> bool:
        return self.model.has_hidden

    def logits_and_hidden(self, inputs: keypoints.ModelInputs) -> tuple[np.ndarray, np.ndarray]:
        with self._torch.inference_mode():
            logits, hidden = self.model.with_hidden(*self._tensors(inputs))
        return logits.numpy(), hidden.numpy()

    def _tensors(self, inputs: keypoints.ModelInputs) -> list:
        return [self._torch.from_numpy(np.ascontiguousarray(part)) for part in inputs]


def load_classifier(weights: str | os.PathLike, class_mapping: str | os.PathLike | None = None) -> Classifier:
    """Load `.pth` (PyTorch) or `.onnx` (ONNX Runtime) weights, checked against the
    `class_mapping.txt` beside them.  Raises CheckpointError with a one-line message."""
    mapping = class_mapping if class_mapping is not None else default_class_mapping(weights)
    if str(weights).lower().endswith(".onnx"):
        from classifiers.onnx_classifier import OnnxClassifier
        return OnnxClassifier(weights, mapping)
    return TorchClassifier(weights, mapping)
