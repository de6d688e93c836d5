"""Guided enrolment: head pose from the landmarks, the pose instructions, profile refusal."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from faceunlock.enroll.enrolment import collect_embeddings
from faceunlock.enroll.guidance import PoseCoverage, head_yaw, turned_too_far
from faceunlock.enroll.quality import QualityGates
from faceunlock.models.face import Face
from faceunlock.unlock import media
from faceunlock.unlock.app.window import draw_enrolment
from faceunlock.unlock.errors import FaceUnlockError


def _face(nose_offset: float, eye_distance: float = 40.0, width: float = 100.0) -> Face:
    """A synthetic face whose nose sits `nose_offset` eye distances beside the eyes' middle."""
    left, right = np.array([30.0, 40.0]), np.array([30.0 + eye_distance, 40.0])
    nose = np.array([30.0 + eye_distance / 2 + nose_offset * eye_distance, 60.0])
    landmarks = np.stack([left, right, nose, [35.0, 80.0], [65.0, 80.0]])
    return Face((0.0, 0.0, width, width * 1.2), 0.99, landmarks)


def _clip_frames(first: int, last: int) -> list[np.ndarray]:
    frames = media.clip_frames(first=first, last=last)
    assert len(frames) == last - first + 1
    return frames


def _write_video(path: Path, frames: list[np.ndarray]) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (w, h))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def test_head_yaw_from_landmarks():
    assert head_yaw(_face(0.0)) == pytest.approx((0.0, 0.4))
    assert head_yaw(_face(-0.3))[0] == pytest.approx(-0.3)
    assert not turned_too_far(_face(0.2)) and not turned_too_far(_face(-0.6))
    assert turned_too_far(_face(1.1))  # the nose beyond the eyes: a profile
    assert turned_too_far(_face(0.0, eye_distance=25.0))  # eyes squeezed together
    no_landmarks = Face((0.0, 0.0, 100.0, 120.0), 0.99, np.zeros((5, 2)))
    assert head_yaw(no_landmarks) is None and not turned_too_far(no_landmarks)


def test_profiles_in_the_clip_are_turned_too_far(pipeline):
    frontal = pipeline.detect(_clip_frames(90, 90)[0])[0]
    profile = pipeline.detect(_clip_frames(30, 30)[0])[0]
    assert not turned_too_far(frontal) and turned_too_far(profile)


def test_pose_coverage_asks_for_a_turn_each_way():
    coverage = PoseCoverage(per_side=2)
    said = [coverage.instruction()]
    for offset in [0.0] * 4 + [-0.3] * 2 + [0.12] + [0.3] * 2:
        coverage.add(_face(offset))
        said.append(coverage.instruction())
    assert said[0] == "look at the camera"
    assert said[4] == "turn your head a little to one side"
    assert said[6] == said[7] == "now turn a little the other way"  # 0.12: neither way
    assert said[-1] is None and coverage.complete
    assert coverage.counts == {"left": 2, "centre": 4, "right": 2}


def test_interactive_enrolment_guides_every_frame(pipeline, tmp_path):
    video = _write_video(tmp_path / "lin.mp4", _clip_frames(84, 140))
    seen = []

    def guide(frame, face, status, kept, wanted, instruction):
        seen.append((status, kept, wanted, instruction))
        image = draw_enrolment(frame, face, status, kept, wanted, instruction)
        assert image.shape == frame.shape and not np.array_equal(image, frame)

    embeddings, report = collect_embeddings(
        pipeline, str(video), 6, QualityGates(), False, guide=guide, interactive=True
    )
    assert len(seen) == report.candidates and len(embeddings) == 6
    assert [kept for _, kept, _, _ in seen] == sorted(kept for _, kept, _, _ in seen)
    said = {instruction for *_, instruction in seen}
    assert "look at the camera" in said and "turn your head a little to one side" in said


def test_a_profile_video_is_refused_with_the_reason(pipeline, tmp_path):
    video = _write_video(tmp_path / "profile.mp4", _clip_frames(24, 42))
    with pytest.raises(FaceUnlockError, match="face turned too far"):
        collect_embeddings(pipeline, str(video), 4, QualityGates(), False)


def test_draw_enrolment_rings_the_progress():
    frame = np.full((240, 320, 3), 128, np.uint8)
    face = _face(0.0)
    empty = draw_enrolment(frame, face, "ok", 0, 10, "look at the camera")
    half = draw_enrolment(frame, face, "ok", 5, 10, "look at the camera")
    full = draw_enrolment(frame, face, "ok", 10, 10, None)
    green = [int((image == (60, 200, 40)).all(axis=2).sum()) for image in (empty, half, full)]
    assert green[0] + 100 < green[1] < green[2] - 100  # the ring grows with the progress


def test_a_camera_reads_on_until_the_poses_are_covered():
    from faceunlock.enroll.enrolment import _enough

    covered, still = PoseCoverage(per_side=1), PoseCoverage(per_side=1)
    for offset in (0.0, 0.0, -0.3, 0.3):
        covered.add(_face(offset))
    for _ in range(4):
        still.add(_face(0.0))
    assert _enough("camera", 40, 20, covered, interactive=True)
    assert not _enough("camera", 40, 20, still, interactive=True)  # asks for a turn
    assert _enough("camera", 80, 20, still, interactive=True)  # but not for ever
    assert _enough("camera", 40, 20, still, interactive=False)
    assert not _enough("video", 500, 20, covered, interactive=False)  # read to the end
