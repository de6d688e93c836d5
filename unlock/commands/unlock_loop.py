"""`faceunlock unlock`: the live loop over a camera, a video, a folder of images or a stream.

Exit code 0 unlocked, 1 locked (timeout, end of the source, lockout or quit), 2 error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import deque

DETECTOR_MIN_FACE = 40  # the pipeline's detector; the loop's larger minimum comes from config


class Session:
    """Shows, records and prints what the loop does, frame by frame (the `on_frame` hook)."""

    def __init__(self, loop, *, window=None, recorder=None, json_lines=False, fps_window=15):
        self.loop = loop
        self.window = window
        self.recorder = recorder
        self.json_lines = json_lines
        self.times: deque[float] = deque(maxlen=fps_window)
        self.results = []

    def fps(self) -> float | None:
        if len(self.times) < 2:
            return None
        span = self.times[-1] - self.times[0]
        return (len(self.times) - 1) / span if span > 0 else None

    def __call__(self, frame, result) -> str | None:
        from unlock.window import draw_overlay

        self.times.append(time.perf_counter())
        self.results.append(result)
        if self.json_lines:
            print(json.dumps(result.to_json()), flush=True)
        if self.window is None and self.recorder is None:
            return None
        image = draw_overlay(frame, result, self.fps(), self.loop.k, self.loop.n)
        if self.recorder is not None:
            self.recorder.write(image)
        if self.window is not None:
            key = self.window.show(image)
            if key in ("q", "\x1b"):
                return "quit"
            if key == "r":
                return "reset"
        return None

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        if self.window is not None:
            self.window.close()


def open_window(no_window: bool, quiet: bool = False):
    """A Window when a display exists and it is wanted; None (and a note) otherwise."""
    from unlock.window import Window, display_available

    if no_window:
        return None
    if not display_available():
        if not quiet:
            print("faceunlock: no display found: running headless", file=sys.stderr)
        return None
    return Window()


def load_profiles(store, user: str | None, weights_sha256: str) -> list:
    """The profiles the loop may unlock for (one user, or everyone enrolled)."""
    from unlock.errors import FaceUnlockError

    problems: list[str] = []
    profiles = [store.load(user)] if user is not None else store.load_all(problems)
    for problem in problems:
        print(f"faceunlock: skipped a profile: {problem}", file=sys.stderr)
    if not profiles:
        raise FaceUnlockError("nobody is enrolled yet: enrol first with `faceunlock enroll NAME`")
    for profile in profiles:
        if profile.weights_sha256 != weights_sha256:
            raise FaceUnlockError(
                f"{profile.name} was enrolled with other embedding weights; enrol again"
            )
    return profiles


def refresh_adaptive(store, profiles: list, summary, scorer) -> bool:
    """After an unlock: let the most confident face of the unlocking window join the user's
    adaptive part if the rules of `unlock.adaptive` allow, and save the profile. True when
    it was added."""
    from unlock.adaptive import adapt

    frame = summary.unlock_frame
    profile = next((p for p in profiles if p.name == summary.user), None)
    if frame is None or frame.best_hit is None or profile is None:
        return False
    p, embedding = frame.best_hit

    def add_entry(current):
        # the profile as it is now (an enrolment may have added to it, or it was removed)
        if current is None or not adapt(current, embedding, float(p), scorer):
            return None
        return current

    return store.update(profile.name, add_entry) is not None


def make_liveness(wanted: bool):
    """A LivenessChecker when liveness is wanted (and the module exists)."""
    if not wanted:
        return None
    from unlock.liveness import LivenessChecker

    return LivenessChecker()


def run(args: argparse.Namespace) -> int:
    """Run one unlock attempt; print the result; 0 unlocked, 1 locked."""
    from enroll.profile import ProfileStore
    from unlock.config import load_config
    from unlock.live import ProfileScorer, UnlockLoop, run_attempt
    from unlock.lockout import Lockout
    from unlock.runtime import pipeline_from_args
    from unlock.scoring import UnlockScorer
    from unlock.sources import open_source
    from unlock.window import Recorder

    config = load_config()
    timeout_s = args.timeout if args.timeout is not None else config.timeout_s
    if not (0.1 <= timeout_s <= 3600):  # also refuses nan and inf
        from unlock.errors import FaceUnlockError

        raise FaceUnlockError(f"--timeout must be 0.1 to 3600 seconds, got {timeout_s}")
    store = ProfileStore()
    if args.user is not None:
        store.load(args.user)  # fail fast on an unknown or invalid user ("" is not "anyone")
    lockout = Lockout(attempts=config.lockout_attempts, duration_s=config.lockout_s)
    left = lockout.remaining_s()
    from unlock.window import display_available

    if left > 0 and (args.no_window or not display_available()) and not args.record:
        message = f"face unlock is locked out for {left:.0f} s more after failed attempts"
        if args.json:
            print(json.dumps({"result": "locked_out", "lockout_s": round(left, 1)}))
        print(f"faceunlock: {message}", file=sys.stderr)
        return 1
    source = open_source(args.source)
    pipeline = pipeline_from_args(args, min_face_size=DETECTOR_MIN_FACE)
    profiles = load_profiles(store, args.user, pipeline.weights_sha256)
    loop = UnlockLoop(
        pipeline,
        ProfileScorer(profiles, UnlockScorer()),
        config,
        liveness=make_liveness(args.liveness or config.liveness),
        lockout=lockout,
    )
    recorder = None
    first = source.peek()
    if first is None:
        from unlock.errors import FaceUnlockError

        raise FaceUnlockError(f"{source.name}: no frames")
    if args.record:
        recorder = Recorder(args.record, source.fps, (first.shape[1], first.shape[0]))
    session = Session(
        loop,
        window=open_window(args.no_window, quiet=args.json),
        recorder=recorder,
        json_lines=args.json,
    )
    try:
        summary = run_attempt(loop, source, timeout_s, on_frame=session)
    finally:
        session.close()
        source.close()
    if summary.result == "unlocked" and config.adaptive:
        refresh_adaptive(store, profiles, summary, loop.profile_scorer.scorer)
    if args.json:
        print(json.dumps(summary.to_json()), flush=True)
    else:
        if summary.result == "unlocked":
            clock = "after" if source.live else "at media time"
            print(
                f"UNLOCKED {summary.user} at frame {summary.unlocked_at_frame} "
                f"({clock} {summary.time_to_unlock_ms:.0f} ms)"
            )
        elif summary.result == "locked_out":
            print(f"LOCKED OUT: face unlock is locked for {lockout.remaining_s():.0f} s")
        else:
            ended = "quit" if summary.result == "quit" else "no unlock"
            print(f"LOCKED ({ended} after {summary.frames} frames): {summary.reason()}")
        if summary.lockout_started:
            print(
                f"faceunlock: {config.lockout_attempts} failed attempts: face unlock is "
                f"locked for {config.lockout_s:.0f} s",
                file=sys.stderr,
            )
    return 0 if summary.result == "unlocked" else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `unlock`."""
    from unlock.runtime import add_runtime_argument

    p = sub.add_parser(
        "unlock",
        help="live face unlock from a camera, video, folder of images or stream",
        description="Unlock when p >= 0.5 on k of the last n frames (k, n from "
        "`faceunlock config`). Exit code 0 unlocked, 1 locked, 2 error. In the window: "
        "q quits, r resets.",
    )
    p.add_argument("--user", help="the user to unlock for (default: anyone enrolled)")
    p.add_argument(
        "--source",
        default="0",
        help="camera index (default 0), video file, folder of images or stream URL",
    )
    p.add_argument("--no-window", action="store_true", help="run headless (no display: implied)")
    p.add_argument("--json", action="store_true", help="one JSON line per frame, then a summary")
    p.add_argument("--record", metavar="OUT.mp4", help="write the annotated frames to a video")
    p.add_argument("--timeout", type=float, help="seconds before giving up (default: config)")
    p.add_argument("--liveness", action="store_true", help="also require a small head movement")
    add_runtime_argument(p)
    p.set_defaults(func=run)
