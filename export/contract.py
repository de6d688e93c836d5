"""The manifest's contract: every number and rule the desktop loop applies from a camera
frame to a decision, each taken from its one definition in code.

A phone app (and the bundle's web page, which reads nothing else) rebuilds the loop from
these entries: the dark-frame test, the detector (pyramid, P/R/O-Net, NMS, regression,
squaring, landmarks), the loop's face finder and tracker, the crop, the lighting gate, the
unlock network and the k-of-n rule.
"""

from __future__ import annotations

from dataclasses import asdict

from faceunlock.models.crop import (
    CROP_SIZE,
    INNER_COLS,
    INNER_ROWS,
    MARGIN_FRACTION,
    NORMALISATION,
    SIDE_LIGHT_EPS,
)
from faceunlock.models.mtcnn import params as mtcnn
from faceunlock.models.onnx_files import MTCNN_NETS
from faceunlock.models.unlock_head.onnx_head import TIGHT_BIN
from faceunlock.models.unlock_head.scorer import (
    FEATURE_NAMES,
    MAX_SIDE_LIGHT,
    OFFSET_BINS,
    THRESHOLD,
    TIGHT_PAIRWISE,
)
from faceunlock.unlock.app import live
from faceunlock.unlock.config import Config

GREY = "OpenCV BGR2GRAY: 0.299 R + 0.587 G + 0.114 B, rounded to uint8"
AREA_OPENCV = (
    "OpenCV INTER_AREA on uint8: downscaling averages each output pixel's source area "
    "(fractional pixels weighted); upscaling is OpenCV's area-upscale (bilinear with "
    "weights fx = (dx + 1) - (sx + 1) / scale clipped to [0, 1), sx = floor(dx * scale)); "
    "result rounded to uint8"
)
AREA_TORCH = (
    "torch interpolate(mode='area') = adaptive average pooling: output i of n over an "
    "input of size s averages rows floor(i * s / n) .. ceil((i + 1) * s / n) - 1, float"
)


def detector_contract() -> dict:
    """MTCNN as facenet-pytorch 2.5.3 runs it (`models.mtcnn.ort_mtcnn` is the port)."""
    pnet, rnet, onet = MTCNN_NETS
    return {
        "files": {net: f"{net}.onnx" for net in MTCNN_NETS},
        "input": {
            "channels": "RGB",
            "layout": "NCHW",
            "mean": mtcnn.INPUT_MEAN,
            "scale": mtcnn.INPUT_SCALE,
            "formula": "(x - mean) * scale, float32",
        },
        "thresholds": list(mtcnn.THRESHOLDS),
        "factor": mtcnn.FACTOR,
        "min_face": {
            "live": mtcnn.LIVE_MIN_FACE,
            "enrol": mtcnn.ENROL_MIN_FACE,
            "photo": mtcnn.DEFAULT_MIN_FACE,
        },
        "pyramid": {
            "first_scale": "pnet_cell / min_face",
            "next_scale": "scale * factor",
            "while": "min(h, w) * scale >= pnet_cell (double precision)",
            "level_size": "int(h * scale + 1) x int(w * scale + 1)",
            "resize": AREA_TORCH,
        },
        pnet: {
            "cell": mtcnn.PNET_CELL,
            "stride": mtcnn.PNET_STRIDE,
            "outputs": "reg 1 x 4 x h' x w', prob 1 x 2 x h' x w' (face = channel 1)",
            "candidates": "cells (x, y) with prob >= thresholds[0]",
            "box": "[floor((stride * x + 1) / scale), floor((stride * y + 1) / scale), "
            "floor((stride * x + cell) / scale), floor((stride * y + cell) / scale)], "
            "float32, with score and reg[:, y, x]",
            "nms_per_level": {"iou": mtcnn.NMS_PER_SCALE, "mode": "union"},
            "nms_all_levels": {"iou": mtcnn.NMS_PYRAMID, "mode": "union"},
            "regression": "w = x2 - x1, h = y2 - y1 (no +1); x1 += reg0 * w, y1 += reg1 * h, "
            "x2 += reg2 * w, y2 += reg3 * h",
            "then": "square",
        },
        rnet: {
            "size": mtcnn.RNET_SIZE,
            "keep": "prob[:, 1] > thresholds[1]",
            "nms": {"iou": mtcnn.NMS_PYRAMID, "mode": "union"},
            "then": "bbreg, then square",
        },
        onet: {
            "size": mtcnn.ONET_SIZE,
            "keep": "prob[:, 1] > thresholds[2]",
            "landmarks": "w = x2 - x1 + 1, h = y2 - y1 + 1 of the O-Net input box: "
            "x_i = w * lm[i] + x1 - 1, y_i = h * lm[5 + i] + y1 - 1 (i = 0..4: left eye, "
            "right eye, nose, left mouth corner, right mouth corner)",
            "then": "bbreg, then nms",
            "nms": {"iou": mtcnn.NMS_OUTPUT, "mode": "min"},
        },
        "nms_modes": {
            "union": "torchvision.ops.nms: by descending score (stable), drop boxes whose "
            "IoU with a kept box is > iou; areas (x2 - x1) * (y2 - y1), float32",
            "min": "facenet-pytorch nms_numpy 'Min': pick the highest score (last of an "
            "ascending argsort), drop boxes whose intersection / min(area) > iou; "
            "pixel-inclusive: widths x2 - x1 + 1",
        },
        "square": "side = max(w, h) (w = x2 - x1); x1 += w / 2 - side / 2, "
        "y1 += h / 2 - side / 2, x2 = x1 + side, y2 = y1 + side",
        "bbreg": "w = x2 - x1 + 1, h = y2 - y1 + 1; x1 += reg0 * w, y1 += reg1 * h, "
        "x2 += reg2 * w, y2 += reg3 * h",
        "net_crops": "box truncated to int; x1, y1 below 1 become 1, x2 above w becomes w, "
        "y2 above h becomes h; boxes with y2 <= y1 - 1 or x2 <= x1 - 1 are dropped; "
        "pixels rows y1 - 1 .. y2 - 1, cols x1 - 1 .. x2 - 1 resized to size x size: " + AREA_TORCH,
        "order": "faces sorted by box area, largest first",
        "port": "models/mtcnn/ort_mtcnn.py",
    }


def loop_contract(config: Config) -> dict:
    """The live loop around the detector: dark frames, face finder, tracking, lighting."""
    return {
        "dark_frame": {
            "resize_to_wh": list(live.DARK_PROBE_SIZE),
            "resize": AREA_OPENCV,
            "grey": GREY,
            "percentile": live.DARK_PERCENTILE,
            "percentile_rule": "numpy linear interpolation between sorted grey levels",
            "too_dark_below": config.dark_threshold,
            "then": "state too_dark; the frame does not count in k of n",
        },
        "face_finder": {
            "min_face_size": config.min_face_size,
            "detector_min_face": mtcnn.LIVE_MIN_FACE,
            "detector_scale": "s = min(1, detector_min_face / min_face_size); unless "
            "|s - 1| <= 0.001 the frame is resized to (max(12, round(w * s)), "
            "max(12, round(h * s))) and s becomes the new width / w",
            "resize": AREA_OPENCV,
            "boxes_and_landmarks": "divided by s (back to frame pixels)",
            "keep": "min(box width, box height) >= min_size_fraction * min_face_size",
            "min_size_fraction": live.MIN_SIZE_FRACTION,
            "choose": "largest box area",
        },
        "tracking": {
            "refresh_every": live.REFRESH_EVERY,
            "rule": "after a frame with a face, up to refresh_every frames re-locate it "
            "near the previous box; a full detection runs when that fails or after "
            "refresh_every tracked frames (and on the first frame)",
            "passes": live.TRACK_PASSES,
            "pass": "seed = square of side sqrt(max(w * h, 1)) around the box centre; on "
            "the full-resolution frame, O-Net stage only: onet.net_crops, O-Net, keep "
            "prob > thresholds[2], landmarks, bbreg (no nms); no face: lost",
            "lost_when": "the final face's min side < min_size_fraction * min_face_size, "
            "or its IoU with the previous box < min_iou",
            "min_iou": live.TRACK_MIN_IOU,
        },
        "lighting_gate": {
            "crop": "the 160 x 160 face crop (BGR uint8)",
            "grey": GREY,
            "too_dark_below": config.dark_threshold,
            "too_dark_rule": "mean grey of the whole crop < too_dark_below: state too_dark",
            "inner_rows": list(INNER_ROWS),
            "inner_cols": list(INNER_COLS),
            "inner": "rows int(h * r0) .. int(h * r1) - 1, cols int(w * c0) .. int(w * c1) - 1",
            "halves": "left = columns [0, inner_w // 2), right = the rest; means in float",
            "side_light": "|ln((left + eps) / (right + eps))|",
            "eps": SIDE_LIGHT_EPS,
            "max_side_light": MAX_SIDE_LIGHT,
            "uneven_rule": "side_light > max_side_light: state uneven_light",
            "then": "a gated face is not embedded and does not count in k of n",
        },
    }


def crop_contract() -> dict:
    """`models.crop.crop_face` and `normalise`."""
    return {
        "size": CROP_SIZE,
        "margin_fraction_of_longer_side": MARGIN_FRACTION,
        "box": "grow = margin * max(x2 - x1, y2 - y1); left = clip(rint(x1 - grow), 0, "
        "w - 1), top = clip(rint(y1 - grow), 0, h - 1), right = clip(rint(x2 + grow), "
        "left + 1, w), bottom = clip(rint(y2 + grow), top + 1, h); rint rounds half to even",
        "pixels": "rows top .. bottom - 1, cols left .. right - 1 of the full-resolution frame",
        "resize": AREA_OPENCV,
        "normalisation": {**NORMALISATION, "formula": "(x - mean) * scale, float32"},
    }


def decision_contract(config: Config) -> dict:
    """The unlock network's files and the k-of-n rule."""
    return {
        "threshold": THRESHOLD,
        "p": "unlock.onnx(crop), or head.onnx(embedder.onnx(crop), enrolled)",
        "k": config.k,
        "n": config.n,
        "rule": "UNLOCKED on a frame when its p >= threshold and at least k of the last n "
        "frames with a scored face (not no_face, too_dark or uneven_light) had "
        "p >= threshold, this one included",
        "timeout_s": config.timeout_s,
        "lockout": {"attempts": config.lockout_attempts, "seconds": config.lockout_s},
        "head": {
            "file": "head.onnx",
            "inputs": "live N x 512, enrolled K x 512 (L2-normalised embeddings, K >= 1)",
            "features": list(FEATURE_NAMES),
            "offset_bins": list(OFFSET_BINS),
            "offset_rule": f"bin {TIGHT_BIN} ('tight') when K >= 2 and the mean pairwise "
            f"cosine >= {TIGHT_PAIRWISE}; otherwise min(max(K, 1), 5) - 1",
            "tight_pairwise": TIGHT_PAIRWISE,
        },
    }


def liveness_contract(config: Config) -> dict:
    """The liveness option (`unlock.app.liveness`) and its parameters."""
    from faceunlock.unlock.app import liveness as lv

    return {
        "enabled": config.liveness,
        "params": asdict(lv.LivenessParams()),
        "plane_points": list(lv.PLANE_POINTS),
        "nose": lv.NOSE,
        "homography": {
            "solve": "exact 8 x 8 linear system of the 4 point pairs (h33 = 1), LU with "
            "partial pivoting; degenerate when its 2-norm condition number > max_condition",
            "max_condition": lv.MAX_CONDITION,
            "min_w": lv.MIN_W,
        },
        "states": [lv.NO_FACE, lv.NEED_MOTION, lv.SPOOF, lv.LIVE],
        "unlock_waits_state": live.MOVE_HEAD,
        "rule": "unlock.app.liveness.LivenessChecker: nose parallax against the homography "
        "of the four plane landmarks between smoothed frames; an unlock waits "
        "(state move_head) until the head moved",
    }
