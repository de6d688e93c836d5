"""The int8 path: static QDQ quantisation, written atomically, run by onnxruntime."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from faceunlock.models.facenet.quantize import quantize_file
from faceunlock.models.onnx_export import export_module
from faceunlock.models.sessions import ort_session
from faceunlock.unlock.errors import FaceUnlockError


class _TinyEmbedder(torch.nn.Module):
    """A conv net with FaceNet's input and an L2-normalised output, small enough to quantise
    in a second."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 5, stride=4)
        self.fc = torch.nn.Linear(8 * 39 * 39, 16)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv(image)).flatten(1)
        return torch.nn.functional.normalize(self.fc(x), dim=1)


def test_static_int8_copy_runs_and_stays_close(tmp_path):
    fp32, int8 = tmp_path / "embedder.onnx", tmp_path / "embedder.int8.onnx"
    export_module(_TinyEmbedder(), torch.zeros(1, 3, 160, 160), fp32, "embedding")
    rng = np.random.default_rng(0)
    crops = rng.uniform(-1, 1, (8, 3, 160, 160)).astype(np.float32)
    quantize_file(fp32, int8, crops)
    assert int8.is_file() and not list(tmp_path.glob(".tmp-*"))
    ops = {n.op_type for n in __import__("onnx").load(str(int8)).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    a = ort_session(fp32).run(None, {"image": crops})[0]
    b = ort_session(int8).run(None, {"image": crops})[0]
    assert np.sum(a * b, axis=1).min() > 0.95


def test_a_failed_quantisation_leaves_no_file(tmp_path):
    with pytest.raises(Exception):  # noqa: B017 - onnxruntime's own error types
        quantize_file(tmp_path / "missing.onnx", tmp_path / "out.onnx", np.zeros((1, 3, 8, 8)))
    assert list(tmp_path.iterdir()) == []


def test_int8_needs_the_onnx_runtime():
    from faceunlock.unlock.pipeline.runtime import pipeline_from_args

    args = argparse.Namespace(runtime="torch", int8=True, threads=None, home=None)
    with pytest.raises(FaceUnlockError, match="--int8 needs --runtime onnx"):
        pipeline_from_args(args)
