"""`faceunlock demo`: enrol each man of the bundled clip from his photo and run the unlock
loop over the clip (`unlock.app.demo`); exit 0 when both runs told the truth."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def print_report(report: dict) -> None:
    """One man's run: the timeline of states and the verdict."""
    from faceunlock.unlock.media import PEOPLE

    print(
        f"\n== enrolled {PEOPLE[report['enrolled']]} from {report['photo']}; unlock when "
        f"p >= 0.5 on {report['k']} of the last {report['n']} frames =="
    )
    for run in report["timeline"]:
        ps = run["p_range"]
        p_text = f"p {ps[0]:.2f}-{ps[1]:.2f}" if ps else ""
        print(
            f"  {run['start_s']:5.2f}-{run['end_s']:5.2f} s  frames {run['first']:3d}-"
            f"{run['last']:3d}  {run['state']:<34s} {p_text}"
        )
    print(f"  {report['verdict']}")
    if report["video"]:
        print(f"  annotated video: {report['video']}")


def run(args: argparse.Namespace) -> int:
    """Run the demo for both men; 0 when both runs told the truth."""
    from faceunlock.models.mtcnn.params import ENROL_MIN_FACE, LIVE_MIN_FACE
    from faceunlock.unlock.app.demo import run_one
    from faceunlock.unlock.app.session import open_window
    from faceunlock.unlock.config import Config
    from faceunlock.unlock.errors import FaceUnlockError
    from faceunlock.unlock.media import CLIP, PEOPLE
    from faceunlock.unlock.pipeline.runtime import pipeline_from_args

    if not CLIP.is_file():
        raise FaceUnlockError(f"{CLIP} is missing: reinstall faceunlock")
    window = open_window(args.no_window, quiet=args.json)
    out = Path(args.out) if args.out else (Path("faceunlock-demo") if window is None else None)
    if not args.json:
        shown = "showing the window" if window is not None else "no display, writing videos"
        print(
            f"faceunlock demo: the bundled White House clip (640x360, 275 frames); {shown}",
            file=sys.stderr,
        )
    # the shipped defaults, like the loop's settings: the fast onnx runtime unless --runtime
    args.runtime = args.runtime or Config().runtime
    pipeline = pipeline_from_args(args, min_face_size=LIVE_MIN_FACE)
    # each man is enrolled as `faceunlock enroll` would enrol him (its detector settings)
    enrol_pipeline = pipeline.with_min_face(ENROL_MIN_FACE)
    reports = []
    try:
        with tempfile.TemporaryDirectory(prefix="faceunlock-demo-") as tmp:
            for name in PEOPLE:
                report = run_one(
                    name,
                    pipeline,
                    Path(tmp) / name,
                    out,
                    window,
                    args.max_frames,
                    progress=not (args.json or args.quiet),
                    enrol_pipeline=enrol_pipeline,
                )
                reports.append(report)
                if args.json:
                    print(json.dumps(report), flush=True)
                else:
                    print_report(report)
    finally:
        if window is not None:
            window.close()
    truthful = all(r["truthful"] for r in reports)
    if not args.json:
        print(
            "\ndemo: both runs told the truth"
            if truthful
            else "\ndemo: a run did NOT tell the truth (see above)"
        )
    return 0 if truthful else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `demo`."""
    from faceunlock.unlock.pipeline.runtime import add_runtime_argument

    p = sub.add_parser(
        "demo",
        help="enrol each man of the bundled clip from his photo and run the unlock loop",
    )
    p.add_argument(
        "--out",
        help="folder for the annotated videos (default ./faceunlock-demo when no display)",
    )
    p.add_argument("--no-window", action="store_true", help="do not open a window")
    p.add_argument("--json", action="store_true", help="one JSON report per man")
    p.add_argument("--max-frames", type=int, help="only the first N frames (a quick check)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_runtime_argument(p, default="onnx (the shipped default; the config is not read)")
    p.set_defaults(func=run)
