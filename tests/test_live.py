"""The live loop on the bundled clip: unlocks for the enrolled man only; lockout; sources."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceunlock.enroll.profile import Profile
from faceunlock.models.crop import crop_face, face_lighting
from faceunlock.models.unlock_head.scorer import MAX_SIDE_LIGHT
from faceunlock.unlock import media
from faceunlock.unlock.app.live import (
    LOCKED,
    LOCKED_OUT,
    UNLOCKED,
    ProfileScorer,
    UnlockLoop,
    frame_is_dark,
    lighting_gate,
    run_attempt,
)
from faceunlock.unlock.app.lockout import Lockout
from faceunlock.unlock.config import Config
from faceunlock.unlock.errors import FaceUnlockError
from faceunlock.unlock.sources import open_source

DATA = media.DATA_DIR
CLIP = media.CLIP
LIN, ALEX = "lin-manuel-miranda", "alex-lacamoire"
LIN_FACING = range(82, 211)  # frames where Lin-Manuel Miranda faces the camera
ALEX_PROFILE = range(20, 50)  # Alex Lacamoire close up, in profile


class ListSource:
    """Frames from memory, played like a file (media time)."""

    def __init__(self, frames, fps: float = 29.97) -> None:
        self.frames, self.fps, self.live, self.i = list(frames), fps, False, 0
        self.name = "frames"

    def read(self):
        if self.i >= len(self.frames):
            return None
        self.i += 1
        return self.frames[self.i - 1]


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    source = open_source(str(CLIP))
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def scorer():
    """The shipped unlock network."""
    from faceunlock.models.unlock_head.scorer import UnlockScorer

    return UnlockScorer()


@pytest.fixture(scope="module")
def profiles(pipeline) -> dict[str, Profile]:
    out = {}
    for name in (LIN, ALEX):
        sample = pipeline.require_face(DATA / f"{name}.png")
        out[name] = Profile(name, sample.embedding[None], pipeline.weights_sha256)
    return out


def make_loop(pipeline, scorer, profiles, lockout=None, **config) -> UnlockLoop:
    return UnlockLoop(pipeline, ProfileScorer(profiles, scorer), Config(**config), lockout=lockout)


def test_unlocks_for_the_enrolled_man_while_he_faces_the_camera(pipeline, scorer, profiles, clip):
    loop = make_loop(pipeline, scorer, [profiles[LIN]])
    # the last of the audience, then Lin facing the camera
    summary = run_attempt(loop, ListSource(clip[76:175]), timeout_s=60)
    assert summary.result == "unlocked" and summary.user == LIN
    frame = 76 + summary.unlocked_at_frame
    # one enrolment photo and the strict calibration: p crosses 0.5 only on his best frames
    assert frame in LIN_FACING
    assert summary.time_to_unlock_ms == pytest.approx(summary.unlocked_at_frame * 1000 / 29.97)


def test_never_unlocks_for_the_other_man(pipeline, scorer, profiles, clip):
    """Alex enrolled: his own profile close-up and Lin's frames must all stay locked."""
    loop = make_loop(pipeline, scorer, [profiles[ALEX]])
    frames = [clip[i] for i in [*ALEX_PROFILE[::3], *range(82, 211, 5)]]
    states = []
    summary = run_attempt(
        loop,
        ListSource(frames),
        timeout_s=60,
        on_frame=lambda f, r: states.append(r),
        stop_on_unlock=False,
    )
    assert summary.result == "locked"
    assert summary.face_seen
    faces = [r for r in states if r.face is not None]
    assert len(faces) > 0.8 * len(frames)  # the loop did look at the faces
    assert all(r.state == LOCKED for r in faces)


def test_any_enrolled_user_may_unlock_and_the_result_names_who(pipeline, scorer, profiles, clip):
    loop = make_loop(pipeline, scorer, [profiles[ALEX], profiles[LIN]])
    summary = run_attempt(loop, ListSource(clip[76:175]), timeout_s=60)
    assert summary.result == "unlocked" and summary.user == LIN


def test_k_of_n_needs_k_hits(pipeline, profiles, clip):
    """With a scorer that says yes on every other frame, k=3 of n=5 unlocks on the 5th."""

    class Alternating:
        calls = 0
        threshold = 0.5

        def probability(self, live, profile):
            self.calls += 1
            return np.array([0.9 if self.calls % 2 else 0.1], np.float32)

    loop = make_loop(pipeline, Alternating(), [profiles[LIN]], k=3, n=5)
    states = [loop.step(frame, i, i * 33.0).state for i, frame in enumerate(clip[90:96])]
    assert states[:4] == [LOCKED] * 4 and states[4] == UNLOCKED


def test_dark_frames_are_skipped(pipeline, profiles, clip):
    dark = (clip[100] * 0.08).astype(np.uint8)
    assert frame_is_dark(dark, 40.0) and not frame_is_dark(clip[100], 40.0)
    loop = make_loop(pipeline, None, [profiles[LIN]])
    assert loop.step(dark, 0, 0.0).state == "too_dark"


def test_a_face_lit_from_one_side_is_not_scored(pipeline, profiles, clip):
    frame = clip[100]
    face = pipeline.detect(frame)[0]
    x1, _, x2, _ = (int(v) for v in face.box)
    lit = frame.astype(np.float32)
    lit[:, (x1 + x2) // 2 :] *= 0.15  # the right half of the face in deep shadow
    lit = lit.astype(np.uint8)
    assert face_lighting(crop_face(frame, face))[1] < MAX_SIDE_LIGHT
    assert face_lighting(crop_face(lit, face))[1] > MAX_SIDE_LIGHT
    assert lighting_gate(120.0, 0.1, 40.0) is None
    assert lighting_gate(30.0, 0.1, 40.0) == "too_dark"
    assert lighting_gate(120.0, 1.0, 40.0) == "uneven_light"
    loop = make_loop(pipeline, None, [profiles[LIN]])  # no scorer: scoring would raise
    result = loop.step(lit, 0, 0.0)
    assert result.state == "uneven_light" and result.p is None


def test_a_refusal_says_why(pipeline, scorer, profiles, clip, tmp_path):
    loop = make_loop(pipeline, scorer, [profiles[ALEX]])
    summary = run_attempt(loop, ListSource(clip[100:104]), timeout_s=60)
    assert summary.result == "locked" and summary.face_seen
    assert summary.reason().startswith("not recognised: best p 0.")
    assert summary.to_json()["states"] == {"locked": 4}
    dark = [(frame * 0.05).astype(np.uint8) for frame in clip[100:103]]
    summary = run_attempt(make_loop(pipeline, scorer, [profiles[LIN]]), ListSource(dark), 60)
    assert not summary.face_seen
    assert summary.reason() == "too dark on 3 of 3 frames: turn on a light"
    grey = [np.full_like(clip[0], 128)] * 2
    summary = run_attempt(make_loop(pipeline, scorer, [profiles[LIN]]), ListSource(grey), 60)
    assert summary.reason() == "no face found in 2 frames"


def test_lockout_after_five_failures_persists_across_runs(tmp_path):
    now = [1000.0]
    lockout = Lockout(tmp_path, attempts=5, duration_s=30, clock=lambda: now[0])
    assert [lockout.record_failure() for _ in range(4)] == [False] * 4
    assert Lockout(tmp_path).failures == 4  # a new process sees the count
    assert lockout.record_failure() is True
    again = Lockout(tmp_path, attempts=5, duration_s=30, clock=lambda: now[0])
    assert again.remaining_s() == pytest.approx(30)
    now[0] += 29
    assert again.remaining_s() == pytest.approx(1)
    now[0] += 2
    assert again.remaining_s() == 0
    again.record_failure()
    again.record_success()
    assert Lockout(tmp_path).failures == 0
    (tmp_path / "lockout.json").write_text("{not json")  # damaged: a fresh count, no crash
    assert Lockout(tmp_path).remaining_s() == 0


def test_failed_attempts_with_a_face_lock_the_loop_out(pipeline, scorer, profiles, clip, tmp_path):
    lockout = Lockout(tmp_path, attempts=2, duration_s=30)
    alex_only = [profiles[ALEX]]
    for _ in range(2):  # Lin's face against Alex's profile: two failed attempts
        loop = make_loop(pipeline, scorer, alex_only, lockout=lockout)
        summary = run_attempt(loop, ListSource(clip[100:103]), timeout_s=60)
        assert summary.result == "locked" and summary.face_seen
    assert summary.lockout_started and lockout.remaining_s() > 25
    # even the enrolled man is refused while locked out, without any face processing
    loop = make_loop(pipeline, scorer, [profiles[LIN]], lockout=Lockout(tmp_path))
    summary = run_attempt(loop, ListSource(clip[100:110]), timeout_s=60)
    assert summary.result == "locked_out"
    assert loop.step(clip[100], 0, 0.0).state == LOCKED_OUT


def test_a_scene_without_faces_is_not_a_failed_attempt(pipeline, scorer, profiles, clip, tmp_path):
    lockout = Lockout(tmp_path)
    loop = make_loop(pipeline, scorer, [profiles[LIN]], lockout=lockout)
    black = np.zeros_like(clip[0])
    summary = run_attempt(loop, ListSource([black] * 3), timeout_s=60)
    assert summary.result == "locked" and not summary.face_seen and lockout.failures == 0


def test_timeout_ends_the_attempt(pipeline, scorer, profiles, clip):
    loop = make_loop(pipeline, scorer, [profiles[ALEX]])
    summary = run_attempt(loop, ListSource(clip[100:130]), timeout_s=0.2)  # 0.2 s = 6 frames
    assert summary.result == "locked" and summary.frames == 6


def test_sources_folder_image_and_errors(tmp_path, clip):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:03d}.png"), clip[100 + i])
    source = open_source(str(folder))
    first = source.peek()
    assert np.array_equal(first, source.read())
    assert source.read() is not None and source.read() is not None and source.read() is None
    assert open_source(str(folder / "000.png")).read().shape == clip[0].shape
    with pytest.raises(FaceUnlockError, match="no such file"):
        open_source(str(tmp_path / "missing.mp4"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FaceUnlockError, match="no images"):
        open_source(str(tmp_path / "empty"))
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(FaceUnlockError, match="not a video"):
        open_source(str(tmp_path / "junk.mp4"))


def test_missing_camera_exits_2_with_a_clear_message(home, capsys):
    from faceunlock.unlock.cli import main

    code = main(["unlock", "--source", "9", "--no-window"])
    err = capsys.readouterr().err
    assert code == 2
    assert "camera 9 is not available" in err and "Traceback" not in err


def test_a_stalled_stream_is_retried_then_reported():
    from faceunlock.unlock.sources import FrameSource

    class Stalls:
        def __init__(self):
            self.reads = 0

        def get(self, prop):
            return 30.0

        def read(self):
            self.reads += 1
            return (True, np.zeros((4, 4, 3), np.uint8)) if self.reads <= 2 else (False, None)

        def release(self):
            pass

    capture = Stalls()
    source = FrameSource("camera 0", capture=capture, live=True, retry_s=0.2)
    assert source.read() is not None and source.read() is not None
    with pytest.raises(FaceUnlockError, match="stopped sending frames"):
        source.read()
    assert capture.reads > 3  # it retried before giving up


def test_unlock_lets_a_confident_unlock_refresh_the_saved_profile(
    pipeline, scorer, profiles, clip, home, tmp_path, monkeypatch
):
    """`faceunlock unlock` applies the adaptive rules to the unlocking frame and saves."""
    import cv2

    from faceunlock.enroll.profile import ProfileStore
    from faceunlock.unlock.app.adaptive import adaptation_refusal
    from faceunlock.unlock.cli import main

    monkeypatch.setattr(
        "faceunlock.unlock.pipeline.runtime.load_pipeline", lambda *a, **k: pipeline
    )
    store = ProfileStore()
    store.save(profiles[LIN])
    video = tmp_path / "lin.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 29.97, (640, 360))
    for frame in clip[130:175]:
        writer.write(frame)
    writer.release()
    outcome = {}
    original = run_attempt

    def spy(*args, **kwargs):
        outcome["summary"] = original(*args, **kwargs)
        return outcome["summary"]

    monkeypatch.setattr("faceunlock.unlock.app.live.run_attempt", spy)
    assert main(["unlock", "--source", str(video), "--no-window", "--user", LIN]) == 0
    frame = outcome["summary"].unlock_frame
    p, embedding = frame.best_hit
    assert p >= max(0.5, frame.p)  # the most confident agreeing frame of the window
    refusal = adaptation_refusal(profiles[LIN], embedding, p, scorer)
    saved = store.load(LIN)
    assert len(saved.adaptive) == (1 if refusal is None else 0)
    np.testing.assert_array_equal(saved.embeddings, profiles[LIN].embeddings)
    assert main(["unlock", "--source", str(video), "--no-window", "--user", LIN]) == 0


def test_an_attempt_counts_as_failed_on_its_first_scored_face(
    pipeline, scorer, profiles, clip, tmp_path
):
    """Killing the process, quitting or resetting cannot take a failed attempt back."""
    lockout = Lockout(tmp_path, attempts=5, duration_s=30)
    loop = make_loop(pipeline, scorer, [profiles[ALEX]], lockout=lockout)
    loop.step(clip[100], 0, 0.0)  # Lin against Alex: scored, not unlocked
    assert lockout.failures == 1  # counted now: a SIGKILL here would leave it counted
    loop.step(clip[101], 1, 33.0)
    assert lockout.failures == 1  # once per attempt
    loop.reset()  # a new attempt, quit at once after its first face
    summary = run_attempt(
        loop, ListSource(clip[102:110]), timeout_s=60, on_frame=lambda f, r: "quit"
    )
    assert summary.result == "quit" and lockout.failures == 2


def test_resetting_in_the_window_cannot_escape_the_lockout(
    pipeline, scorer, profiles, clip, tmp_path
):
    lockout = Lockout(tmp_path, attempts=5, duration_s=30)
    loop = make_loop(pipeline, scorer, [profiles[ALEX]], lockout=lockout)
    summary = run_attempt(
        loop,
        ListSource(clip[100:130]),
        timeout_s=60,
        on_frame=lambda f, r: "reset",  # `r` pressed on every frame
        stop_on_unlock=False,
    )
    assert lockout.remaining_s() > 25
    assert summary.result == "locked_out"


def test_the_attempt_that_starts_a_lockout_may_still_unlock_the_owner(
    pipeline, scorer, profiles, clip, tmp_path
):
    lockout = Lockout(tmp_path, attempts=2, duration_s=30)
    lockout.record_failure()  # one failed attempt already
    loop = make_loop(pipeline, scorer, [profiles[LIN]], lockout=lockout)
    summary = run_attempt(loop, ListSource(clip[130:175]), timeout_s=60)
    assert summary.result == "unlocked"
    assert lockout.failures == 0 and lockout.remaining_s() == 0


def test_verify_shares_the_lockout_and_rounds_p_down(home, monkeypatch, pipeline, profiles, capsys):
    import json as _json

    from faceunlock.enroll.profile import ProfileStore
    from faceunlock.unlock.cli import main

    monkeypatch.setattr(
        "faceunlock.unlock.pipeline.runtime.load_pipeline", lambda *a, **k: pipeline
    )
    ProfileStore().save(profiles[LIN])
    alex = str(DATA / "alex-lacamoire.png")
    lin = str(DATA / "lin-manuel-miranda.png")
    assert main(["verify", "--user", LIN, lin]) == 0
    row = _json.loads(capsys.readouterr().out)
    assert row["p"] == round(row["p"], 2) and row["p"] >= 0.5
    for _ in range(5):
        assert main(["verify", "--user", LIN, alex]) == 1
    capsys.readouterr()
    assert Lockout(home).remaining_s() > 25
    assert main(["verify", "--user", LIN, lin]) == 2  # even the owner waits
    assert "locked out" in capsys.readouterr().err


def test_a_near_miss_suggests_adding_an_appearance():
    from faceunlock.unlock.app.live import Summary

    def refused(best_p):
        return Summary("locked", None, None, None, 20, True, states={"locked": 20}, best_p=best_p)

    assert "enroll NAME --add" in refused(0.31).reason()
    assert "0.31" in refused(0.31).reason()
    assert "--add" not in refused(0.001).reason()
