"""`faceunlock eval live`: unlock attempts on real webcam videos, decided by the live loop
(the protocol: `unlock.lab.eval_live`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from faceunlock.unlock.lab.eval_live import __doc__ as _PROTOCOL_DOC

PROTOCOL = _PROTOCOL_DOC.split("\n\n", 1)[1]


def print_figures(r: dict) -> None:
    """The figures on stdout."""

    def pct(v):
        return "-" if v is None else f"{100 * v:.1f} %"

    print(
        f"{r['people']} people, fte {r['fte']}, {r['window_s']:g}-s attempts: "
        f"{r['same_session_attempts']} same-session, {r['other_session_attempts']} "
        f"other-session, {r['impostor_attempts']} impostor, {r['attack_attempts']} attack"
    )
    print(f"FRR same session      {pct(r['frr_same_session'])}")
    print(f"FRR other session     {pct(r['frr_other_session'])}")
    print(f"FAR                   {r['false_accepts']} of {r['impostor_attempts']}")
    ttu = r["time_to_unlock_ms_median"]
    if ttu is not None:
        print(
            f"time to unlock        median {ttu:.0f} ms, p90 "
            f"{r['time_to_unlock_ms_p90']:.0f} ms (media time)"
        )
    print(
        f"attacks accepted      {pct(r['attack_accept_no_liveness'])} without liveness, "
        f"{pct(r['attack_accept_liveness'])} with"
    )
    if r["frr_with_liveness"] is not None:
        print(f"FRR with liveness     {pct(r['frr_with_liveness'])}")
    if r.get("adaptive"):
        admitted = sum(v["admitted"] for v in r["impostor_adaptation"].values())
        print(
            f"adaptive templates    on: entries per user {r['adaptive_entries']}; best impostor "
            f"frame admitted for {admitted} of {len(r['impostor_adaptation'])} users"
        )
    for user, u in r["per_user"].items():
        print(
            f"  {user}: same {pct(u['frr_same_session'])}, other {pct(u['frr_other_session'])}, "
            f"false accepts {u['false_accepts']}"
        )


def run(args: argparse.Namespace) -> int:
    """`faceunlock eval live`."""
    from faceunlock.models.mtcnn.params import ENROL_MIN_FACE, LIVE_MIN_FACE
    from faceunlock.unlock.config import Config
    from faceunlock.unlock.errors import FaceUnlockError
    from faceunlock.unlock.lab.eval_live import evaluate, plot_best_p
    from faceunlock.unlock.pipeline.runtime import pipeline_from_args

    if not args.window > 0:
        raise FaceUnlockError("--window must be > 0 seconds")
    data = Path(args.data)
    if not data.is_dir():
        raise FaceUnlockError(f"{data}: no such folder")
    pipeline = pipeline_from_args(args, min_face_size=LIVE_MIN_FACE)
    enrol_pipeline = pipeline.with_min_face(ENROL_MIN_FACE)
    start = time.perf_counter()
    log = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    config = Config(adaptive=not args.no_adapt)
    result, attempts = evaluate(
        data, pipeline, enrol_pipeline, config, args.window, not args.no_liveness, log
    )
    result["runtime"] = args.runtime
    result["precision"] = "int8" if args.int8 else "fp32"
    result["seconds"] = round(time.perf_counter() - start, 1)
    print_figures(result)
    if args.json:
        result["attempts"] = [a.__dict__ for a in attempts]
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.plot:
        plot_best_p(args.plot, attempts)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `eval live`."""
    from faceunlock.unlock.pipeline.runtime import add_runtime_argument

    p = sub.add_parser(
        "live",
        help="FRR/FAR per unlock attempt on webcam videos, decided by the live loop",
        description=PROTOCOL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", required=True, help="folder with real/<person>/*.mp4 (and attack/)")
    p.add_argument("--window", type=float, default=2.0, help="seconds per attempt (default 2)")
    p.add_argument("--json", help="write the figures (and every attempt) as JSON here")
    p.add_argument("--plot", help="write a histogram of each attempt's highest p (PNG) here")
    p.add_argument("--no-liveness", action="store_true", help="skip the runs with liveness on")
    p.add_argument(
        "--no-adapt",
        action="store_true",
        help="profiles stay as enrolled (default: confident unlocks adapt them, as in "
        "`faceunlock unlock` with the default config)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    add_runtime_argument(p)
    p.set_defaults(func=run)
