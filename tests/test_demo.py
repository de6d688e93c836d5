"""`faceunlock demo`: the truth check of the bundled clip, and the command end to end."""

from __future__ import annotations

import json

import cv2

from faceunlock.unlock.app.demo import timeline, verdict
from faceunlock.unlock.app.live import LOCKED, NO_FACE, UNLOCKED, FrameResult
from faceunlock.unlock.media import CLIP_SEGMENTS, facing_frames

LIN, ALEX = "lin-manuel-miranda", "alex-lacamoire"


def results(states: list[tuple[str, str | None]]) -> list[FrameResult]:
    return [
        FrameResult(i, i * 33.4, state, p=None if state == NO_FACE else 0.7, user=user)
        for i, (state, user) in enumerate(states)
    ]


def test_the_annotation_covers_the_clip_once():
    covered = [i for start, end, *_ in CLIP_SEGMENTS for i in range(start, end + 1)]
    assert covered == list(range(275))
    assert facing_frames(LIN) == set(range(82, 211)) and facing_frames(ALEX) == set()


def test_verdict_accepts_only_unlocks_on_the_enrolled_mans_facing_frames():
    ok_run = results([(NO_FACE, None)] * 82 + [(LOCKED, LIN)] * 2 + [(UNLOCKED, LIN)] * 5)
    assert verdict(LIN, ok_run)[0]
    early = results([(UNLOCKED, LIN)] + [(LOCKED, LIN)] * 90)
    good, sentence = verdict(LIN, early)
    assert not good and "WRONG" in sentence
    assert not verdict(ALEX, results([(LOCKED, ALEX)] * 90 + [(UNLOCKED, ALEX)]))[0]
    missed = results([(LOCKED, LIN)] * 100)
    assert not verdict(LIN, missed)[0]
    assert verdict(ALEX, results([(LOCKED, ALEX)] * 275))[0]


def test_timeline_merges_runs():
    runs = timeline(results([(NO_FACE, None)] * 3 + [(LOCKED, LIN)] * 2 + [(UNLOCKED, LIN)]), 30)
    assert [(r["state"], r["first"], r["last"]) for r in runs] == [
        ("NO FACE", 0, 2),
        ("LOCKED", 3, 4),
        (f"UNLOCKED {LIN}", 5, 5),
    ]
    assert runs[0]["p_range"] is None and runs[1]["p_range"] == [0.7, 0.7]


def test_demo_headless_writes_videos_and_tells_the_truth(tmp_path, monkeypatch, capsys):
    """The command itself on the first 165 frames (Alex's close-up, then Lin facing it)."""
    from faceunlock.unlock.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    code = main(["demo", "--json", "--out", str(tmp_path), "--max-frames", "165"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [r["enrolled"] for r in lines] == [LIN, ALEX]
    lin, alex = lines
    assert lin["truthful"] and lin["summary"]["result"] == "unlocked"
    assert 82 <= lin["summary"]["unlocked_at_frame"] < 165
    assert alex["truthful"] and alex["summary"]["result"] == "locked"
    video = cv2.VideoCapture(lin["video"])
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 165
    video.release()


def test_demo_shows_progress_runs_onnx_and_says_what_it_looked_at(
    tmp_path, home, monkeypatch, capsys
):
    """A quick demo as a user runs it: progress on stderr, the fast runtime even when the
    user's config says torch, and a verdict about the 30 frames it looked at."""
    from faceunlock.unlock.cli import main
    from faceunlock.unlock.pipeline import runtime

    used = []
    load = runtime.load_pipeline
    monkeypatch.setattr(
        runtime, "load_pipeline", lambda name, *a, **k: used.append(name) or load(name, *a, **k)
    )
    assert main(["config", "set", "runtime", "torch"]) == 0
    code = main(["demo", "--no-window", "--max-frames", "30", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0 and set(used) == {"onnx"}  # the loop's pipeline and the enrolment's
    assert (
        "Lin-Manuel Miranda does not face the camera in the 30 frames looked at (he does "
        "from frame 82)" in " ".join(out.split())
    )
    assert "never facing" not in out
    for who in ("Lin-Manuel Miranda", "Alex Lacamoire"):
        assert f"{who}: enrolling" in err and f"{who}: unlock loop" in err
    assert "30/30" in err
