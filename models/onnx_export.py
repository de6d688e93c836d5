"""Writing a torch module as an ONNX file (atomically), the way every faceunlock export does."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from faceunlock.models.files import atomic_path
from faceunlock.models.onnx_files import DEFAULT_OPSET


def export_module(
    module: torch.nn.Module,
    example: torch.Tensor,
    path: Path,
    output: str,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Export a module with input "image" and a dynamic batch to `path` (atomically)."""
    with atomic_path(Path(path), 0o644) as tmp:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module.eval(),
                (example,),
                str(tmp),
                input_names=["image"],
                output_names=[output],
                dynamic_axes={"image": {0: "batch"}, output: {0: "batch"}},
                opset_version=opset,
                dynamo=False,
            )
    return path
