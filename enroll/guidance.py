"""Head pose from MTCNN's five landmarks, and what to tell a person who is enrolling.

A camera enrolment keeps the most varied of the frames it sees. Someone who sits still
gives near-identical frames, so the enrolment asks for a small turn of the head one way,
then the other, and shows its progress; a face turned too far (a profile) is refused,
because the embedding of a profile is unlike the frontal faces the loop later scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from faceunlock.models.face import Face

# The nose's horizontal offset from the eyes' midpoint, in eye distances: about 0 for a
# face looking at the camera, +-0.2 to 0.4 for a small turn, beyond 1 for a profile.
YAW_CENTRE = 0.1  # |offset| below this: facing the camera
YAW_TURNED = 0.15  # |offset| above this: a turn to one side
MAX_YAW = 0.75  # |offset| above this: turned too far to enrol
# Eye distance over box width: 0.41-0.50 for faces towards the camera, 0.21-0.29 for
# profiles (where MTCNN's nose landmark is unreliable).
MIN_EYE_SPAN = 0.33


def head_yaw(face: Face) -> tuple[float, float] | None:
    """(nose offset, eye span) of a face, or None when it has no usable landmarks."""
    points = np.asarray(face.landmarks, np.float64).reshape(-1, 2)
    if len(points) < 3:
        return None
    left_eye, right_eye, nose = points[0], points[1], points[2]
    eye_distance = float(np.linalg.norm(right_eye - left_eye))
    width = float(face.box[2] - face.box[0])
    if eye_distance < 1e-3 or width <= 0:
        return None
    offset = (nose[0] - (left_eye[0] + right_eye[0]) / 2) / eye_distance
    return float(offset), eye_distance / width


def turned_too_far(face: Face) -> bool:
    """True for a face turned too far from the camera to enrol (a profile)."""
    pose = head_yaw(face)
    if pose is None:
        return False
    offset, span = pose
    return abs(offset) > MAX_YAW or span < MIN_EYE_SPAN


@dataclass
class PoseCoverage:
    """Which head poses the kept frames cover, and the instruction that widens them.

    `per_side` kept frames turned each way and twice that facing the camera make an
    enrolment varied enough; until then `instruction()` says what to do next.
    """

    per_side: int = 3
    counts: dict[str, int] = field(default_factory=lambda: {"left": 0, "centre": 0, "right": 0})
    first_side: str | None = None

    def add(self, face: Face) -> None:
        """Count a kept frame's pose."""
        pose = head_yaw(face)
        offset = 0.0 if pose is None else pose[0]
        if abs(offset) < YAW_CENTRE:
            self.counts["centre"] += 1
            return
        if abs(offset) < YAW_TURNED:
            return  # between: neither facing nor turned
        side = "left" if offset < 0 else "right"
        self.counts[side] += 1
        if self.first_side is None and self.counts[side] >= self.per_side:
            self.first_side = side

    @property
    def complete(self) -> bool:
        """Enough frames facing the camera and turned each way."""
        c = self.counts
        return c["centre"] >= 2 * self.per_side and min(c["left"], c["right"]) >= self.per_side

    def instruction(self) -> str | None:
        """What the person should do now (None when the poses are covered)."""
        if self.complete:
            return None
        if self.counts["centre"] < 2 * self.per_side:
            return "look at the camera"
        if self.first_side is None:
            return "turn your head a little to one side"
        return "now turn a little the other way"
