"""Training the motion-letter model: streams -> windows (exactly as the live detector sees them)
-> a small MLP fitted with PyTorch -> the numpy weights `motion_letters.MotionModel` runs.

Windows are labelled from the motion in their stream: before 30% of a motion, 'none' (a still I
or index hand reads nothing); from 90% of it until 0.3 s after its end, the letter; once it has
left the window, 'none' again; in between, not used.  Windows in which nothing moved `gate` hand
sizes never reach the model live, so they are not made.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classifiers import motion_letters as ml
from dataset import motion_streams as ms
from dataset.motion_paths import HandSet

BEFORE, FROM, AFTER_MS = 0.3, 0.9, 300.0  # labelling of windows (see above)
IGNORE = -1


@dataclass(frozen=True)
class TrainSettings:
    """How much of each kind of stream to make, and how to fit."""
    synthetic: int = 1500  # synthetic streams per motion letter (0: recorded motions only)
    recorded_copies: int = 20  # each recorded training sequence played this many ways
    letter_streams: int = 1500  # spelling streams (8 static letters of one signer each)
    idle_streams: int = 100  # still hands, 6 s each
    move_streams: int = 1500  # hands moved along random paths
    fps: tuple[float, ...] = (15.0, 24.0, 30.0, 60.0)  # frame rates streams are made at
    hidden: tuple[int, ...] = (64,)
    epochs: int = 40
    batch: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0


def stream_windows(stream: ms.Stream, settings: ml.Settings) -> tuple[np.ndarray, np.ndarray]:
    """Every window the live detector hands its model on this stream (`motion_letters.MotionPath`,
    as `MotionLetters.update` runs it; a hand that moved less than `gate` is none): features
    (W, inputs) and the time of the frame each came with."""
    path = ml.MotionPath(settings)
    feats, times = [], []
    for t, lm in zip(stream.times.tolist(), stream.landmarks):
        seen = not np.isnan(lm[0, 0])
        if path.observe(t, lm if seen else None, stream.handedness if seen else None) and path.features is not None:
            feats.append(path.features)
            times.append(t)
    return np.array(feats).reshape(-1, ml.inputs(settings)), np.array(times)


def window_labels(stream: ms.Stream, times: np.ndarray, settings: ml.Settings) -> np.ndarray:
    """The class index of each window ending at `times` (IGNORE where it is neither)."""
    labels = np.zeros(len(times), int)
    for letter, start, end in stream.motions:
        span = max(end - start, 1.0)
        inside = (times > start + BEFORE * span) & (times < end + settings.window_ms)
        labels[inside] = IGNORE
        labels[(times >= end - (1 - FROM) * span) & (times <= end + AFTER_MS)] = ml.CLASSES.index(letter)
    return labels


def training_set(hands: HandSet, recorded: dict[str, np.ndarray], settings: ml.Settings,
                 train: TrainSettings, rng: np.random.Generator, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Windows (features, class) from synthetic J and Z streams of `hands`, each recorded
    sequence played `recorded_copies` ways (speed 0.7-1.4x, 15 or 30 fps, jitter, either hand)
    and negative streams (spelling, idle, moves) of `hands`.  `progress`: a tqdm-like bar to tick
    once per stream."""
    makers = []
    for letter in ("J", "Z"):
        seconds = (0.3, 1.0) if letter == "J" else (0.45, 1.4)
        makers += [lambda letter=letter, s=seconds: ms.motion_stream(hands, letter, rng, rng.choice(train.fps), s)
                   ] * train.synthetic
        for seq in recorded.get(letter, ()):
            makers += [lambda seq=seq, letter=letter: ms.recorded_stream(
                seq, letter, rng, rng.uniform(0.7, 1.4), rng.choice((15.0, 30.0)))] * train.recorded_copies
    makers += [lambda: ms.letter_stream(hands, rng, rng.choice(train.fps))] * train.letter_streams
    makers += [lambda: ms.idle_stream(hands, rng, rng.choice(train.fps))] * train.idle_streams
    makers += [lambda: ms.move_stream(hands, rng, rng.choice(train.fps))] * train.move_streams
    xs, ys = [], []
    for make in makers:
        stream = make()
        x, times = stream_windows(stream, settings)
        y = window_labels(stream, times, settings)
        keep = y != IGNORE
        xs.append(x[keep])
        ys.append(y[keep])
        if progress is not None:
            progress.update(1)
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def stream_count(recorded: dict[str, np.ndarray], train: TrainSettings) -> int:
    """How many streams `training_set` makes (for a progress bar)."""
    return (2 * train.synthetic + train.recorded_copies * sum(len(v) for v in recorded.values())
            + train.letter_streams + train.idle_streams + train.move_streams)


def fit(x: np.ndarray, y: np.ndarray, train: TrainSettings,
        progress=None) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """An MLP (ReLU between layers) on standardised windows, classes weighted equally, Adam:
    (input mean, input std, [(weight (in, out), bias)])."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: one thread is faster, and leaves the other core free
    torch.manual_seed(train.seed)
    mean, std = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-3)
    xt = torch.from_numpy((x - mean) / std)
    yt = torch.from_numpy(y.astype(np.int64))
    sizes = [x.shape[1], *train.hidden, len(ml.CLASSES)]
    layers: list[torch.nn.Module] = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    counts = np.bincount(y, minlength=len(ml.CLASSES)).astype(np.float32)
    weight = torch.from_numpy(counts.sum() / np.maximum(counts, 1) / len(counts))
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    opt = torch.optim.AdamW(net.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    steps = train.epochs * ((len(y) + train.batch - 1) // train.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, train.lr, total_steps=steps)
    g = torch.Generator().manual_seed(train.seed)
    for _ in range(train.epochs):
        for idx in torch.randperm(len(y), generator=g).split(train.batch):
            opt.zero_grad()
            loss_fn(net(xt[idx]), yt[idx]).backward()
            opt.step()
            sched.step()
        if progress is not None:
            progress.update(1)
    torch.set_num_threads(threads)
    linear = [m for m in net if isinstance(m, torch.nn.Linear)]
    return mean, std, [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linear]
