"""A detected face and the policies that choose one face per frame (no torch needed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FACE_CHOICES = ("largest", "nearest_centre")


@dataclass(frozen=True)
class Face:
    """One detected face: box (x1, y1, x2, y2) in pixels, confidence, 5 landmarks (x, y).

    Landmarks are ordered: left eye, right eye, nose, left mouth corner, right mouth corner.
    """

    box: tuple[float, float, float, float]
    confidence: float
    landmarks: np.ndarray

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def size(self) -> float:
        """The shorter side of the box, in pixels."""
        return min(self.width, self.height)

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)


def choose_face(faces: list[Face], image_shape: tuple[int, ...], policy: str) -> Face | None:
    """Pick one face: "largest" (closest to the camera) or "nearest_centre" (LFW's label)."""
    if not faces:
        return None
    if policy == "largest":
        return max(faces, key=lambda f: f.area)
    if policy == "nearest_centre":
        cy, cx = image_shape[0] / 2, image_shape[1] / 2
        return min(faces, key=lambda f: (f.centre[0] - cx) ** 2 + (f.centre[1] - cy) ** 2)
    raise ValueError(f"unknown face choice {policy!r}; expected one of {FACE_CHOICES}")
