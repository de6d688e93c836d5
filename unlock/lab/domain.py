"""The other-domain check: a deterministic degradation of face photos.

`degrade(image, name)` turns an LFW photo into a grayscale, harshly lit, blurred, noisy,
heavily compressed one, the kind of domain shift a webcam in a dim room brings. The
parameters are drawn from a generator seeded by the file name, so the same file always
gets the same degradation (the embedding cache stays valid). Used by
`faceunlock eval unlock --domain degraded` and nowhere in training.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np

DOMAIN_NAME = "degraded-v1"


def _rng(name: str) -> np.random.Generator:
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return np.random.default_rng(seed)


def degrade(image_bgr: np.ndarray, name: str) -> np.ndarray:
    """Grayscale, gamma (0.45-2.2), Gaussian blur, noise and JPEG (quality 15-40), seeded."""
    rng = _rng(name)
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
    gamma = float(np.exp(rng.uniform(np.log(0.45), np.log(2.2))))
    grey = np.power(grey, gamma)
    contrast = rng.uniform(0.6, 1.3)
    grey = np.clip((grey - 0.5) * contrast + 0.5, 0.0, 1.0)
    sigma = rng.uniform(0.6, 1.8)
    grey = cv2.GaussianBlur(grey, (0, 0), sigma)
    grey = grey * 255.0 + rng.normal(0.0, rng.uniform(2.0, 8.0), grey.shape)
    grey = np.clip(grey, 0, 255).astype(np.uint8)
    quality = int(rng.integers(15, 41))
    ok, encoded = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    return cv2.cvtColor(decoded, cv2.COLOR_GRAY2BGR)


STILL_NAME = "still-v1"


def still_frame(image_bgr: np.ndarray, name: str) -> np.ndarray:
    """One frame of a person sitting still in front of a camera, made from a photo, seeded.

    A tiny head motion (rotation up to 4 degrees, scale 0.96-1.04, shift up to 3 % of the
    side), a small change of exposure and contrast, sensor noise and video compression
    (JPEG quality 70-95). Copies of one photo under different `name`s look like the
    near-identical frames a webcam gives of someone who does not move: what a video
    enrolment usually holds. Used to train and calibrate the unlock network on such tight
    enrolments, and never by `eval unlock`.
    """
    rng = _rng(name)
    h, w = image_bgr.shape[:2]
    angle = rng.uniform(-4.0, 4.0)
    scale = rng.uniform(0.96, 1.04)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[:, 2] += rng.uniform(-0.03, 0.03, 2) * (w, h)
    moved = cv2.warpAffine(image_bgr, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
    gain = rng.uniform(0.9, 1.1)
    contrast = rng.uniform(0.9, 1.1)
    out = (moved.astype(np.float32) - 128.0) * contrast + 128.0
    out = out * gain + rng.normal(0.0, 2.0, out.shape)
    out = np.clip(out, 0, 255).astype(np.uint8)
    quality = int(rng.integers(70, 96))
    ok, encoded = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


def still_copy(copy: int):
    """`still_frame` for copy number `copy` (its own seed), as an EmbeddingStore transform."""

    def transform(image_bgr: np.ndarray, name: str) -> np.ndarray:
        return still_frame(image_bgr, f"{name}#{copy}")

    return transform


HARSH_LIGHT_NAME = "harsh-light-v1"


def harsh_light(image_bgr: np.ndarray, name: str) -> np.ndarray:
    """The face lit hard from one side or from above (a desk lamp, a window), seeded.

    Brightness falls off across the image along a random direction (left, right or top:
    from 1.1-1.5 times to 0.08-0.3 times the original), with a gamma of 0.6-1.6 and the
    lit side clipped, as an automatic exposure would leave it. Used by `faceunlock eval
    unlock --domain harsh-light`, never in training.
    """
    rng = _rng(name)
    h, w = image_bgr.shape[:2]
    direction = int(rng.integers(0, 3))  # 0 from the left, 1 from the right, 2 from above
    bright, dark = rng.uniform(1.1, 1.5), rng.uniform(0.08, 0.3)
    ramp = np.linspace(bright, dark, w if direction < 2 else h, dtype=np.float32)
    if direction == 1:
        ramp = ramp[::-1]
    gain = ramp[None, :] if direction < 2 else ramp[:, None]
    gamma = float(np.exp(rng.uniform(np.log(0.6), np.log(1.6))))
    out = np.power(image_bgr.astype(np.float32) / 255.0, gamma) * gain[..., None]
    return np.clip(out * 255.0, 0, 255).astype(np.uint8)


LOW_LIGHT_NAME = "low-light-v1"


def low_light(image_bgr: np.ndarray, name: str) -> np.ndarray:
    """A colour webcam in a dim room, seeded: the scene at 15-45 % of its light, sensor
    noise per channel (sigma 1.5-4 grey levels before gain), the automatic gain that brings
    it back up (amplifying the noise) and video compression (JPEG quality 45-80).

    A training family only (`train_unlock_net`): it shares no step with `degrade` beyond
    JPEG (no grayscale, no blur, no gamma) and is never used by an evaluation.
    """
    rng = _rng(name)
    light = rng.uniform(0.15, 0.45)
    dim = image_bgr.astype(np.float32) * light
    dim += rng.normal(0.0, rng.uniform(1.5, 4.0), dim.shape)
    gain = rng.uniform(0.6, 1.0) / light
    out = np.clip(np.round(np.clip(dim, 0, 255)) * gain, 0, 255).astype(np.uint8)
    quality = int(rng.integers(45, 81))
    ok, encoded = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


LOW_RESOLUTION_NAME = "low-resolution-v1"


def low_resolution(image_bgr: np.ndarray, name: str) -> np.ndarray:
    """A face far from a small camera, moving, seeded: motion blur along a random direction
    (3-9 px), the image shrunk to 30-55 % of its side and scaled back up (bilinear).

    A training family only (`train_unlock_net`), never used by an evaluation.
    """
    rng = _rng(name)
    length = int(rng.integers(3, 10))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    angle = rng.uniform(0.0, 180.0)
    rotation = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    kernel /= max(float(kernel.sum()), 1e-6)
    blurred = cv2.filter2D(image_bgr, -1, kernel, borderType=cv2.BORDER_REFLECT)
    h, w = image_bgr.shape[:2]
    scale = rng.uniform(0.30, 0.55)
    small = cv2.resize(
        blurred, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


TRAINING_FAMILIES = {LOW_LIGHT_NAME: low_light, LOW_RESOLUTION_NAME: low_resolution}
