"""Export of the face pipeline's networks to ONNX (runs on torch; the exports do not).

- `embedder.onnx`: crops (N x 3 x 160 x 160, normalised as `models.crop.NORMALISATION`)
  -> L2-normalised embeddings (N x 512).
- `pnet.onnx`, `rnet.onnx`, `onet.onnx`: MTCNN (`export.mtcnn_onnx`).
- `unlock.onnx`: embedder + the user's unlock network with the enrolled embeddings baked
  in as constants: crops -> p (N x 1); p >= 0.5 unlocks.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

EMBEDDER_FILE = "embedder.onnx"
EMBEDDER_INT8_FILE = "embedder.int8.onnx"
DEFAULT_OPSET = 17


def _atomic_target(path: Path) -> Path:
    """A temporary path beside `path` (rename it onto `path` when complete)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".onnx")
    os.close(fd)
    os.chmod(tmp, 0o644)
    return Path(tmp)


def export_module(
    module: torch.nn.Module,
    example: torch.Tensor,
    path: Path,
    output: str,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Export a module with input "image" and a dynamic batch to `path` (atomically)."""
    tmp = _atomic_target(path)
    try:
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
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def export_embedder(path: Path, opset: int = DEFAULT_OPSET, cache: Path | None = None) -> str:
    """Write the FaceNet embedder as ONNX; returns the SHA-256 of its source weights."""
    from models.facenet import load_facenet

    model, checksum = load_facenet(cache)
    example = torch.zeros(1, 3, 160, 160)
    export_module(model, example, path, "embedding", opset)
    return checksum


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

    `unlock_net` is a `models.unlock_net.UnlockNet`; `enrolled` the user's K x 512.
    """
    from models.facenet import load_facenet

    embedder, _ = load_facenet(cache)
    fused = FusedUnlock(embedder, unlock_net.eval().for_user(enrolled)).eval()
    export_module(fused, torch.zeros(1, 3, 160, 160), path, "p", opset)
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
    import shutil

    from onnxruntime.tools.convert_onnx_models_to_ort import (
        OptimizationStyle,
        convert_onnx_models_to_ort,
    )

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


def export_runtime_models(
    out_dir: Path, int8: bool = False, opset: int = DEFAULT_OPSET, cache: Path | None = None
) -> dict[str, Path]:
    """The onnx runtime's models: embedder.onnx, MTCNN nets and optionally embedder.int8.onnx.

    Files already present are kept (each file is written atomically).
    """
    from export.mtcnn_onnx import MTCNN_NETS, export_mtcnn

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    if not all((out_dir / f"{n}.onnx").is_file() for n in MTCNN_NETS):
        with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
            for name, made in export_mtcnn(Path(tmp), opset).items():
                os.replace(made, out_dir / f"{name}.onnx")
    paths.update({n: out_dir / f"{n}.onnx" for n in MTCNN_NETS})
    embedder = out_dir / EMBEDDER_FILE
    if not embedder.is_file():
        export_embedder(embedder, opset, cache)
    paths["embedder"] = embedder
    if int8:
        target = out_dir / EMBEDDER_INT8_FILE
        if not target.is_file():
            quantize_embedder(embedder, target)
        paths["embedder_int8"] = target
    return paths


def quantize_embedder(
    fp32_path: Path,
    int8_path: Path,
    nodes_to_exclude: list[str] | None = None,
    crops: np.ndarray | None = None,
) -> Path:
    """Static QDQ int8 copy of an embedder (or fused unlock) model, calibrated on `crops`
    (default: the faces of the bundled media, see export.quantize)."""
    from export.quantize import calibration_crops, quantize_model
    from models.detector import FaceDetector

    if crops is None:
        crops = calibration_crops(FaceDetector(min_face_size=40))
    tmp = _atomic_target(int8_path)
    try:
        quantize_model(fp32_path, tmp, crops, nodes_to_exclude=nodes_to_exclude)
        os.replace(tmp, int8_path)
    finally:
        tmp.unlink(missing_ok=True)
    return int8_path
