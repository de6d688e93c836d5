"""Face crop and normalisation that reach the FaceNet checkpoint's published accuracy.

The checkpoint was trained on unaligned MTCNN box crops: grow the box by a margin,
resize to 160 x 160 with area interpolation, scale pixels as (x - 127.5) / 128.
"""

from __future__ import annotations

import cv2
import numpy as np

from faceunlock.models.face import Face

CROP_SIZE = 160
# Margin on each side, as a fraction of the box's longer side. On LFW (boxes of
# about 122 px) this is the original FaceNet recipe's 16 px per side.
MARGIN_FRACTION = 0.13
# Bump when the crop's pixels change for the same box (names embedding caches).
CROP_VERSION = 2
NORMALISATION = {"mean": 127.5, "scale": 1 / 128, "channels": "RGB", "layout": "NCHW"}
# face_lighting: the inner face is these fractions of the crop's rows and columns, and the
# two halves' means get this grey level added before their ratio (no log of zero)
INNER_ROWS = (0.2, 0.85)
INNER_COLS = (0.2, 0.8)
SIDE_LIGHT_EPS = 5.0


def crop_face(
    image_bgr: np.ndarray,
    face: Face,
    margin: float = MARGIN_FRACTION,
    margin_px: float | None = None,
) -> np.ndarray:
    """The face's crop as a 160 x 160 BGR uint8 image (box grown, clamped to the image).

    The box grows on each side by `margin` times its longer side, or by `margin_px`
    pixels when given (the original FaceNet recipe: 16 px on LFW's 250 x 250 images).
    """
    x1, y1, x2, y2 = face.box
    grow = margin_px if margin_px is not None else margin * max(x2 - x1, y2 - y1)
    h, w = image_bgr.shape[:2]
    # Each edge to the nearest whole pixel: no bias in size or position (rounding outwards
    # made every crop ~1 px too large, truncation shifts it ~0.5 px up-left).
    left = int(np.clip(np.rint(x1 - grow), 0, w - 1))
    top = int(np.clip(np.rint(y1 - grow), 0, h - 1))
    right = int(np.clip(np.rint(x2 + grow), left + 1, w))
    bottom = int(np.clip(np.rint(y2 + grow), top + 1, h))
    patch = image_bgr[top:bottom, left:right]
    return cv2.resize(patch, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)


def normalise(crops_bgr: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """BGR uint8 crops (N x 160 x 160 x 3) -> float32 RGB NCHW in about [-1, 1]."""
    batch = np.asarray(crops_bgr, dtype=np.float32)
    if batch.ndim == 3:
        batch = batch[None]
    rgb = batch[..., ::-1]
    return np.ascontiguousarray(((rgb - 127.5) / 128.0).transpose(0, 3, 1, 2), dtype=np.float32)


def face_lighting(crop_bgr: np.ndarray) -> tuple[float, float]:
    """(mean grey level, side imbalance) of a face crop.

    The side imbalance is |ln(left / right)| of the mean grey levels of the two halves of
    the inner face (the crop without its margin): 0 for an evenly lit face, 0.8 when one
    side is 2.2 times as bright as the other.
    """
    grey = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    h, w = grey.shape
    rows = slice(int(h * INNER_ROWS[0]), int(h * INNER_ROWS[1]))
    inner = grey[rows, int(w * INNER_COLS[0]) : int(w * INNER_COLS[1])]
    half = inner.shape[1] // 2
    left, right = float(inner[:, :half].mean()), float(inner[:, half:].mean())
    ratio = (left + SIDE_LIGHT_EPS) / (right + SIDE_LIGHT_EPS)
    return float(grey.mean()), abs(float(np.log(ratio)))
