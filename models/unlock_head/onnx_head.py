"""`head.onnx`: the unlock network as an ONNX graph with the enrolled set as an input.

Inputs `live` (N x 512, L2-normalised embeddings) and `enrolled` (K x 512, any K >= 1);
output `p` (N). It computes exactly what `UnlockScorer.probability` computes: the seven
relation features, the standardised MLP, and the calibrated output bias of the kind of
enrolment (`offset_index`: K and the mean pairwise cosine pick one of `OFFSET_BINS`),
so an app can enrol on the device with `embedder.onnx` and decide with this file.

Built from the numpy weights with `onnx.helper` (no torch): torch's tracer would bake K
and the bias choice into the graph.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from faceunlock.models.onnx_files import DEFAULT_OPSET
from faceunlock.models.unlock_head.scorer import OFFSET_BINS, TIGHT_PAIRWISE, load_weights

EMBEDDING_SIZE = 512
# offset_index: the tight bin is the last one; K = 1..MAX_K_BIN pick the others
TIGHT_BIN = len(OFFSET_BINS) - 1
MAX_K_BIN = len(OFFSET_BINS) - 1


class _Graph:
    """A small builder: nodes, constants and unique names."""

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, value, hint: str = "c") -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs) -> str:
        from onnx import helper

        out = out or self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def reduce(self, op_type: str, x: str, axes: list[int] | None, keepdims: int = 0) -> str:
        """A Reduce* node over `axes` (None: all), in the form the opset wants."""
        takes_input = op_type == "ReduceSum" or self.opset >= 18
        if axes is None:
            return self.op(op_type, x, keepdims=keepdims)
        if takes_input:
            return self.op(
                op_type, x, self.const(np.array(axes, np.int64), "axes"), keepdims=keepdims
            )
        return self.op(op_type, x, axes=axes, keepdims=keepdims)


def _features(g: _Graph) -> tuple[str, str, str]:
    """The N x 7 relation features, K (int64 scalar) and the pairwise cosine (scalar)."""
    f32 = np.float32
    cos = g.op("MatMul", "live", g.op("Transpose", "enrolled", perm=[1, 0]))  # N x K
    mean = g.reduce("ReduceMean", "enrolled", [0])  # 512
    norm = g.op("Sqrt", g.reduce("ReduceSum", g.op("Mul", mean, mean), None))
    k_int = g.op("Gather", g.op("Shape", "enrolled"), g.const(np.int64(0)), axis=0)
    k = g.op("Cast", k_int, to=1)  # float
    gram_sum = g.reduce(
        "ReduceSum", g.op("MatMul", "enrolled", g.op("Transpose", "enrolled")), None
    )
    diagonal = g.reduce("ReduceSum", g.op("Mul", "enrolled", "enrolled"), None)
    pairs = g.op("Max", g.op("Mul", k, g.op("Sub", k, g.const(f32(1)))), g.const(f32(1)))
    pairwise = g.op(
        "Where",
        g.op("Greater", k_int, g.const(np.int64(1))),
        g.op("Div", g.op("Sub", gram_sum, diagonal), pairs),
        g.const(f32(1)),
    )
    ones = g.op(
        "Add", g.op("Mul", g.reduce("ReduceMax", cos, [1]), g.const(f32(0))), g.const(f32(1))
    )
    columns = [
        g.op("Div", g.op("MatMul", "live", mean), norm),
        g.reduce("ReduceMax", cos, [1]),
        g.reduce("ReduceMean", cos, [1]),
        g.reduce("ReduceMin", cos, [1]),
        g.op("Mul", ones, norm),
        g.op("Mul", ones, pairwise),
        g.op("Mul", ones, g.op("Div", g.const(f32(1)), k)),
    ]
    axis1 = g.const(np.array([1], np.int64), "axis")
    features = g.op("Concat", *[g.op("Unsqueeze", c, axis1) for c in columns], axis=1)
    return features, k_int, pairwise


def _offset(g: _Graph, k_offset: np.ndarray, k_int: str, pairwise: str) -> str:
    """The calibrated output bias (scalar) of `offset_index(K, pairwise)`."""
    plain = g.op(
        "Sub",
        g.op("Min", g.op("Max", k_int, g.const(np.int64(1))), g.const(np.int64(MAX_K_BIN))),
        g.const(np.int64(1)),
    )
    tight = g.op(
        "And",
        g.op("Greater", k_int, g.const(np.int64(1))),
        g.op("GreaterOrEqual", pairwise, g.const(np.float32(TIGHT_PAIRWISE))),
    )
    index = g.op("Where", tight, g.const(np.int64(TIGHT_BIN)), plain)
    return g.op("Gather", g.const(k_offset.astype(np.float32), "k_offset"), index, axis=0)


def build_head(weights: str | os.PathLike | None = None, opset: int = DEFAULT_OPSET):
    """The head as an onnx ModelProto (weights: default the shipped unlock network)."""
    from onnx import TensorProto, helper

    arrays, meta = load_weights(weights)
    g = _Graph(opset)
    features, k_int, pairwise = _features(g)
    h = g.op(
        "Div",
        g.op("Sub", features, g.const(arrays["feature_mean"].astype(np.float32), "mean")),
        g.const(arrays["feature_std"].astype(np.float32), "std"),
    )
    layers = sum(1 for key in arrays if key.startswith("w"))
    for j in range(layers):
        w = g.const(arrays[f"w{j}"].astype(np.float32), f"w{j}")
        b = g.const(arrays[f"b{j}"].astype(np.float32), f"b{j}")
        h = g.op("Gemm", h, w, b, transB=1)
        if j < layers - 1:
            h = g.op("Relu", h)
    logit = g.op(
        "Sub", g.reduce("ReduceSum", h, [1]), _offset(g, arrays["k_offset"], k_int, pairwise)
    )
    g.op("Sigmoid", logit, out="p")
    graph = helper.make_graph(
        g.nodes,
        "unlock_head",
        [
            helper.make_tensor_value_info("live", TensorProto.FLOAT, ["N", EMBEDDING_SIZE]),
            helper.make_tensor_value_info("enrolled", TensorProto.FLOAT, ["K", EMBEDDING_SIZE]),
        ],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N"])],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="faceunlock",
        doc_string="p that each live embedding is the enrolled user's; p >= 0.5 unlocks",
    )
    model.ir_version = min(model.ir_version, 8)
    return model


def export_head(path: str | os.PathLike, opset: int = DEFAULT_OPSET, weights=None) -> Path:
    """Write head.onnx (atomically) and check it."""
    import onnx

    from faceunlock.models.files import atomic_path

    path = Path(path)
    model = build_head(weights, opset)
    onnx.checker.check_model(model, full_check=True)
    with atomic_path(path, 0o644) as tmp:
        onnx.save(model, str(tmp))
    return path
