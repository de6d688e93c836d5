"""Static int8 quantisation (QDQ, per-channel) of the embedding network.

Dynamic int8 quantisation runs ConvInteger, which was measured 5x slower than fp32 on
this CPU; static QDQ with calibrated activation ranges runs int8 convolutions instead.

Calibration faces come from the media bundled with faceunlock (the Hamilton clip's
frames and the two enrolment photos, each crop also mirrored): they exist on every
install, they are real camera frames like the live input, and they make the int8 model
the same on every machine (its checksum does not depend on who is enrolled).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

DATA_DIR = Path(__file__).resolve().parent.parent / "unlock" / "data"
CLIP = DATA_DIR / "short_hamilton_clip.mp4"
PHOTOS = ("lin-manuel-miranda.png", "alex-lacamoire.png")


def clip_frames(every: int = 1) -> list[np.ndarray]:
    """Every `every`-th frame of the bundled clip (BGR)."""
    frames = []
    capture = cv2.VideoCapture(str(CLIP))
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % every == 0:
            frames.append(frame)
        index += 1
    capture.release()
    return frames


def calibration_frames(every: int = 4) -> list[np.ndarray]:
    """Every `every`-th frame of the bundled clip plus the bundled photos (BGR)."""
    from unlock.images import load_image

    return [load_image(DATA_DIR / name) for name in PHOTOS] + clip_frames(every)


def calibration_crops(detector, every: int = 6, min_face_size: int = 40) -> np.ndarray:
    """Normalised face crops (N x 3 x 160 x 160) of every face in the bundled media, mirrored
    copies included; `detector` is any face detector (`infer(bgr) -> list[Face]`)."""
    from models.crop import crop_face, normalise

    crops = []
    for frame in calibration_frames(every):
        for face in detector.infer(frame):
            if face.size >= min_face_size:
                crop = crop_face(frame, face)
                crops.extend([crop, crop[:, ::-1]])
    if not crops:
        raise RuntimeError("no calibration faces found in the bundled media")
    return normalise(np.stack(crops))


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
