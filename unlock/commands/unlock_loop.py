"""`faceunlock unlock`: the live loop over a camera, a video, a folder of images or a stream.

Exit code 0 unlocked, 1 locked (timeout, end of the source, lockout or quit), 2 error.
"""

from __future__ import annotations

import argparse
import json
import sys


def _refuse_while_locked_out(args, lockout) -> bool:
    """Headless during a lockout: say so and stop (a window shows the countdown instead)."""
    from faceunlock.unlock.app.window import display_available

    left = lockout.remaining_s()
    if left <= 0 or not (args.no_window or not display_available()) or args.record:
        return False
    if args.json:
        print(json.dumps({"result": "locked_out", "lockout_s": round(left, 1)}))
    print(
        f"faceunlock: face unlock is locked out for {left:.0f} s more after failed attempts",
        file=sys.stderr,
    )
    return True


def _print_summary(summary, config, lockout, live: bool) -> None:
    if summary.result == "unlocked":
        clock = "after" if live else "at media time"
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


def _session(args, loop, source):
    """The per-frame hook: window, recorder and JSON lines as asked."""
    from faceunlock.unlock.app.session import Session, open_window
    from faceunlock.unlock.app.window import Recorder
    from faceunlock.unlock.errors import FaceUnlockError

    first = source.peek()
    if first is None:
        raise FaceUnlockError(f"{source.name}: no frames")
    recorder = None
    if args.record:
        recorder = Recorder(args.record, source.fps, (first.shape[1], first.shape[0]))
    window = open_window(args.no_window, quiet=args.json)
    return Session(loop, window=window, recorder=recorder, json_lines=args.json)


def run(args: argparse.Namespace) -> int:
    """Run one unlock attempt; print the result; 0 unlocked, 1 locked."""
    from faceunlock.enroll.profile import ProfileStore
    from faceunlock.models.mtcnn.params import LIVE_MIN_FACE
    from faceunlock.models.unlock_head.scorer import UnlockScorer
    from faceunlock.unlock.app.live import ProfileScorer, UnlockLoop, run_attempt
    from faceunlock.unlock.app.lockout import Lockout
    from faceunlock.unlock.app.session import load_profiles, make_liveness, refresh_adaptive
    from faceunlock.unlock.config import load_config
    from faceunlock.unlock.errors import FaceUnlockError
    from faceunlock.unlock.pipeline.runtime import pipeline_from_args
    from faceunlock.unlock.sources import open_source

    config = load_config(args.home)
    timeout_s = args.timeout if args.timeout is not None else config.timeout_s
    if not (0.1 <= timeout_s <= 3600):  # also refuses nan and inf
        raise FaceUnlockError(f"--timeout must be 0.1 to 3600 seconds, got {timeout_s}")
    store = ProfileStore(args.home)
    if args.user is not None:
        store.load(args.user)  # fail fast on an unknown or invalid user ("" is not "anyone")
    lockout = Lockout(args.home, config.lockout_attempts, config.lockout_s)
    if _refuse_while_locked_out(args, lockout):
        return 1
    source = open_source(args.source)
    pipeline = pipeline_from_args(args, min_face_size=LIVE_MIN_FACE)
    scorer = UnlockScorer()
    profiles = load_profiles(store, args.user, pipeline.weights_sha256, scorer.network_sha256)
    liveness = make_liveness(args.liveness or config.liveness)
    loop = UnlockLoop(pipeline, ProfileScorer(profiles, scorer), config, liveness, lockout)
    session = _session(args, loop, source)
    try:
        summary = run_attempt(loop, source, timeout_s, on_frame=session)
    finally:
        session.close()
        source.close()
    if summary.result == "unlocked" and config.adaptive:
        refresh_adaptive(store, profiles, summary, scorer)
    if args.json:
        print(json.dumps(summary.to_json()), flush=True)
    else:
        _print_summary(summary, config, lockout, source.live)
    return 0 if summary.result == "unlocked" else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `unlock`."""
    from faceunlock.unlock.pipeline.runtime import add_runtime_argument

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
