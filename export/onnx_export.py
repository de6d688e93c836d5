"""The export bundle's own networks and checks (runs on torch; the exports do not).

- `unlock.onnx`: the embedder and the user's unlock network with the enrolled embeddings
  baked in as constants: crops (N x 3 x 160 x 160) -> p (N x 1); p >= THRESHOLD unlocks.
- the embedder and MTCNN files come from `models.facenet.onnx_export` and
  `models.mtcnn.onnx_export`; `convert_to_ort` writes onnxruntime's mobile format.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from faceunlock.models.onnx_export import DEFAULT_OPSET, export_module


class FusedUnlock(torch.nn.Module):
    """Crop -> embedding -> p: the embedder, then the user's unlock net (enrolled baked in)."""

    def __init__(self, embedder: torch.nn.Module, user_net: torch.nn.Module) -> None:
        super().__init__()
        self.embedder = embedder
        self.unlock_net = user_net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.unlock_net(self.embedder(image))


def export_unlock(
    path: Path,
    unlock_net: torch.nn.Module,
    enrolled: np.ndarray,
    opset: int = DEFAULT_OPSET,
    cache: Path | None = None,
) -> FusedUnlock:
    """Write the fused unlock network (crop -> p) as ONNX; returns the torch module.

    `unlock_net` is a `models.unlock_head.torch_head.UnlockNet`; `enrolled` the user's K x 512.
    """
    from faceunlock.models.facenet.torch_facenet import INPUT_SIZE, load_facenet

    embedder, _ = load_facenet(cache)
    fused = FusedUnlock(embedder, unlock_net.eval().for_user(enrolled)).eval()
    export_module(fused, torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE), path, "p", opset)
    return fused


def check_model(path: Path) -> None:
    """onnx.checker on a file (full check, with shape inference)."""
    import onnx

    onnx.checker.check_model(str(path), full_check=True)


def embedder_node_names(path: Path) -> tuple[list[str], list[str]]:
    """Node names of a fused unlock model: (embedder's, the rest)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    inside = [n.name for n in model.graph.node if n.name.startswith("/embedder/")]
    outside = [n.name for n in model.graph.node if not n.name.startswith("/embedder/")]
    return inside, outside


def convert_to_ort(paths: list[Path]) -> list[Path]:
    """Write onnxruntime's .ort format (for its mobile builds) beside each model."""
    import contextlib
    import io
    import logging
    import shutil

    # onnxruntime's tools call logging.basicConfig when imported (a root handler that would
    # print their INFO lines, and faceunlock's, with time stamps): a placeholder handler
    # makes that a no-op, and their own loggers keep only warnings
    root = logging.getLogger()
    placeholder = logging.NullHandler()
    root.addHandler(placeholder)
    try:
        from onnxruntime.tools.convert_onnx_models_to_ort import (
            OptimizationStyle,
            convert_onnx_models_to_ort,
        )
    finally:
        root.removeHandler(placeholder)
    logging.getLogger("ort_format_model.utils").setLevel(logging.WARNING)

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp)
        for path in paths:
            (staging / path.name).symlink_to(path.resolve())
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            convert_onnx_models_to_ort(
                staging,
                output_dir=staging / "ort",
                optimization_styles=[OptimizationStyle.Fixed],
            )
        for path in paths:
            made = staging / "ort" / f"{path.stem}.ort"
            if not made.is_file():
                raise RuntimeError(f"onnxruntime did not convert {path.name} to .ort")
            target = path.with_suffix(".ort")
            shutil.move(made, target)
            out.append(target)
    return out
