"""Quality gates for enrolment frames: face size, pose, light, sharpness, variety, identity.

Each gate returns a reason string when a frame fails it (None when it passes), so the
enrolment can say why it did not get enough good frames. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from faceunlock.enroll.guidance import head_yaw, turned_too_far
from faceunlock.models.crop import face_lighting
from faceunlock.models.face import Face
from faceunlock.models.unlock_head.scorer import MAX_SIDE_LIGHT


@dataclass(frozen=True)
class QualityGates:
    """Thresholds of the enrolment quality gates."""

    min_face_size: int = 60  # px, shorter side of the detected box
    min_confidence: float = 0.95  # MTCNN face probability
    min_brightness: float = 40.0  # mean grey level of the face crop (0-255)
    min_sharpness: float = 20.0  # variance of the Laplacian of the grey 160 px face crop
    min_same_person: float = 0.45  # cosine to the enrolment's consensus face


def sharpness(crop_bgr: np.ndarray) -> float:
    """Variance of the Laplacian of the grey face crop: low means blurred."""
    grey = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def check_frame(face: Face, crop_bgr: np.ndarray, gates: QualityGates) -> str | None:
    """Why this face is not good enough to enrol, or None if it passes the per-frame gates."""
    if face.size < gates.min_face_size:
        return f"face too small ({face.size:.0f} px < {gates.min_face_size} px)"
    if face.confidence < gates.min_confidence:
        return f"unsure face ({face.confidence:.2f})"
    if turned_too_far(face):
        offset, span = head_yaw(face)
        return f"face turned too far from the camera (nose offset {offset:+.2f}, eyes {span:.2f})"
    light, side = face_lighting(crop_bgr)
    if light < gates.min_brightness:
        return f"too dark (mean grey {light:.0f} < {gates.min_brightness:.0f})"
    if side > MAX_SIDE_LIGHT:
        return f"light from one side (one half {np.exp(side):.1f}x as bright as the other)"
    sharp = sharpness(crop_bgr)
    if sharp < gates.min_sharpness:
        return f"blurred (Laplacian variance {sharp:.0f} < {gates.min_sharpness:.0f})"
    return None


def consensus_members(embeddings: np.ndarray, min_cosine: float) -> np.ndarray:
    """Indices of the largest group of frames showing the same person as the medoid frame."""
    if len(embeddings) <= 1:
        return np.arange(len(embeddings))
    cos = embeddings @ embeddings.T
    support = (cos >= min_cosine).sum(axis=1)
    centre = int(np.argmax(support + cos.mean(axis=1) * 1e-3))
    return np.flatnonzero(cos[centre] >= min_cosine)


def select_varied(embeddings: np.ndarray, limit: int) -> list[int]:
    """Up to `limit` frames that cover the most variety, most central first.

    Farthest-point sampling: start from the frame most like all the others, then keep
    adding the frame least like any already kept. Near-identical frames are never a
    reason to refuse: a person who sits still gets the `limit` most different frames the
    camera gave.
    """
    n = len(embeddings)
    if n <= limit:
        return list(range(n))
    cos = embeddings @ embeddings.T
    kept = [int(np.argmax(cos.mean(axis=1)))]
    closest = cos[kept[0]].copy()
    while len(kept) < limit:
        closest[kept] = np.inf
        nxt = int(np.argmin(closest))
        kept.append(nxt)
        closest = np.maximum(closest, cos[nxt])
    return kept
