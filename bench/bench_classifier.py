"""benchmark.py's classifier timings: logits and predict_proba at batch 1 (median latency) and at a
large batch (throughput), PyTorch eager and ONNX Runtime, each with one thread and with all.  The
job runs in one of benchmark.py's child processes; torch and ONNX Runtime are imported inside it."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

CLASSIFIERS = ("torch", "torch_1_thread", "onnx", "onnx_all_threads")


def latency_ms(fn: Callable[[], object], calls: int) -> float:
    """Median wall time of one call, in ms."""
    fn()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return float(np.median(samples)) * 1000


def job_classifier(weights: str, onnx_path: str, calls: int, landmarks: str, batch: int, batch_calls: int) -> dict:
    """Batch-1 latency (median of `calls`) and batch-`batch` throughput (median of `batch_calls`) of
    each classifier, on real landmarks (every 10th .npy of the class folders in `landmarks`)."""
    import torch
    from hand import keypoints
    from classifiers.classifier import TorchClassifier
    from classifiers.onnx_classifier import OnnxClassifier
    files = sorted(Path(landmarks).glob("*/*.npy"))[::10][:batch]
    if files:
        lm = np.stack([np.load(f).astype(np.float32).reshape(21, 3) for f in files])
    else:  # no landmark set: any plausible hand does for timing
        lm = np.random.default_rng(0).uniform(0.3, 0.7, (batch, 21, 3)).astype(np.float32)
    lm = np.resize(lm, (batch, 21, 3))
    inputs = keypoints.model_inputs(lm, "Right")
    first = keypoints.ModelInputs(*(part[:1] for part in inputs))
    out = {}
    makers = {"torch": lambda: TorchClassifier(weights),
              "torch_1_thread": lambda: (torch.set_num_threads(1), TorchClassifier(weights))[1],
              "onnx": lambda: OnnxClassifier(onnx_path, threads=1),
              "onnx_all_threads": lambda: OnnxClassifier(onnx_path, threads=0)}
    for name in CLASSIFIERS:  # torch first: torch_1_thread changes the process-wide thread count
        clf = makers[name]()
        out[f"classifier.{name}.batch1_ms"] = latency_ms(lambda: clf.logits(first), calls)
        out[f"classifier.{name}.proba_batch1_ms"] = latency_ms(lambda: clf.predict_proba(lm[:1], "Right"), calls)
        out[f"classifier.{name}.batch{batch}_per_s"] = batch / latency_ms(lambda: clf.logits(inputs),
                                                                            batch_calls) * 1000
    return out
