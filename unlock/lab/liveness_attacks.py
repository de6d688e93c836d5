"""Simulated presentation attacks: a face photo moved in front of a camera, frame by frame.

A printed photo or a phone screen is a plane. Held in front of a pinhole camera, plane
point X maps to the image by the homography K [r1 r2 t]; moving the photo changes the
rotation R and translation t smoothly. Each attack is a sequence of rendered camera
frames (the photo warped onto a background), optionally degraded the way a print or a
cheap camera degrades it, so the real face detector sees it with its real jitter.

Attack types:
- `scale_shift`: moved sideways, nearer and farther, rotated in the image plane only;
- `homography`: also tilted and turned (up to ~35 degrees), with perspective;
- `print_blur`: tilted, and blurred / lower contrast like an inkjet print;
- `noise`: tilted, with sensor noise and JPEG compression;
- `colour`: tilted, with colour casts, gamma and brightness changes.
"""

from __future__ import annotations

import cv2
import numpy as np

ATTACK_TYPES = ("scale_shift", "homography", "print_blur", "noise", "colour")
FRAME_SIZE = (640, 480)  # width, height of the simulated camera
FOCAL_PX = 560.0  # about 60 degrees horizontal field of view


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation matrix from angles in degrees (yaw about y, pitch about x, roll about z)."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def photo_homography(
    photo_size: tuple[int, int],
    yaw: float,
    pitch: float,
    roll: float,
    shift: tuple[float, float],
    face_px: float,
    frame_size: tuple[int, int] = FRAME_SIZE,
) -> np.ndarray:
    """Homography taking photo pixels to camera pixels for a photo plane in a given pose.

    The photo's centre sits `shift` (pixels at the image centre) off the optical axis,
    at the distance where the photo's width spans about `face_px` camera pixels.
    """
    w, h = photo_size
    fw, fh = frame_size
    k = np.array([[FOCAL_PX, 0, fw / 2], [0, FOCAL_PX, fh / 2], [0, 0, 1.0]])
    depth = FOCAL_PX * w / face_px  # photo pixels are the plane's length unit
    t = np.array([shift[0] * depth / FOCAL_PX, shift[1] * depth / FOCAL_PX, depth])
    rot = _rotation(yaw, pitch, roll)
    plane_to_camera = np.column_stack([rot[:, 0], rot[:, 1], t])
    centre = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1.0]])
    hom = k @ plane_to_camera @ centre
    return hom / hom[2, 2]


def _background(rng: np.random.Generator, frame_size: tuple[int, int]) -> np.ndarray:
    fw, fh = frame_size
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    base = cv2.resize(small, (fw, fh), interpolation=cv2.INTER_CUBIC)
    return cv2.addWeighted(base, 0.6, np.full_like(base, rng.integers(40, 200)), 0.4, 0)


def _print_like(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sigma = rng.uniform(1.0, 2.2)
    out = cv2.GaussianBlur(photo, (0, 0), sigma)
    low, high = rng.uniform(15, 45), rng.uniform(205, 240)  # ink and paper limits
    return (low + out.astype(np.float32) * (high - low) / 255.0).astype(np.uint8)


def _colour_shift(frame: np.ndarray, gains, gamma: float, offset: float) -> np.ndarray:
    x = frame.astype(np.float32) / 255.0
    x = np.clip(x * np.asarray(gains, np.float32), 0, 1) ** gamma
    return np.clip(x * 255.0 + offset, 0, 255).astype(np.uint8)


def attack_sequence(
    photo_bgr: np.ndarray,
    attack: str,
    frames: int,
    rng: np.random.Generator,
    frame_size: tuple[int, int] = FRAME_SIZE,
) -> list[np.ndarray]:
    """Camera frames of `photo_bgr` moved before the camera like attack type `attack`."""
    if attack not in ATTACK_TYPES:
        raise ValueError(f"unknown attack {attack!r}; expected one of {ATTACK_TYPES}")
    h, w = photo_bgr.shape[:2]
    photo = photo_bgr
    if rng.random() < 0.5:  # a white paper margin around the print
        pad = int(rng.integers(5, 25))
        photo = cv2.copyMakeBorder(photo, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(235,) * 3)
        h, w = photo.shape[:2]
    if attack == "print_blur":
        photo = _print_like(photo, rng)
    tilt = 0.0 if attack == "scale_shift" else rng.uniform(15.0, 35.0)

    # a smooth hand-held trajectory: start and end poses plus a wobble
    def pose() -> np.ndarray:
        return np.array(
            [
                rng.uniform(-tilt, tilt),  # yaw
                rng.uniform(-tilt, tilt),  # pitch
                rng.uniform(-15, 15),  # roll
                rng.uniform(-90, 90),  # shift x
                rng.uniform(-60, 60),  # shift y
                rng.uniform(1.0, 2.0) * w,  # photo width on screen, px
            ]
        )

    start, end = pose(), pose()
    wobble = rng.normal(0, 1, 6) * np.array([tilt / 4, tilt / 4, 3, 10, 10, 0.05 * w])
    phase = rng.uniform(0, 2 * np.pi)
    background = _background(rng, frame_size)
    gains = rng.uniform(0.7, 1.3, 3)
    gamma, offset = rng.uniform(0.6, 1.6), rng.uniform(-30, 30)
    noise_sigma, jpeg_quality = rng.uniform(4, 12), int(rng.integers(35, 75))
    out = []
    for i in range(frames):
        s = i / max(frames - 1, 1)
        p = start + (end - start) * (0.5 - 0.5 * np.cos(np.pi * s))
        p = p + wobble * np.sin(2 * np.pi * 1.5 * s + phase)
        hom = photo_homography((w, h), p[0], p[1], p[2], (p[3], p[4]), p[5], frame_size)
        frame = cv2.warpPerspective(
            photo, hom, frame_size, dst=background.copy(), borderMode=cv2.BORDER_TRANSPARENT
        )
        if attack == "noise":
            frame = np.clip(frame + rng.normal(0, noise_sigma, frame.shape), 0, 255)
            ok, buf = cv2.imencode(
                ".jpg", frame.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
            )
            frame = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        elif attack == "colour":
            frame = _colour_shift(frame, gains, gamma, offset)
        out.append(frame.astype(np.uint8))
    return out


def degrade_frame(frame: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """A genuine camera frame degraded like the attacks (to test genuine users fairly)."""
    if kind == "plain":
        return frame
    if kind == "blur":
        return cv2.GaussianBlur(frame, (0, 0), 1.5)
    if kind == "noise":
        noisy = np.clip(frame + rng.normal(0, 8, frame.shape), 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 50])
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if kind == "colour":
        return _colour_shift(frame, (1.2, 0.95, 0.8), 1.3, -15)
    if kind == "dim":
        return _colour_shift(frame, (0.5, 0.5, 0.5), 1.2, 0)
    raise ValueError(f"unknown degradation {kind!r}")


GENUINE_KINDS = ("plain", "blur", "noise", "colour", "dim")
