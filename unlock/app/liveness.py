"""Liveness against flat pictures: a small head movement must show 3-D parallax.

A photo or a phone screen moved in front of the camera is a plane: its five landmarks
(eyes, nose, mouth corners) move together by one homography, whatever the movement.
A real head turning moves the nose tip, which sticks out of the eye-mouth plane, off
the position that plane's homography predicts. `parallax` measures exactly that: fit
the homography of the four eye and mouth-corner landmarks between two frames, map the
nose with it, and take the distance to the observed nose, in inter-ocular distances.

`LivenessChecker` averages the landmarks over a few frames (MTCNN jitters by a pixel or
two) and says `live` once consecutive frames show parallax above a threshold against
earlier frames. It stops flat pictures (prints, screens, tilted or moved in any way);
it does not stop a replayed video of the
owner, a 3-D mask, or a photo folded along the nose. Numpy only, no torch.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from faceunlock.models.face import Face

PLANE_POINTS = (0, 1, 3, 4)  # left eye, right eye, left mouth corner, right mouth corner
NOSE = 2

NEED_MOTION = "need_motion"
LIVE = "live"
SPOOF = "spoof"
NO_FACE = "no_face"

MAX_CONDITION = 1e12  # a homography system worse conditioned than this is degenerate
MIN_W = 1e-9  # a point the homography maps this near the line at infinity maps nowhere


@dataclass(frozen=True)
class LivenessParams:
    """Thresholds of the liveness check (chosen with `faceunlock eval liveness`)."""

    min_parallax: float = 0.20  # nose residual, in inter-ocular distances, that counts as 3-D
    min_frames: int = 2  # consecutive frames whose parallax exceeds min_parallax
    smooth: int = 3  # landmarks are averaged over this many frames (detector jitter)
    spoof_motion: float = 0.12  # plane deformation with no parallax that reads as a picture
    history: int = 30  # earlier (smoothed) frames each new frame is compared with
    min_eye_distance: float = 12.0  # px; smaller faces give landmarks too coarse to use
    max_jump: float = 1.0  # a face centre moving more than this many face widths resets


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """The 3 x 3 homography mapping 4 points `src` onto `dst` exactly (None if degenerate)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(np.asarray(src, float), np.asarray(dst, float)):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rhs.append(u)
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.append(v)
    a = np.asarray(rows)
    if np.linalg.cond(a) > MAX_CONDITION:
        return None
    h = np.linalg.solve(a, np.asarray(rhs))
    return np.append(h, 1.0).reshape(3, 3)


def _apply(h: np.ndarray, point: np.ndarray) -> np.ndarray | None:
    x, y, w = h @ np.array([point[0], point[1], 1.0])
    if abs(w) < MIN_W:
        return None
    return np.array([x / w, y / w])


def eye_distance(landmarks: np.ndarray) -> float:
    """Distance between the two eyes, in pixels."""
    return float(np.linalg.norm(landmarks[1] - landmarks[0]))


def parallax(reference: np.ndarray, current: np.ndarray) -> float:
    """How far the nose leaves the eye-mouth plane between two frames (inter-ocular units).

    0 for any motion of a flat picture (up to landmark noise); grows with a real head's
    turn or nod. Returns 0 when the four plane points are degenerate.
    """
    ref = np.asarray(reference, float)
    cur = np.asarray(current, float)
    h = homography(ref[list(PLANE_POINTS)], cur[list(PLANE_POINTS)])
    if h is None:
        return 0.0
    predicted = _apply(h, ref[NOSE])
    scale = eye_distance(cur)
    if predicted is None or scale <= 0:
        return 0.0
    value = float(np.linalg.norm(predicted - cur[NOSE]) / scale)
    return value if np.isfinite(value) else 0.0


def plane_motion(reference: np.ndarray, current: np.ndarray) -> float:
    """How much the four plane points changed shape beyond a similarity (inter-ocular units).

    Moving a face (real or printed) sideways, nearer or rotating it in the image plane
    gives 0; tilting a picture or turning a head gives more.
    """
    src = np.asarray(reference, float)[list(PLANE_POINTS)]
    dst = np.asarray(current, float)[list(PLANE_POINTS)]
    src_c, dst_c = src - src.mean(0), dst - dst.mean(0)
    # similarity src -> dst in complex form: dst ~ a * src, a = scale * rotation
    zs = src_c[:, 0] + 1j * src_c[:, 1]
    zd = dst_c[:, 0] + 1j * dst_c[:, 1]
    denom = np.vdot(zs, zs).real
    if denom <= 0:
        return 0.0
    a = np.vdot(zs, zd) / denom
    residual = np.sqrt(np.mean(np.abs(zd - a * zs) ** 2))
    scale = eye_distance(np.asarray(current, float))
    return float(residual / scale) if scale > 0 else 0.0


class LivenessChecker:
    """Decides from a sequence of faces whether they show a 3-D head or a flat picture.

    Call `update(face, frame_shape)` for each frame's face (or `update(None, shape)` when
    there is none). `is_live` turns True once `min_frames` frames showed nose parallax of
    at least `min_parallax` against an earlier frame; `state` is one of 'no_face',
    'need_motion' (move your head a little), 'spoof' (the face moved like a flat
    picture) and 'live'. `reset()` forgets everything (call it for each new attempt).
    """

    def __init__(self, params: LivenessParams | None = None) -> None:
        self.params = params or LivenessParams()
        self.reset()

    def reset(self) -> None:
        """Forget every frame seen so far."""
        self._recent: deque[np.ndarray] = deque(maxlen=self.params.smooth)
        self._history: deque[np.ndarray] = deque(
            maxlen=self.params.history + self.params.smooth - 1
        )
        self._last_centre: tuple[float, float] | None = None
        self._last_width = 0.0
        self.live_frames = 0  # consecutive frames above min_parallax
        self.max_parallax = 0.0
        self.max_plane_motion = 0.0
        self.last_parallax = 0.0
        self.state = NO_FACE

    @property
    def is_live(self) -> bool:
        return self.state == LIVE

    def _follow(self, face: Face) -> None:
        """Track the face's place; a jump means another face (or a lost track): start over."""
        if self._last_centre is not None:
            jump = np.hypot(
                face.centre[0] - self._last_centre[0], face.centre[1] - self._last_centre[1]
            )
            if jump > self.params.max_jump * max(self._last_width, 1.0):
                self.reset()
        self._last_centre, self._last_width = face.centre, face.width

    def update(self, face: Face | None, frame_shape: tuple) -> None:
        """Add one frame's face (None when the frame has none).

        Liveness belongs to the face that moved: when that face is gone (a frame without a
        face) or another face takes its place (a jump), it is forgotten, also once live,
        so a head moved by one person cannot vouch for a photo held up after it.
        """
        if face is None:
            if self.state == LIVE:
                self.reset()
            if not self._recent:
                self.state = NO_FACE
            return
        landmarks = np.asarray(face.landmarks, float).reshape(5, 2)
        if not np.isfinite(landmarks).all() or eye_distance(landmarks) < (
            self.params.min_eye_distance
        ):
            return
        self._follow(face)
        if self.state == LIVE:
            return
        self._recent.append(landmarks)
        if self.state == NO_FACE:
            self.state = NEED_MOTION
        if len(self._recent) < self.params.smooth:
            return
        current = np.mean(self._recent, axis=0)
        # earlier smoothed frames that share no frame with the current average
        overlap = self.params.smooth - 1
        references = list(self._history)[: len(self._history) - overlap]
        self._history.append(current)
        if not references:
            return
        best = max(parallax(ref, current) for ref in references)
        motion = max(plane_motion(ref, current) for ref in references)
        self.last_parallax = best
        self.max_parallax = max(self.max_parallax, best)
        self.max_plane_motion = max(self.max_plane_motion, motion)
        self.live_frames = self.live_frames + 1 if best >= self.params.min_parallax else 0
        if self.live_frames >= self.params.min_frames:
            self.state = LIVE
        elif self.max_plane_motion >= self.params.spoof_motion:
            self.state = SPOOF
        else:
            self.state = NEED_MOTION
