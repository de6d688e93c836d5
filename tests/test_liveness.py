"""Liveness: flat pictures move their landmarks by one homography, real heads do not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceunlock.models.face import Face
from faceunlock.unlock import media
from faceunlock.unlock.app.live import FaceFinder
from faceunlock.unlock.app.liveness import (
    LIVE,
    NEED_MOTION,
    NO_FACE,
    SPOOF,
    LivenessChecker,
    homography,
    parallax,
    plane_motion,
)
from faceunlock.unlock.lab.liveness_attacks import attack_sequence, photo_homography

# A rough 3-D face (units: inter-ocular distance 1), x right, y down, z towards the camera:
# eyes, nose tip (in front of the eye-mouth plane), mouth corners.
HEAD = np.array(
    [[-0.5, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.55, 0.45], [-0.4, 1.0, -0.05], [0.4, 1.0, -0.05]]
)


def face_from(points: np.ndarray) -> Face:
    x1, y1 = points.min(0) - 20
    x2, y2 = points.max(0) + 20
    return Face((x1, y1, x2, y2), 0.99, points.astype(np.float32))


def project_head(yaw: float, pitch: float = 0.0, scale: float = 120.0, at=(320, 240)):
    """The 2-D landmarks of HEAD turned by yaw/pitch (degrees), seen from 4 units away."""
    y, p = np.radians([yaw, pitch])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    pts = HEAD @ (rx @ ry).T
    depth = 4.0 - pts[:, 2]
    return np.column_stack([pts[:, 0] / depth, pts[:, 1] / depth]) * scale * 4 + np.array(at)


def random_homography(rng: np.random.Generator) -> np.ndarray:
    return photo_homography(
        (250, 250),
        yaw=rng.uniform(-35, 35),
        pitch=rng.uniform(-35, 35),
        roll=rng.uniform(-15, 15),
        shift=(rng.uniform(-80, 80), rng.uniform(-60, 60)),
        face_px=rng.uniform(250, 500),
    )


def warp_points(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    p = np.column_stack([points, np.ones(len(points))]) @ h.T
    return p[:, :2] / p[:, 2:]


def test_homography_is_exact_on_four_points():
    rng = np.random.default_rng(0)
    src = project_head(0)[[0, 1, 3, 4]]
    h = random_homography(rng)
    dst = warp_points(h, src)
    assert np.allclose(warp_points(homography(src, dst), src), dst, atol=1e-6)
    assert homography(np.zeros((4, 2)), dst) is None  # degenerate


def test_any_motion_of_a_flat_picture_has_no_parallax():
    rng = np.random.default_rng(1)
    photo = project_head(0)
    for _ in range(50):
        a = warp_points(random_homography(rng), photo)
        b = warp_points(random_homography(rng), photo)
        assert parallax(a, b) < 1e-6
    # a similarity (sideways, nearer, rotated in the image) does not deform the plane
    angle = np.radians(20)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    assert plane_motion(photo, photo @ rot.T * 1.7 + 30) < 1e-9


def test_a_turning_head_has_parallax():
    front = project_head(0)
    assert parallax(front, project_head(4)) < parallax(front, project_head(12))
    assert parallax(front, project_head(15)) > 0.1
    assert parallax(front, project_head(35)) > LivenessChecker().params.min_parallax
    assert parallax(front, project_head(0, pitch=15)) > 0.1
    moved = front.copy()
    moved[2] += (0.2 * np.linalg.norm(front[1] - front[0]), 0)
    assert parallax(front, moved) == pytest.approx(0.2, rel=1e-6)


def test_checker_accepts_a_head_turn_and_refuses_a_tilted_photo():
    rng = np.random.default_rng(2)
    checker = LivenessChecker()
    assert checker.state == NO_FACE and not checker.is_live
    for yaw in np.linspace(0, 35, 15):
        noisy = project_head(yaw) + rng.normal(0, 0.3, (5, 2))
        checker.update(face_from(noisy), (480, 640, 3))
    assert checker.is_live and checker.state == LIVE

    checker.reset()
    assert checker.state == NO_FACE
    photo = project_head(0)
    poses = [random_homography(rng) for _ in range(2)]
    for t in np.linspace(0, 1, 40):
        h = poses[0] * (1 - t) + poses[1] * t
        noisy = warp_points(h, photo) + rng.normal(0, 0.3, (5, 2))
        checker.update(face_from(noisy), (480, 640, 3))
    assert not checker.is_live
    assert checker.state in (SPOOF, NEED_MOTION)


def test_checker_asks_for_motion_when_the_head_holds_still():
    checker = LivenessChecker()
    rng = np.random.default_rng(3)
    for _ in range(30):
        checker.update(face_from(project_head(0) + rng.normal(0, 0.3, (5, 2))), (480, 640))
    assert checker.state == NEED_MOTION and not checker.is_live
    checker.update(None, (480, 640))
    assert checker.state == NEED_MOTION  # a dropped frame does not forget the face


def test_checker_ignores_tiny_faces_and_restarts_on_a_jump():
    checker = LivenessChecker()
    for yaw in np.linspace(0, 20, 10):
        checker.update(face_from(project_head(yaw, scale=5)), (480, 640))
    assert checker.state == NO_FACE  # eyes 5 px apart: too coarse to judge
    for yaw in np.linspace(0, 10, 8):
        checker.update(face_from(project_head(yaw)), (480, 640))
    assert not checker.is_live
    seen_before = checker.max_parallax
    checker.update(face_from(project_head(12, at=(600, 100))), (480, 640))
    # another place: another face, start over (only the new face's frame is remembered)
    assert checker.live_frames == 0 and len(checker._recent) == 1
    assert checker.max_parallax == 0.0 < seen_before


def test_liveness_earned_by_one_face_does_not_carry_over_to_another():
    """Move your own head, then hold up the owner's photo: the photo must move again."""
    rng = np.random.default_rng(4)

    def live_checker():
        checker = LivenessChecker()
        for yaw in np.linspace(0, 35, 15):
            checker.update(face_from(project_head(yaw) + rng.normal(0, 0.3, (5, 2))), (480, 640))
        assert checker.is_live
        return checker

    checker = live_checker()  # the photo shown somewhere else in the frame: another face
    checker.update(face_from(project_head(0, at=(560, 120))), (480, 640))
    assert not checker.is_live and checker.state == NEED_MOTION
    checker = live_checker()  # the head leaves the frame before the photo comes in
    checker.update(None, (480, 640))
    assert not checker.is_live and checker.state == NO_FACE
    checker.update(face_from(project_head(35)), (480, 640))
    assert not checker.is_live
    checker = live_checker()  # the same face staying put stays live
    checker.update(face_from(project_head(35)), (480, 640))
    assert checker.is_live


@pytest.mark.parametrize("attack", ["homography", "print_blur"])
def test_simulated_photo_attack_through_the_real_detector(pipeline, lfw_fixtures, attack):
    """LFW photos moved before a simulated camera, landmarks from MTCNN: never live."""
    rng = np.random.default_rng(4)
    photo = cv2.imread(str(lfw_fixtures / "Tony_Blair/Tony_Blair_0001.jpg"))
    frames = attack_sequence(photo, attack, 30, rng)
    finder = FaceFinder(pipeline.detector, 40)  # the live loop's face finder
    checker = LivenessChecker()
    seen = 0
    for frame in frames:
        face = finder.find(frame)
        seen += face is not None
        checker.update(face, frame.shape)
    assert seen >= 25
    assert not checker.is_live and checker.state in (SPOOF, NEED_MOTION)
    assert checker.max_parallax < checker.params.min_parallax


def test_real_head_motion_from_the_bundled_clip_is_live(pipeline):
    """Lin-Manuel Miranda turning his head (frames 84-150, every third frame: ~10 fps)."""
    frames = media.clip_frames(every=3, first=84, last=150)
    assert len(frames) == 23
    finder = FaceFinder(pipeline.detector, 40)
    checker = LivenessChecker()
    for frame in frames:
        checker.update(finder.find(frame), frame.shape)
    assert checker.is_live
    assert checker.max_parallax > checker.params.min_parallax


class _ScriptedDetector:
    """A detector that finds, on every frame, the face the test put in front of it."""

    min_face_size = 80

    def __init__(self) -> None:
        self.face = None

    def infer(self, image):
        return [self.face]

    def refine(self, image, faces):
        return [self.face]


class _SameEmbedding:
    """A pipeline whose every crop embeds to the enrolled face: only liveness can refuse."""

    def __init__(self, detector, embedding) -> None:
        self.detector = detector
        self.embedding = embedding

    def embed_crops(self, crops):
        return np.stack([self.embedding for _ in crops])


def _run_loop(landmark_frames):
    """States of a liveness-checking UnlockLoop over frames whose face has these landmarks."""
    from faceunlock.enroll.profile import Profile
    from faceunlock.models.unlock_head.scorer import UnlockScorer
    from faceunlock.unlock.app.live import ProfileScorer, UnlockLoop
    from faceunlock.unlock.config import Config

    embedding = np.zeros(512, np.float32)
    embedding[0] = 1.0
    detector = _ScriptedDetector()
    profile = Profile("owner", embedding[None], "sha")
    loop = UnlockLoop(
        _SameEmbedding(detector, embedding),
        ProfileScorer([profile], UnlockScorer()),
        Config(),
        liveness=LivenessChecker(),
    )
    frame = np.full((480, 640, 3), 128, np.uint8)
    states = []
    for i, points in enumerate(landmark_frames):
        detector.face = face_from(points)
        states.append(loop.step(frame, i, i * 100.0).state)
    return states


def test_the_unlock_loop_waits_for_liveness_and_refuses_a_moved_photo():
    from faceunlock.unlock.app.live import MOVE_HEAD, UNLOCKED

    rng = np.random.default_rng(5)
    turning = [project_head(yaw) + rng.normal(0, 0.3, (5, 2)) for yaw in np.linspace(0, 35, 15)]
    states = _run_loop(turning)
    assert states[2] == MOVE_HEAD  # k of n agree, but the head has not moved yet
    assert UNLOCKED in states and states.index(UNLOCKED) > 2

    photo = project_head(0)
    poses = [random_homography(rng) for _ in range(2)]
    moved = [
        warp_points(poses[0] * (1 - t) + poses[1] * t, photo) + rng.normal(0, 0.3, (5, 2))
        for t in np.linspace(0, 1, 30)
    ]
    states = _run_loop(moved)
    assert UNLOCKED not in states and states.count(MOVE_HEAD) >= 25
