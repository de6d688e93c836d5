"""FaceNet as ONNX: `embedder.onnx`, crops (N x 3 x 160 x 160, normalised as
`models.crop.NORMALISATION`) -> L2-normalised embeddings (N x 512)."""

from __future__ import annotations

from pathlib import Path

import torch

from faceunlock.models.onnx_export import DEFAULT_OPSET, export_module


def export_embedder(path: Path, opset: int = DEFAULT_OPSET, cache: Path | None = None) -> str:
    """Write the FaceNet embedder as ONNX; returns the SHA-256 of its source weights."""
    from faceunlock.models.facenet.torch_facenet import INPUT_SIZE, load_facenet

    model, checksum = load_facenet(cache)
    example = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    export_module(model, example, path, "embedding", opset)
    return checksum
