"""`faceunlock eval live`: the protocol over webcam-like videos, decided by the live loop."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from faceunlock.unlock import media
from faceunlock.unlock.app.live import attempt_unlocks
from faceunlock.unlock.config import Config
from faceunlock.unlock.lab.eval_live import evaluate, find_videos, read_frames, windows

CLIP = media.CLIP


def _write(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for frame in frames:
        writer.write(frame)
    writer.release()


def test_windows_cut_consecutive_attempts():
    assert windows(45, 20) == [(0, 20), (20, 40)]
    assert windows(7, 20) == [(0, 7)]
    assert windows(0, 20) == []


def test_videos_are_grouped_by_person_in_session_order(tmp_path):
    frame = np.zeros((48, 64, 3), np.uint8)
    for name in ("a_session02.mp4", "a_session01.mp4", "b_x.mp4"):
        person = name[0]
        _write(tmp_path / "real" / person / name, [frame] * 3)
    (tmp_path / "real" / "a" / "notes.txt").write_text("not a video")
    found = find_videos(tmp_path / "real")
    assert [v.path.name for v in found["a"]] == ["a_session01.mp4", "a_session02.mp4"]
    assert [v.session for v in found["a"]] == ["01", "02"]
    assert found["b"][0].session == "b_x"


def test_the_k_of_n_rule_needs_k_agreeing_frames():
    assert attempt_unlocks([0.9, 0.1, 0.9, 0.2, 0.9], 3, 5) == 4
    assert attempt_unlocks([0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.9], 3, 5) is None
    assert attempt_unlocks([0.9, 0.9, 0.4], 3, 5) is None  # the last frame must agree too


@pytest.fixture(scope="module")
def webcam_set(tmp_path_factory) -> Path:
    """Two "people" from the bundled clip, played at 10 fps: Lin facing the camera in two
    sessions (frames 82-145 and 146-210), and the profile man of the first half (20-49)."""
    frames, _ = read_frames(CLIP)
    root = tmp_path_factory.mktemp("webcam")
    _write(root / "real" / "lin" / "lin_session01.mp4", frames[82:146])
    _write(root / "real" / "lin" / "lin_session02.mp4", frames[146:211])
    _write(root / "real" / "alex" / "alex_session01.mp4", frames[20:50])
    _write(root / "attack" / "lin" / "lin_photo_session02.mp4", frames[146:180:2])
    return root


def test_eval_live_runs_the_real_loop_over_every_attempt(webcam_set, pipeline):
    result, attempts = evaluate(webcam_set, pipeline, pipeline, Config(), 1.0, liveness=False)
    assert result["people"] == 2
    lin = [a for a in attempts if a.user == "lin"]
    assert {a.kind for a in lin} == {"same_session", "other_session", "impostor", "attack"}
    # the 2nd half of 64 frames holds three 10-frame windows; the other session six
    assert sum(a.kind == "same_session" for a in lin) == 3
    assert sum(a.kind == "other_session" for a in lin) == 6
    # Lin unlocks in his own videos, never in the other man's, and nothing unlocks for
    # the other man (whose enrolment may fail: his face is mostly in profile).
    assert sum(a.unlocked for a in lin if a.kind in ("same_session", "other_session")) >= 1
    assert result["false_accepts"] == 0
    assert all(a.time_to_unlock_ms < 1000 for a in lin if a.unlocked)
    for key in (
        "frr_same_session",
        "frr_other_session",
        "far",
        "impostor_attempts",
        "genuine_attempts",
        "time_to_unlock_ms_median",
        "time_to_unlock_ms_p90",
        "fte",
        "attack_accept_no_liveness",
        "attack_accept_liveness",
    ):
        assert key in result
