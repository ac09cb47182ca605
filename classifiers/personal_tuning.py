"""Fine-tuning the letter model on one signer's own samples (what personalize.py runs): the
samples, the settings, the loop, and how well it learnt them.

The signer's samples weigh `Tuning.user_weight` replay samples in the loss and get their own
augmentation (`USER_AUGMENTS`), while replay batches of the base data keep training's; the
BatchNorm statistics stay frozen and an L2-SP pull keeps the weights near the base model's.
"""
from __future__ import annotations

import copy
import dataclasses

import numpy as np
import torch
from torch import nn

import model as model_lib
from classifiers import training
from data_loader import Augment, LandmarkDataset, model_tensors


# The signer's samples come from one person at one camera: training's augmentation (built for
# variation between people and cameras) blurred the very details that make their letter theirs.
USER_AUGMENTS = {"training": Augment(), "mild": Augment(rotate_deg=10.0, tilt_deg=10.0, stretch=0.05, jitter=0.01),
                 "none": Augment(0.0, 0.0, 0.0, 0.0, 0.0)}


@dataclasses.dataclass
class Samples:
    """Raw hands with labels: the fields `LandmarkDataset.batch` reads."""
    landmarks: np.ndarray  # (N, 21, 3)
    right: np.ndarray  # (N,) float32: the probability that it is a right hand
    unknown: np.ndarray  # (N,) bool: handedness not known (shown in both chiralities)
    labels: np.ndarray  # (N,) int64
    augment: Augment | None = None
    rng: np.random.Generator | None = None

    batch = LandmarkDataset.batch  # augmented model inputs for a batch, exactly as in training
    left = LandmarkDataset.left

    def __len__(self) -> int:
        return len(self.labels)


@dataclasses.dataclass
class Tuning:
    """Fine-tuning settings (personalize.py's flags of the same names)."""
    epochs: int
    batch_size: int
    replay: int
    lr: float
    l2sp: float
    seed: int
    user_weight: float
    user_augment: str


def fine_tune(base: nn.Module, user: Samples, tuning: Tuning, replay: LandmarkDataset | None = None,
              replay_pool: np.ndarray | None = None, progress: bool = True) -> nn.Module:
    """A copy of `base` fine-tuned on `user` (+ replay batches drawn from `replay_pool` indices of
    `replay`; a user sample weighs `tuning.user_weight` replay samples in the loss), with BatchNorm
    statistics frozen and an L2-SP pull toward the base weights."""
    from tqdm import tqdm
    torch.manual_seed(tuning.seed)
    rng = np.random.default_rng(tuning.seed)
    user = dataclasses.replace(user, augment=USER_AUGMENTS[tuning.user_augment], rng=rng)
    net = copy.deepcopy(base)
    model_lib.freeze_embedder(net)  # a few dozen hands must not move the pretrained embedding
    trained = [p for p in net.parameters() if p.requires_grad]
    anchor = [p.detach().clone() for p in trained]
    optimizer = torch.optim.AdamW(trained, lr=tuning.lr, weight_decay=0.0)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=training.LABEL_SMOOTHING, reduction="none")
    use_replay = replay is not None and replay_pool is not None and len(replay_pool) > 0
    net.train()
    for module in net.modules():
        if isinstance(module, nn.BatchNorm1d):
            module.eval()  # a few dozen samples must not overwrite the base statistics
    starts = range(0, len(user), tuning.batch_size)
    with tqdm(total=tuning.epochs * len(starts), desc="personalising", unit="step", dynamic_ncols=True,
              disable=not progress) as bar:
        for _ in range(tuning.epochs):
            order = rng.permutation(len(user))
            for i in starts:
                x, y = user.batch(order[i:i + tuning.batch_size])
                weight = torch.full((len(y),), tuning.user_weight)
                if use_replay:
                    rx, ry = replay.batch(rng.choice(replay_pool, tuning.replay * len(y)))
                    x, y = tuple(torch.cat(pair) for pair in zip(x, rx)), torch.cat([y, ry])
                    weight = torch.cat([weight, torch.ones(len(ry))])
                pull = sum(((p - a) ** 2).sum() for p, a in zip(trained, anchor))
                loss = (loss_fn(net(*x), y) * weight).sum() / weight.sum() + tuning.l2sp * pull
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                bar.update()
    net.eval()
    return net


def predicted(net: nn.Module, landmarks: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`net`'s class index for each hand (no augmentation)."""
    with torch.no_grad():
        return net(*model_tensors(landmarks, right)).argmax(1).numpy()


def accuracy(net: nn.Module, data: Samples | LandmarkDataset, mask: np.ndarray) -> float:
    """Top-1 accuracy of `net` on the masked samples (no augmentation)."""
    if not mask.any():
        return float("nan")
    return float((predicted(net, data.landmarks[mask], data.right[mask]) == data.labels[mask]).mean())


def own_samples_report(base: nn.Module, net: nn.Module, user: Samples, classes: list[str]) -> tuple[str, dict[str, int]]:
    """One line on the signer's own samples: how many the base model and the personalised one read
    right, and each letter the personalised model still reads as another (what to record again);
    and those counts for the checkpoint's meta."""
    before = predicted(base, user.landmarks, user.right) == user.labels
    after = predicted(net, user.landmarks, user.right)
    stuck = []
    for c in np.unique(user.labels):
        misread = after[(user.labels == c) & (after != c)]
        if len(misread):
            read_as = classes[int(np.bincount(misread).argmax())]
            stuck.append(f"{classes[c]} ({len(misread)} of {int((user.labels == c).sum())}, mostly as {read_as})")
    n, right = len(user), int((after == user.labels).sum())
    line = f"your own samples read right: {int(before.sum())}/{n} with the base model, {right}/{n} personalised"
    if stuck:
        line += ("; still read as another letter: " + ", ".join(stuck)
                 + " (record more of them, signed as you sign them when spelling)")
    return line, {"base": int(before.sum()), "personalised": right, "samples": n}
