"""The training loop that train.py, crossval.py and personalize.py share: fit the letter model on
preprocess.py output, keep the best epoch on the valid split, fit the temperature, and write the
checkpoint with class_mapping.txt, training_curve.png and training_metrics.json beside it.
A run keeps its state beside the weights after every epoch, so `Settings.resume` goes on after an
interrupt."""
from __future__ import annotations

import dataclasses
import io
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from storage import atomic_files
from hand import gesture_embedder
import model as model_lib
from classifiers.classifier import write_class_mapping
from data_loader import Augment, LandmarkDataset

# ----------------------------------------------------------------------------- settings
EPOCHS = 50
BATCH_SIZE = 256
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 1e-2
LABEL_SMOOTHING = 0.05
SEED = 42
AUGMENT = True
BALANCE_SOURCES = 0.5  # draw samples with weight (1 / samples of their source) ** this; 0 = uniform
EXTRA_READINGS = False  # also fit on the further border readings of each photo (preprocess.py --border-views)
# Also fit on each photo's hand read from a 64x64 frame (preprocess.py --small-side; train split only).
# Off: measured on the 21 folds, +0.6 points on photos but fewer words spelled (model card, "Small frames").
SMALL_READINGS = False
INPUTS = model_lib.DEFAULT_CONFIG["inputs"]  # cnn | embedding | fused (see model.LetterModel)
FINETUNE_EMBEDDER = True  # also train the pretrained gesture embedder's weights (chosen by crossval.py, see the model card)
EMBEDDER_LR_SCALE = 0.1  # their learning rate, as a fraction of the learning rate, when fine-tuned
GESTURE_EMBEDDER = None  # None: resolve automatically (see gesture_embedder.resolve)
# -----------------------------------------------------------------------------


class TrainingError(RuntimeError):
    """Data, weights or a saved run that cannot be trained on; one line for the user."""


@dataclasses.dataclass
class Settings:
    """One training run (train.py's flags of the same names)."""
    data: list[str]
    weights: str
    epochs: int = EPOCHS
    batch_size: int = BATCH_SIZE
    lr: float = LEARNING_RATE
    weight_decay: float = WEIGHT_DECAY
    seed: int = SEED
    augment: bool = AUGMENT
    balance_sources: float = BALANCE_SOURCES
    extra_readings: bool = EXTRA_READINGS
    small_readings: bool = SMALL_READINGS
    inputs: str = INPUTS
    finetune_embedder: bool = FINETUNE_EMBEDDER
    embedder_lr_scale: float = EMBEDDER_LR_SCALE
    gesture_embedder: str | None = GESTURE_EMBEDDER
    channels: list[int] = dataclasses.field(default_factory=lambda: list(model_lib.DEFAULT_CONFIG["channels"]))
    kernel_size: int = model_lib.DEFAULT_CONFIG["kernel_size"]
    hidden: int = model_lib.DEFAULT_CONFIG["hidden"]
    dropout: float = model_lib.DEFAULT_CONFIG["dropout"]
    exclude_source: list[str] = dataclasses.field(default_factory=list)
    resume: bool = False


def resume_path(weights: str | Path) -> Path:
    """Where a run keeps its state between epochs: beside the weights."""
    weights = Path(weights)
    return weights.with_name(weights.name + ".resume")


def set_seed(seed: int) -> None:
    """Seed torch and numpy."""
    torch.manual_seed(seed)
    np.random.seed(seed)


@torch.no_grad()
def predict(model: nn.Module, data: LandmarkDataset, batch_size: int = 4096) -> np.ndarray:
    """Logits for every sample of a dataset (no augmentation), in order."""
    model.eval()
    augment, data.augment = data.augment, None
    try:
        chunks = [model(*data.batch(np.arange(i, min(i + batch_size, len(data))))[0]).numpy()
                  for i in range(0, len(data), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, len(data.classes)), np.float32)
    finally:
        data.augment = augment


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature that minimises the valid negative log-likelihood (confidence calibration)."""
    if len(labels) == 0:
        return 1.0
    z, y = torch.from_numpy(logits), torch.from_numpy(labels)
    candidates = np.exp(np.linspace(np.log(0.3), np.log(5.0), 200))
    losses = [nn.functional.cross_entropy(z / t, y).item() for t in candidates]
    return float(candidates[int(np.argmin(losses))])


def accuracy_by_source(logits: np.ndarray, data: LandmarkDataset) -> dict[str, float]:
    """Accuracy overall ('all') and per source."""
    if not len(data):
        return {}
    right = logits.argmax(1) == data.labels
    result = {"all": float(right.mean())}
    for source in sorted(set(data.sources)):
        mask = data.sources == source
        result[source] = float(right[mask].mean())
    return result


def source_weights(sources: np.ndarray, power: float) -> np.ndarray | None:
    """Sampling probabilities that lift small sources: (1 / size of the sample's source) ** power.

    Leave-one-source-out chose 0.5: against uniform sampling (0) it raised held-out sources by
    0.5-3.4 points (mean of three seeds; keptsecret +2.0, longhongvo23 +3.4); 1.0 gave the same
    cross-source numbers and cost up to 2 points on the same-source kaggle64 split.
    """
    if power == 0 or len(sources) == 0:
        return None
    _, inverse, counts = np.unique(sources.astype(str), return_inverse=True, return_counts=True)
    weights = (1.0 / counts[inverse]) ** power
    return weights / weights.sum()


def plot_curve(history: list[dict], path: Path) -> None:
    """Loss and accuracy per epoch as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [h["train_loss"] for h in history], label="train")
    ax1.plot(epochs, [h["valid_loss"] for h in history], label="valid")
    ax1.set(xlabel="epoch", ylabel="loss", title="loss")
    ax2.plot(epochs, [h["train_acc"] for h in history], label="train (augmented)")
    ax2.plot(epochs, [h["valid_acc"] for h in history], label="valid")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    atomic_files.save_figure(fig, path)
    plt.close(fig)


def atomic_torch_save(obj: Any, path: Path) -> None:
    """torch.save, written atomically."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_files.write_bytes(path, buffer.getvalue())


def load_splits(s: Settings) -> tuple[LandmarkDataset, LandmarkDataset, LandmarkDataset]:
    """The train (augmented when asked), valid and test splits.  Raises TrainingError."""
    missing = [d for d in s.data if not Path(d, "train").is_dir()]
    if missing:
        raise TrainingError(f"no train split in {', '.join(missing)} (run preprocess.py first)")
    train = LandmarkDataset(s.data, "train", augment=Augment() if s.augment else None,
                            exclude_sources=s.exclude_source, seed=s.seed, extra_readings=s.extra_readings,
                            small_readings=s.small_readings)
    if s.small_readings and len(train) and not train.small.any():
        print(f"warning: no small-frame readings in {', '.join(s.data)} (preprocess.py --small-side); "
              f"training without them", file=sys.stderr)
    if len(train) == 0 or len(train.classes) < 2:
        raise TrainingError(f"the train split holds {len(train)} samples in {len(train.classes)} class(es); "
                            f"need at least two classes")
    valid, test = (LandmarkDataset(s.data, split, classes=train.classes, exclude_sources=s.exclude_source,
                                   extra_readings=s.extra_readings) for split in ("valid", "test"))
    if len(valid) == 0:
        raise TrainingError("the valid split is empty")
    return train, valid, test


def optimizer_groups(net: model_lib.LetterModel, s: Settings, pretrained: bool) -> list[dict[str, Any]]:
    """AdamW parameter groups: the model's own weights with weight decay; a fine-tuned pretrained
    embedder at a gentler rate and without decay toward zero."""
    own = [p for name, p in net.named_parameters() if p.requires_grad and not name.startswith("embedder.")]
    groups = [{"params": own, "weight_decay": s.weight_decay}]
    if s.finetune_embedder and pretrained:
        groups.append({"params": list(net.embedder.parameters()), "weight_decay": 0.0,
                       "lr": s.lr * s.embedder_lr_scale})
    return groups


def check_resumable(state: dict[str, Any], s: Settings, classes: list[str], config: dict[str, Any]) -> None:
    """Raise TrainingError unless the saved run used these classes and settings."""
    if (state["classes"] != classes or state["epochs"] != s.epochs
            or state.get("balance_sources") != s.balance_sources
            or state.get("extra_readings", False) != s.extra_readings
            or state.get("small_readings", False) != s.small_readings
            or state.get("finetune_embedder", False) != s.finetune_embedder
            or state.get("embedder_lr_scale", EMBEDDER_LR_SCALE) != s.embedder_lr_scale
            or state.get("model_config", config) != config):
        raise TrainingError("the saved run used other classes, --epochs, --balance-sources, --extra-readings, "
                            "--small-readings, "
                            "--finetune-embedder, --embedder-lr-scale or model hyper-parameters; "
                            "start again without --resume")


def fit(s: Settings) -> dict[str, Any]:
    """Train, write the checkpoint and its reports; returns the metrics written.  Raises
    TrainingError for unusable data or saved state; KeyboardInterrupt leaves the saved state."""
    from tqdm import tqdm
    weights = Path(s.weights)
    out_dir = weights.parent
    state_path = resume_path(weights)
    set_seed(s.seed)
    train, valid, test = load_splits(s)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = {**model_lib.DEFAULT_CONFIG, "inputs": s.inputs, "channels": s.channels,
              "kernel_size": s.kernel_size, "hidden": s.hidden, "dropout": s.dropout}
    try:
        embedder = gesture_embedder.read_weights(s.gesture_embedder) if s.inputs != "cnn" else None
    except gesture_embedder.EmbedderFileError as err:
        raise TrainingError(str(err)) from None
    net = model_lib.build_model(len(train.classes), config, embedder)
    model_lib.freeze_embedder(net, not s.finetune_embedder)
    groups = optimizer_groups(net, s, embedder is not None)
    optimizer = torch.optim.AdamW(groups, lr=s.lr)
    steps = (len(train) + s.batch_size - 1) // s.batch_size
    sampling = source_weights(train.sources, s.balance_sources)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, [g.get("lr", s.lr) for g in groups],
                                                    total_steps=s.epochs * steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING)
    history: list[dict] = []
    best: dict[str, Any] = {"valid_acc": -1.0}
    start_epoch = 1
    if s.resume:
        if not state_path.is_file():
            raise TrainingError(f"nothing to resume ({state_path} not found)")
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        check_resumable(state, s, train.classes, config)
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, best, start_epoch = state["history"], state["best"], state["epoch"] + 1
        train.rng = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        print(f"resuming after epoch {state['epoch']}", file=sys.stderr)
    print(f"train {len(train)}  valid {len(valid)}  test {len(test)}  classes {len(train.classes)}  "
          f"parameters {model_lib.count_parameters(net)}", file=sys.stderr)
    started = time.time()
    batches = -(-len(train) // s.batch_size)
    # One bar for the whole run, made before the first epoch: a Ctrl-C then never lands inside a
    # bar's construction (a half-made tqdm prints a traceback when it is collected).
    bar = tqdm(total=batches * (s.epochs - start_epoch + 1), leave=False, dynamic_ncols=True, unit="batch")
    for epoch in range(start_epoch, s.epochs + 1):
        net.train()
        order = (train.rng.permutation(len(train)) if sampling is None
                 else train.rng.choice(len(train), len(train), p=sampling))
        total_loss, correct = 0.0, 0
        bar.set_description(f"epoch {epoch}/{s.epochs}")
        for i in range(0, len(order), s.batch_size):
            bar.update()
            x, y = train.batch(order[i:i + s.batch_size])
            parts = net.branch_logits(*x)
            logits = parts[0] if len(parts) == 1 else torch.stack(parts).mean(dim=0)
            loss = loss_fn(logits, y)
            if len(parts) > 1:  # each head of an ensemble also learns on its own
                loss = loss + sum(loss_fn(part, y) for part in parts) / len(parts)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
        valid_logits = predict(net, valid)
        valid_loss = nn.functional.cross_entropy(torch.from_numpy(valid_logits), torch.from_numpy(valid.labels)).item()
        record = {"epoch": epoch, "train_loss": total_loss / len(train), "train_acc": correct / len(train),
                  "valid_loss": valid_loss, "valid_acc": float((valid_logits.argmax(1) == valid.labels).mean())}
        history.append(record)
        if record["valid_acc"] > best["valid_acc"]:
            best = {"valid_acc": record["valid_acc"], "epoch": epoch,
                    "state_dict": {k: v.clone() for k, v in net.state_dict().items()}}
        tqdm.write(f"epoch {epoch:3d}  loss {record['train_loss']:.4f}  train {record['train_acc']:.4f}  "
                   f"valid {record['valid_acc']:.4f}  best {best['valid_acc']:.4f} (epoch {best['epoch']})",
                   file=sys.stderr)
        atomic_torch_save({"epoch": epoch, "epochs": s.epochs, "balance_sources": s.balance_sources,
                           "extra_readings": s.extra_readings, "small_readings": s.small_readings,
                           "finetune_embedder": s.finetune_embedder,
                           "embedder_lr_scale": s.embedder_lr_scale, "classes": train.classes, "model_config": config,
                           "model": net.state_dict(), "optimizer": optimizer.state_dict(),
                           "scheduler": scheduler.state_dict(), "history": history, "best": best,
                           "rng": train.rng, "torch_rng": torch.get_rng_state()}, state_path)
    bar.close()
    seconds = time.time() - started
    net.load_state_dict(best["state_dict"])
    valid_logits = predict(net, valid)
    temperature = fit_temperature(valid_logits, valid.labels)
    test_logits = predict(net, test)
    metrics = {"classes": train.classes, "train_samples": len(train), "valid_samples": len(valid),
               "test_samples": len(test), "balance_sources": s.balance_sources,
               "extra_readings": s.extra_readings, "small_readings": s.small_readings, "inputs": s.inputs,
               "finetune_embedder": s.finetune_embedder, "embedder_lr_scale": s.embedder_lr_scale,
               "best_epoch": best["epoch"], "epochs": s.epochs,
               "valid_accuracy": accuracy_by_source(valid_logits, valid),
               "test_accuracy": accuracy_by_source(test_logits, test),
               "temperature": temperature, "train_seconds": round(seconds, 1),
               "parameters": model_lib.count_parameters(net), "seed": s.seed,
               "data": [str(d) for d in s.data], "excluded_sources": s.exclude_source,
               "sources": sorted(set(train.sources)), "history": history}
    meta = {k: metrics[k] for k in ("best_epoch", "epochs", "balance_sources", "extra_readings", "small_readings",
                                    "finetune_embedder",
                                    "embedder_lr_scale", "valid_accuracy",
                                    "test_accuracy", "temperature", "seed", "data", "excluded_sources", "sources",
                                    "train_samples")}
    model_lib.save_checkpoint(weights, net, train.classes, config, meta)
    write_class_mapping(out_dir / "class_mapping.txt", train.classes)
    plot_curve(history, out_dir / "training_curve.png")
    atomic_files.write_json(out_dir / "training_metrics.json", metrics)
    state_path.unlink(missing_ok=True)
    print(f"best valid accuracy {best['valid_acc']:.4f} at epoch {best['epoch']}; test accuracy "
          f"{metrics['test_accuracy'].get('all', float('nan')):.4f}; {seconds:.0f} s")
    print(f"wrote {weights}, class_mapping.txt, training_curve.png, training_metrics.json to {out_dir.resolve()}")
    return metrics
