"""Static int8 quantisation (QDQ, per-channel) of the embedding network.

Dynamic int8 quantisation runs ConvInteger, which is several times slower than fp32 on
x86 CPUs; static QDQ with calibrated activation ranges runs int8 convolutions instead.
The calibration crops are the caller's (faceunlock uses the faces of its bundled media,
see `unlock.pipeline.runtime_models`, so the int8 model is the same on every machine).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np


class _CropReader:
    """onnxruntime CalibrationDataReader over a batch of crops, one at a time."""

    def __init__(self, crops: np.ndarray, input_name: str) -> None:
        self.crops = crops
        self.input_name = input_name
        self.index = 0

    def get_next(self) -> dict | None:
        if self.index >= len(self.crops):
            return None
        item = {self.input_name: self.crops[self.index : self.index + 1]}
        self.index += 1
        return item

    def rewind(self) -> None:
        self.index = 0


def quantize_model(
    fp32_path: Path,
    int8_path: Path,
    crops: np.ndarray,
    input_name: str = "image",
    nodes_to_exclude: list[str] | None = None,
) -> Path:
    """Write a static QDQ int8 copy of `fp32_path` (per-channel weights, uint8 activations)."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=False)
        quantize_static(
            str(prepared),
            str(int8_path),
            _CropReader(crops, input_name),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=nodes_to_exclude or [],
        )
    return int8_path


def quantize_file(
    fp32_path: Path,
    int8_path: Path,
    crops: np.ndarray,
    nodes_to_exclude: list[str] | None = None,
) -> Path:
    """`quantize_model`, written atomically: `int8_path` is complete or absent."""
    from faceunlock.models.files import atomic_path

    with atomic_path(Path(int8_path), 0o644) as tmp:
        quantize_model(fp32_path, tmp, crops, nodes_to_exclude=nodes_to_exclude)
    return int8_path
