"""MTCNN face detection on onnxruntime and numpy, without torch.

A faithful port of facenet_pytorch.models.utils.detect_face (the detector the torch
runtime uses, `models.mtcnn.torch_mtcnn.FaceDetector`): the same image pyramid, P-Net candidate
boxes, torchvision-style NMS, R-Net and O-Net refinement, box regression, landmarks and
the final "Min" NMS, in float32 like the original. torch's `interpolate(mode="area")` is
adaptive average pooling; it is computed here exactly from one summed-area table per
frame, which serves every pyramid level and every R-Net / O-Net crop.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from faceunlock.models.face import Face
from faceunlock.models.mtcnn.params import (
    DEFAULT_MIN_FACE,
    FACTOR,
    INPUT_MEAN,
    INPUT_SCALE,
    NMS_OUTPUT,
    NMS_PER_SCALE,
    NMS_PYRAMID,
    ONET_SIZE,
    PNET_CELL,
    PNET_STRIDE,
    RNET_SIZE,
    THRESHOLDS,
)
from faceunlock.models.onnx_files import MTCNN_FILES
from faceunlock.models.sessions import ort_session

_F32 = np.float32


def _pool_bounds(start, in_size, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Window bounds of torch's adaptive average pooling (floor start, ceil end).

    `start` and `in_size` broadcast (n x 1 for n regions); the result is n x out_size.
    """
    i = np.arange(out_size, dtype=np.int64)
    lo = (i * in_size) // out_size
    hi = -((-(i + 1) * in_size) // out_size)
    return start + lo, start + hi


class AreaResampler:
    """torch `interpolate(mode="area")` of regions of one RGB image, via a summed-area table.

    The table is exact (integer sums of uint8 pixels), so each output pixel is the window
    mean that torch computes, up to float32 rounding.
    """

    def __init__(self, rgb: np.ndarray) -> None:
        h, w = rgb.shape[:2]
        depth = cv2.CV_32S if h * w * 255 < 2**31 else cv2.CV_64F
        self.table = cv2.integral(np.ascontiguousarray(rgb), sdepth=depth).reshape(h + 1, w + 1, 3)

    def resize(self, y0: int, y1: int, x0: int, x1: int, out_h: int, out_w: int) -> np.ndarray:
        """Rows y0:y1, cols x0:x1 area-resampled to out_h x out_w; float32 HWC."""
        box = np.array([[y0, y1, x0, x1]])
        return self.resize_many(box, out_h, out_w)[0]

    def resize_many(self, boxes: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
        """Regions (n x [y0, y1, x0, x1]) each resampled to out_h x out_w: n x H x W x 3."""
        boxes = np.asarray(boxes, np.int64)
        r0, r1 = _pool_bounds(boxes[:, 0:1], boxes[:, 1:2] - boxes[:, 0:1], out_h)
        c0, c1 = _pool_bounds(boxes[:, 2:3], boxes[:, 3:4] - boxes[:, 2:3], out_w)
        stride = self.table.shape[1]
        flat = self.table.reshape(-1, 3)
        top, bottom = (r0 * stride)[:, :, None], (r1 * stride)[:, :, None]
        left, right = c0[:, None, :], c1[:, None, :]
        total = (
            flat.take((bottom + right).ravel(), 0)
            - flat.take((top + right).ravel(), 0)
            - flat.take((bottom + left).ravel(), 0)
            + flat.take((top + left).ravel(), 0)
        )
        count = ((r1 - r0)[:, :, None] * (right - left)).reshape(-1, 1)
        mean = total.astype(_F32) / count.astype(_F32)
        return mean.reshape(len(boxes), out_h, out_w, 3)


def _to_input(patches: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """HWC float patches -> NCHW network input scaled (x - INPUT_MEAN) * INPUT_SCALE."""
    batch = np.asarray(patches, dtype=_F32)
    if batch.ndim == 3:
        batch = batch[None]
    return np.ascontiguousarray(
        ((batch - _F32(INPUT_MEAN)) * _F32(INPUT_SCALE)).transpose(0, 3, 1, 2)
    )


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """torchvision.ops.nms: indices kept, by descending score (stable), IoU > threshold drops."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    boxes = boxes.astype(_F32, copy=False)
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores.astype(_F32), kind="stable")
    suppressed = np.zeros(len(boxes), bool)
    keep = []
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[pos + 1 :]
        rest = rest[~suppressed[rest]]
        if len(rest) == 0:
            continue
        w = np.maximum(_F32(0), np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(_F32(0), np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[rest[iou > threshold]] = True
    return np.asarray(keep, np.int64)


def nms_min(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """facenet-pytorch's nms_numpy with the "Min" overlap (pixel-inclusive areas)."""
    if boxes.size == 0:
        return np.zeros(0, np.int64)
    x1, y1, x2, y2 = (boxes[:, k].copy() for k in range(4))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores)
    pick = []
    while order.size > 0:
        i = order[-1]
        pick.append(i)
        idx = order[:-1]
        w = np.maximum(0.0, np.minimum(x2[i], x2[idx]) - np.maximum(x1[i], x1[idx]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[idx]) - np.maximum(y1[i], y1[idx]) + 1)
        overlap = (w * h) / np.minimum(area[i], area[idx])
        order = idx[np.where(overlap <= threshold)]
    return np.asarray(pick, np.int64)


def _rerec(boxes: np.ndarray) -> np.ndarray:
    """Make boxes square around their centre (longer side)."""
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = np.maximum(w, h)
    boxes[:, 0] = boxes[:, 0] + w * _F32(0.5) - side * _F32(0.5)
    boxes[:, 1] = boxes[:, 1] + h * _F32(0.5) - side * _F32(0.5)
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def _bbreg(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Apply the R-Net / O-Net box regression (pixel-inclusive widths)."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out = boxes.copy()
    out[:, 0] = boxes[:, 0] + reg[:, 0] * w
    out[:, 1] = boxes[:, 1] + reg[:, 1] * h
    out[:, 2] = boxes[:, 2] + reg[:, 2] * w
    out[:, 3] = boxes[:, 3] + reg[:, 3] * h
    return out


def _pad(boxes: np.ndarray, w: int, h: int) -> tuple[np.ndarray, ...]:
    """Integer crop bounds (1-based start, end) clamped to the image: y, ey, x, ex."""
    b = np.trunc(boxes[:, :4]).astype(np.int32)
    x, y, ex, ey = b[:, 0].copy(), b[:, 1].copy(), b[:, 2].copy(), b[:, 3].copy()
    x[x < 1] = 1
    y[y < 1] = 1
    ex[ex > w] = w
    ey[ey > h] = h
    return y, ey, x, ex


def _generate_boxes(
    reg: np.ndarray, prob: np.ndarray, scale: float, threshold: float
) -> np.ndarray:
    """P-Net cells with face probability >= threshold as boxes [x1 y1 x2 y2 score reg(4)]."""
    ys, xs = np.nonzero(prob >= threshold)
    score = prob[ys, xs]
    offsets = reg[:, ys, xs].T
    cells = np.stack([xs, ys], axis=1).astype(_F32)
    q1 = np.floor((PNET_STRIDE * cells + 1) / _F32(scale))
    q2 = np.floor((PNET_STRIDE * cells + PNET_CELL) / _F32(scale))
    return np.concatenate([q1, q2, score[:, None], offsets], axis=1).astype(_F32)


def _crops(
    area: AreaResampler, boxes: np.ndarray, w: int, h: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Area-resampled size x size crops of the boxes, and which boxes had a crop."""
    y, ey, x, ex = _pad(boxes, w, h)
    valid = (ey > y - 1) & (ex > x - 1)
    if not valid.any():
        return np.zeros((0, 3, size, size), _F32), valid
    regions = np.stack([y - 1, ey, x - 1, ex], axis=1)[valid]
    return _to_input(area.resize_many(regions, size, size)), valid


OnetRunner = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def output_stage(
    area: AreaResampler, boxes: np.ndarray, w: int, h: int, run_onet: OnetRunner, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """MTCNN's last stage: O-Net on square candidate boxes -> scored, regressed boxes
    [x1 y1 x2 y2 p] (n x 5) with landmarks (n x 5 x 2), those with p > `threshold`.

    `run_onet` maps N x 3 x 48 x 48 inputs to (box regression, landmarks, probabilities).
    """
    data, valid = _crops(area, boxes, w, h, ONET_SIZE)
    boxes = boxes[valid]
    if len(boxes) == 0:
        return np.zeros((0, 5), _F32), np.zeros((0, 5, 2), _F32)
    reg, marks, prob = run_onet(data)
    score = prob[:, 1]
    keep = score > threshold
    marks, reg = marks[keep], reg[keep]
    boxes = np.concatenate([boxes[keep, :4], score[keep, None]], axis=1)
    wi = boxes[:, 2] - boxes[:, 0] + 1
    hi = boxes[:, 3] - boxes[:, 1] + 1
    px = wi[:, None] * marks[:, :5] + boxes[:, 0:1] - 1
    py = hi[:, None] * marks[:, 5:10] + boxes[:, 1:2] - 1
    points = np.stack([px, py], axis=2).astype(_F32)
    return _bbreg(boxes, reg), points


def faces_from_arrays(boxes: np.ndarray, points: np.ndarray) -> list[Face]:
    """Boxes [x1 y1 x2 y2 p] and landmarks as Face objects."""
    return [
        Face(
            box=tuple(float(v) for v in box[:4]),
            confidence=float(box[4]),
            landmarks=np.asarray(point, np.float32),
        )
        for box, point in zip(boxes, points)
    ]


def refine_faces(
    image_bgr: np.ndarray, faces: list[Face], run_onet: OnetRunner, threshold: float
) -> list[Face]:
    """Re-locate faces near known boxes with O-Net alone (no pyramid, no P-/R-Net).

    Each box is made square and passed through MTCNN's last stage, as a detection passes
    R-Net's boxes; a face that moved a fraction of its size since `faces` were found
    comes back with a fresh box, landmarks and confidence, a face that left scores below
    `threshold` and is dropped. This is the live loop's tracking step: two 48 x 48 network
    runs instead of a detection's image pyramid.
    """
    if not faces:
        return []
    # Square seeds of the box's geometric-mean side: a final MTCNN box is taller than the
    # square O-Net saw, and squaring on the longer side shrinks the face in O-Net's input
    # (on the bundled clip it loses more than twice as many tracked faces).
    boxes = np.array([f.box for f in faces], _F32)
    box_w, box_h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.sqrt(np.maximum(box_w * box_h, 1.0))
    cx, cy = boxes[:, 0] + box_w / 2, boxes[:, 1] + box_h / 2
    boxes = np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], 1)
    # Resample from the part of the frame the boxes cover (cheaper than the whole frame);
    # shifting by whole pixels keeps every crop bound as it is on the full frame.
    h, w = image_bgr.shape[:2]
    x0 = int(np.clip(np.floor(boxes[:, 0].min()) - 1, 0, w - 1))
    y0 = int(np.clip(np.floor(boxes[:, 1].min()) - 1, 0, h - 1))
    x1 = int(np.clip(np.ceil(boxes[:, 2].max()) + 1, x0 + 1, w))
    y1 = int(np.clip(np.ceil(boxes[:, 3].max()) + 1, y0 + 1, h))
    rgb = cv2.cvtColor(image_bgr[y0:y1, x0:x1], cv2.COLOR_BGR2RGB)
    shift = np.array([x0, y0, x0, y0], _F32)
    boxes[:, :4] -= shift
    out, points = output_stage(AreaResampler(rgb), boxes, x1 - x0, y1 - y0, run_onet, threshold)
    out[:, :4] += shift
    points += np.array([x0, y0], _F32)
    return faces_from_arrays(out, points)


class OrtMtcnn:
    """MTCNN on three ONNX networks; `infer` has the FaceDetector interface (BGR in)."""

    def __init__(
        self,
        model_dir: str | os.PathLike,
        min_face_size: int = DEFAULT_MIN_FACE,
        thresholds: tuple[float, float, float] = THRESHOLDS,
        factor: float = FACTOR,
        threads: int | None = None,
    ) -> None:
        model_dir = Path(model_dir)
        self.pnet, self.rnet, self.onet = (ort_session(model_dir / f, threads) for f in MTCNN_FILES)
        self.min_face_size = int(min_face_size)
        self.thresholds = thresholds
        self.factor = factor

    def with_min_face(self, min_face_size: int) -> OrtMtcnn:
        """The same detector (its sessions shared) with another smallest face."""
        twin = copy.copy(self)
        twin.min_face_size = int(min_face_size)
        return twin

    def scales(self, h: int, w: int) -> list[float]:
        """The image pyramid's scales (facenet-pytorch's loop, in double precision)."""
        m = float(PNET_CELL) / self.min_face_size
        minl = min(h, w) * m
        scales, scale = [], m
        while minl >= PNET_CELL:
            scales.append(scale)
            scale *= self.factor
            minl *= self.factor
        return scales

    def _stage_one(self, area: AreaResampler, h: int, w: int) -> np.ndarray:
        """P-Net over the pyramid, NMS per scale and overall, regression, squaring."""
        per_scale = []
        for scale in self.scales(h, w):
            hs, ws = int(h * scale + 1), int(w * scale + 1)
            data = _to_input(area.resize(0, h, 0, w, hs, ws))
            reg, prob = self.pnet.run(None, {"image": data})
            boxes = _generate_boxes(reg[0], prob[0, 1], scale, self.thresholds[0])
            per_scale.append(boxes[nms(boxes[:, :4], boxes[:, 4], NMS_PER_SCALE)])
        boxes = np.concatenate(per_scale) if per_scale else np.zeros((0, 9), _F32)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], NMS_PYRAMID)]
        regw = boxes[:, 2] - boxes[:, 0]
        regh = boxes[:, 3] - boxes[:, 1]
        out = np.stack(
            [
                boxes[:, 0] + boxes[:, 5] * regw,
                boxes[:, 1] + boxes[:, 6] * regh,
                boxes[:, 2] + boxes[:, 7] * regw,
                boxes[:, 3] + boxes[:, 8] * regh,
                boxes[:, 4],
            ],
            axis=1,
        ).astype(_F32)
        return _rerec(out)

    def _run_onet(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        reg, marks, prob = self.onet.run(None, {"image": data})
        return reg, marks, prob

    def detect_rgb(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes [x1 y1 x2 y2 p] (n x 5) and landmarks (n x 5 x 2) of an RGB uint8 image."""
        h, w = rgb.shape[:2]
        area = AreaResampler(rgb)
        boxes = self._stage_one(area, h, w)
        points = np.zeros((0, 5, 2), _F32)
        if len(boxes):
            data, valid = _crops(area, boxes, w, h, RNET_SIZE)
            boxes = boxes[valid]
            reg, prob = self.rnet.run(None, {"image": data}) if len(data) else (data, data)
            if len(boxes):
                score = prob[:, 1]
                keep = score > self.thresholds[1]
                boxes = np.concatenate([boxes[keep, :4], score[keep, None]], axis=1)
                reg = reg[keep]
                pick = nms(boxes[:, :4], boxes[:, 4], NMS_PYRAMID)
                boxes = _rerec(_bbreg(boxes[pick], reg[pick]))
        if len(boxes):
            boxes, points = output_stage(area, boxes, w, h, self._run_onet, self.thresholds[2])
            pick = nms_min(boxes[:, :4], boxes[:, 4], NMS_OUTPUT)
            boxes, points = boxes[pick], points[pick]
        if len(boxes) == 0:
            return np.zeros((0, 5), _F32), points[:0]
        order = np.argsort((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[::-1]
        return boxes[order], points[order]

    def infer(self, image_bgr: np.ndarray) -> list[Face]:
        """All faces in a BGR uint8 image, largest first."""
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        return faces_from_arrays(*self.detect_rgb(rgb))

    def refine(self, image_bgr: np.ndarray, faces: list[Face]) -> list[Face]:
        """The faces re-located by O-Net alone (see `refine_faces`)."""
        return refine_faces(image_bgr, faces, self._run_onet, self.thresholds[2])

    def infer_batch(self, images_bgr: list[np.ndarray]) -> list[list[Face]]:
        """Faces of several images (one at a time)."""
        return [self.infer(image) for image in images_bgr]
