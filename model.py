"""The letter model: the 1D CNN over the 21 hand landmarks, fused with Google's pretrained gesture
embedding; and its checkpoint (the one source of truth for class names, feature version and
hyper-parameters)."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from storage import atomic_files
from hand import gesture_embedder
from hand import keypoints
from classifiers.classifier_base import CheckpointError, check_weights

INPUTS = ("cnn", "embedding", "fused", "ensemble")  # what the letter heads see (see LetterModel)
DEFAULT_CONFIG: dict[str, Any] = {
    "inputs": "fused",
    "in_channels": keypoints.FEATURE_CHANNELS,
    "length": keypoints.NUM_LANDMARKS,
    "channels": [32, 48, 64],
    "kernel_size": 3,
    "hidden": 64,
    "dropout": 0.2,
}
LEGACY_INPUTS = "cnn"  # checkpoints saved before the embedder existed hold no "inputs"


class ScaledDense(nn.Linear):
    """Batch norm folded to a per-channel `scale` and `shift`, SiLU, then a dense layer: the
    gesture embedder's repeated unit."""

    def __init__(self, width: int) -> None:
        super().__init__(width, width)
        self.scale = nn.Parameter(torch.ones(width))
        self.shift = nn.Parameter(torch.zeros(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(nn.functional.silu(x * self.scale + self.shift))


class GestureEmbedder(nn.Module):
    """Google's pretrained gesture embedder (see gesture_embedder.py), ported to PyTorch so the
    whole recogniser trains here and exports to one ONNX file.  Input: `keypoints.embedder_input`
    hands (N,21,3) and right-hand probabilities (N,1); output: (N,128) embeddings."""

    def __init__(self, weights: dict[str, np.ndarray] | None = None) -> None:
        super().__init__()
        width, features = gesture_embedder.EMBEDDING, keypoints.NUM_LANDMARKS * 3 + 1
        self.register_buffer("mirror", torch.tensor([-1.0, 1.0, 1.0]))
        self.register_buffer("palm", torch.tensor(gesture_embedder.PALM), persistent=False)
        self.input = nn.Linear(features, width)
        self.first = nn.Linear(features, width)
        self.first_dense = nn.Linear(width, width)
        self.blocks = nn.ModuleList(ScaledDense(width) for _ in range(gesture_embedder.BLOCKS - 1))
        self.out = ScaledDense(width)
        if weights is not None:
            self.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})

    def branch(self, hand: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        """The residual MLP over one hand, re-centred on the palm and scaled by its x/y range."""
        centred = hand - hand[:, self.palm].mean(dim=1, keepdim=True)
        spread = (centred[:, :, :2].amax(dim=1) - centred[:, :, :2].amin(dim=1)).amax(dim=1) + 1e-5
        x = torch.cat([(centred / spread[:, None, None]).flatten(1), right], dim=1)
        stream = self.input(x) + self.first_dense(nn.functional.silu(self.first(x)))
        for block in self.blocks:
            stream = stream + block(stream)
        return stream

    def forward(self, hand: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        """Embeddings: the hand and its mirror image with the other handedness, added (both run
        through the branch as one batch: half the operator calls at batch 1)."""
        n = hand.shape[0]
        both = self.branch(torch.cat([hand, hand * self.mirror]), torch.cat([right, 1.0 - right]))
        return self.out(both[:n] + both[n:])


class LetterModel(nn.Module):
    """The letter classifier over one hand.  `inputs` picks what it sees: "cnn", the 1D CNN
    (Conv1d blocks along the landmark axis: wrist, thumb, index, ... pinky) over
    `keypoints.features`; "embedding", the pretrained gesture embedding; "fused", both
    concatenated into one head; "ensemble", a head on each, their logits averaged (each head is
    also trained on its own, see `branch_logits`).  `forward(features, hand, right)` takes all
    three model inputs (`keypoints.model_inputs`) and uses those its `inputs` need; output: logits.
    """

    def __init__(self, num_classes: int, inputs: str = DEFAULT_CONFIG["inputs"],
                 in_channels: int = DEFAULT_CONFIG["in_channels"], length: int = DEFAULT_CONFIG["length"],
                 channels: list[int] = DEFAULT_CONFIG["channels"], kernel_size: int = DEFAULT_CONFIG["kernel_size"],
                 hidden: int = DEFAULT_CONFIG["hidden"], dropout: float = DEFAULT_CONFIG["dropout"],
                 embedder: dict[str, np.ndarray] | None = None) -> None:
        super().__init__()
        if inputs not in INPUTS:
            raise ValueError(f"inputs must be one of {', '.join(INPUTS)}, not {inputs!r}")
        self.inputs = inputs
        widths = []
        if inputs != "embedding":
            layers: list[nn.Module] = []
            previous = in_channels
            for size in channels:
                layers += [nn.Conv1d(previous, size, kernel_size, padding=kernel_size // 2),
                           nn.BatchNorm1d(size), nn.ReLU()]
                previous = size
            self.conv = nn.Sequential(*layers)
            self.pool = nn.MaxPool1d(2)
            widths.append(previous * (length // 2))
        if inputs != "cnn":
            self.embedder = GestureEmbedder(embedder)
            self.embedding_norm = nn.BatchNorm1d(gesture_embedder.EMBEDDING)
            widths.append(gesture_embedder.EMBEDDING)
        def head(width: int) -> nn.Module:
            return nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(width, hidden), nn.ReLU(),
                                 nn.Dropout(dropout), nn.Linear(hidden, num_classes))
        if inputs == "ensemble":
            self.heads = nn.ModuleList(head(width) for width in widths)
        else:
            self.head = head(sum(widths))

    def _branches(self, features: torch.Tensor, hand: torch.Tensor, right: torch.Tensor) -> list[torch.Tensor]:
        """What each input branch hands the head(s): the CNN's pooled maps, the normalised embedding."""
        parts = []
        if self.inputs != "embedding":
            parts.append(self.pool(self.conv(features)).flatten(1))
        if self.inputs != "cnn":
            parts.append(self.embedding_norm(self.embedder(hand, right)))
        return parts

    def branch_logits(self, features: torch.Tensor, hand: torch.Tensor, right: torch.Tensor) -> list[torch.Tensor]:
        """Each head's logits (one head but for "ensemble"); `forward` is their mean."""
        parts = self._branches(features, hand, right)
        if self.inputs == "ensemble":
            return [head(part) for head, part in zip(self.heads, parts)]
        return [self.head(torch.cat(parts, dim=1))]

    def forward(self, features: torch.Tensor, hand: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of model inputs."""
        parts = self.branch_logits(features, hand, right)
        return parts[0] if len(parts) == 1 else torch.stack(parts).mean(dim=0)

    @property
    def has_hidden(self) -> bool:
        """One head, so one hidden layer (`with_hidden`); an ensemble has one per head."""
        return self.inputs != "ensemble"

    def with_hidden(self, features: torch.Tensor, hand: torch.Tensor,
                    right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and the head's hidden layer (its input to the last dense layer, `hidden` wide),
        what signer adaptation (adaptation.py) learns a correction on.  Only where `has_hidden`."""
        if not self.has_hidden:
            raise ValueError("an ensemble has one hidden layer per head; signer adaptation needs one")
        hidden = self.head[:-1](torch.cat(self._branches(features, hand, right), dim=1))
        return self.head[-1](hidden), hidden


def build_model(num_classes: int, config: dict[str, Any] | None = None,
                embedder: dict[str, np.ndarray] | None = None) -> LetterModel:
    """A model from a (partial) hyper-parameter dict; missing keys take DEFAULT_CONFIG.
    `embedder`: the pretrained weights (`gesture_embedder.read_weights`) for a new model; a
    checkpoint's own weights replace them on load."""
    return LetterModel(num_classes, **{**DEFAULT_CONFIG, **(config or {})}, embedder=embedder)


def freeze_embedder(net: LetterModel, frozen: bool = True) -> None:
    """Keep the pretrained embedder's weights fixed in training (or let them be fine-tuned)."""
    if hasattr(net, "embedder"):
        for parameter in net.embedder.parameters():
            parameter.requires_grad_(not frozen)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def save_checkpoint(path: str | os.PathLike, model: LetterModel, classes: list[str],
                    config: dict[str, Any], meta: dict[str, Any] | None = None) -> None:
    """Write model weights with everything needed to use them, atomically (temp file + rename)."""
    payload = {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "classes": list(classes), "feature_version": keypoints.FEATURE_VERSION,
               "model_config": {**DEFAULT_CONFIG, **config, "inputs": model.inputs}, "meta": meta or {}}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_files.write_bytes(path, buffer.getvalue(), make_parents=True)


def load_checkpoint(path: str | os.PathLike, class_mapping: str | os.PathLike | None = None
                    ) -> tuple[LetterModel, dict[str, Any]]:
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
        model = build_model(len(classes), {"inputs": LEGACY_INPUTS, **payload["model_config"]})
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, TypeError) as err:
        raise CheckpointError(f"{path} weights do not fit its model_config: {str(err).splitlines()[0]}") from None
    model.eval()
    return model, payload
