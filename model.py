"""The 1D CNN over the 21 hand landmarks, and its checkpoint (the one source of truth for class
names, feature version and hyper-parameters)."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

import atomic_files
import keypoints
from classifier import CheckpointError, check_weights

DEFAULT_CONFIG: dict[str, Any] = {
    "in_channels": keypoints.FEATURE_CHANNELS,
    "length": keypoints.NUM_LANDMARKS,
    "channels": [32, 48, 64],
    "kernel_size": 3,
    "hidden": 64,
    "dropout": 0.2,
}


class KeypointCNN(nn.Module):
    """Conv1d blocks along the landmark axis (wrist, thumb, index, ... pinky), then a small MLP.

    Input: (batch, FEATURE_CHANNELS, 21) features from `keypoints.features`; output: logits.
    """

    def __init__(self, num_classes: int, in_channels: int = DEFAULT_CONFIG["in_channels"],
                 length: int = DEFAULT_CONFIG["length"], channels: list[int] = DEFAULT_CONFIG["channels"],
                 kernel_size: int = DEFAULT_CONFIG["kernel_size"], hidden: int = DEFAULT_CONFIG["hidden"],
                 dropout: float = DEFAULT_CONFIG["dropout"]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = in_channels
        for width in channels:
            layers += [nn.Conv1d(previous, width, kernel_size, padding=kernel_size // 2),
                       nn.BatchNorm1d(width), nn.ReLU()]
            previous = width
        self.conv = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(previous * (length // 2), hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(hidden, num_classes))
        self.pool = nn.MaxPool1d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of features."""
        return self.head(self.pool(self.conv(x)))


def build_model(num_classes: int, config: dict[str, Any] | None = None) -> KeypointCNN:
    """A model from a (partial) hyper-parameter dict; missing keys take DEFAULT_CONFIG."""
    return KeypointCNN(num_classes, **{**DEFAULT_CONFIG, **(config or {})})


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def save_checkpoint(path: str | os.PathLike, model: KeypointCNN, classes: list[str],
                    config: dict[str, Any], meta: dict[str, Any] | None = None) -> None:
    """Write model weights with everything needed to use them, atomically (temp file + rename)."""
    payload = {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "classes": list(classes), "feature_version": keypoints.FEATURE_VERSION,
               "model_config": {**DEFAULT_CONFIG, **config}, "meta": meta or {}}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_files.write_bytes(path, buffer.getvalue(), make_parents=True)


def load_checkpoint(path: str | os.PathLike, class_mapping: str | os.PathLike | None = None
                    ) -> tuple[KeypointCNN, dict[str, Any]]:
    """Load a checkpoint into an eval-mode model; check it against the code and, when given and
    present, a `class_mapping.txt`.  Raises CheckpointError saying what does not match."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path} (train one with `python train.py`)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # the weights-only unpickler raises IndexError, KeyError, ... on arbitrary bytes
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(err).__name__}); "
                              f"re-train or download it again") from None
    missing = [k for k in ("state_dict", "classes", "feature_version", "model_config")
               if not isinstance(payload, dict) or k not in payload]
    if missing:
        raise CheckpointError(f"{path} is not an ASL_Recognition checkpoint (missing {', '.join(missing)})")
    classes = list(payload["classes"])
    check_weights(path, payload["feature_version"], classes, class_mapping, "re-train with `python train.py`")
    try:
        model = build_model(len(classes), payload["model_config"])
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, TypeError) as err:
        raise CheckpointError(f"{path} weights do not fit its model_config: {str(err).splitlines()[0]}") from None
    model.eval()
    return model, payload
