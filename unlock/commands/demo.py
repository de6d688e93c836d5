"""`faceunlock demo`: the unlock loop on the bundled clip, with no camera and no internet.

For each of the two men in the clip (Lin-Manuel Miranda, Alex Lacamoire) it enrols the
man from his bundled photo into a temporary data directory, runs the unlock loop over
the clip, shows the window when a display exists (else writes the annotated video) and
prints the timeline, then checks it against the clip's hand-made annotation: UNLOCKED
may only appear while the enrolled man faces the camera.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
CLIP = DATA / "short_hamilton_clip.mp4"
PEOPLE = {"lin-manuel-miranda": "Lin-Manuel Miranda", "alex-lacamoire": "Alex Lacamoire"}
# What the clip shows, annotated by eye frame by frame (0-based, inclusive).
CLIP_SEGMENTS = [
    (0, 19, None, "wide shot: Lin-Manuel on stage and Alex at the piano, faces under 60 px"),
    (20, 49, "alex-lacamoire", "Alex Lacamoire close up, in profile"),
    (50, 81, None, "dim audience; Alex's profile at the edge"),
    (82, 210, "lin-manuel-miranda", "Lin-Manuel Miranda faces the camera"),
    (211, 274, None, "audience"),
]
STATE_NAMES = {
    "no_face": "NO FACE",
    "too_dark": "TOO DARK",
    "uneven_light": "LIGHT FROM ONE SIDE",
    "locked": "LOCKED",
    "unlocked": "UNLOCKED",
    "locked_out": "LOCKED OUT",
    "move_head": "MOVE YOUR HEAD",
}


def facing_frames(name: str) -> set[int]:
    """Frames of the clip where this man faces the camera."""
    return {
        i
        for start, end, who, what in CLIP_SEGMENTS
        if who == name and "faces the camera" in what
        for i in range(start, end + 1)
    }


def timeline(results, fps: float) -> list[dict]:
    """Runs of consecutive frames in the same state."""
    runs: list[dict] = []
    for r in results:
        label = STATE_NAMES[r.state] + (f" {r.user}" if r.state == "unlocked" else "")
        if runs and runs[-1]["state"] == label and runs[-1]["last"] == r.index - 1:
            runs[-1]["last"] = r.index
            if r.p is not None:
                runs[-1]["p"].append(r.p)
            continue
        runs.append({"state": label, "first": r.index, "last": r.index, "p": []})
        if r.p is not None:
            runs[-1]["p"].append(r.p)
    for run in runs:
        run["start_s"] = round(run["first"] / fps, 2)
        run["end_s"] = round((run["last"] + 1) / fps, 2)
        ps = run.pop("p")
        run["p_range"] = [round(min(ps), 2), round(max(ps), 2)] if ps else None
    return runs


def verdict(name: str, results) -> tuple[bool, str]:
    """Whether the run told the truth, and a sentence saying so."""
    unlocked = [r.index for r in results if r.state == "unlocked"]
    seen = {r.index for r in results}
    allowed = facing_frames(name) & seen
    wrong = [i for i in unlocked if i not in allowed]
    other = [r.index for r in results if r.state == "unlocked" and r.user != name]
    who = PEOPLE[name]
    if wrong or other:
        return False, f"WRONG: UNLOCKED on frames {wrong[:10]} where {who} does not face it"
    if allowed and not unlocked:
        return False, (
            f"MISSED: {who} faces the camera (frames {min(allowed)}-{max(allowed)}) "
            "but it never unlocked"
        )
    if not allowed:
        return True, (
            f"right: never unlocked; {who} is never facing the camera in this clip, and "
            "nobody else unlocked for him"
        )
    first = min(unlocked)
    return True, (
        f"right: UNLOCKED on {len(unlocked)} of the {len(allowed)} frames where {who} faces "
        f"the camera (frames {min(allowed)}-{max(allowed)}), first at frame {first}, "
        f"{first - min(allowed)} frames after he appears; never on anyone else"
    )


class _FirstFrames:
    """The first `limit` frames of a source (for a quick check of the demo)."""

    def __init__(self, source, limit: int | None) -> None:
        self.source, self.limit = source, limit
        self.live, self.fps, self.name = source.live, source.fps, source.name

    def read(self):
        if self.limit is not None and self.source.index >= self.limit:
            return None
        return self.source.read()


def run_one(
    name, pipeline, home: Path, out: Path | None, window, json_out: bool, limit=None
) -> dict:
    """Enrol `name` from his photo into `home`, run the loop over the clip, report."""
    from enroll.enrolment import enrol
    from enroll.profile import ProfileStore
    from unlock.commands.unlock_loop import Session
    from unlock.config import Config
    from unlock.live import ProfileScorer, UnlockLoop, run_attempt
    from unlock.scoring import UnlockScorer
    from unlock.sources import open_source
    from unlock.window import Recorder

    store = ProfileStore(home)
    photo = DATA / f"{name}.png"
    profile = enrol(pipeline, str(photo), name, frames=1, store=store, progress=False)
    config = Config()  # the shipped defaults, not the user's config: the demo is reproducible
    loop = UnlockLoop(pipeline, ProfileScorer([profile], UnlockScorer()), config)
    source = open_source(str(CLIP))
    frame = source.peek()
    recorder = None
    video = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        video = out / f"demo-{name}.mp4"
        recorder = Recorder(video, source.fps, (frame.shape[1], frame.shape[0]))
    session = Session(loop, window=window, recorder=recorder)
    try:
        summary = run_attempt(
            loop, _FirstFrames(source, limit), 3600, on_frame=session, stop_on_unlock=False
        )
    finally:
        if recorder is not None:
            recorder.close()
        source.close()
    ok, sentence = verdict(name, session.results)
    report = {
        "enrolled": name,
        "photo": photo.name,
        "k": config.k,
        "n": config.n,
        "summary": summary.to_json(),
        "truthful": ok,
        "verdict": sentence,
        "video": str(video) if video else None,
        "timeline": timeline(session.results, source.fps),
    }
    if json_out:
        print(json.dumps(report), flush=True)
        return report
    print(
        f"\n== enrolled {PEOPLE[name]} from {photo.name}; unlock when p >= 0.5 on "
        f"{config.k} of the last {config.n} frames =="
    )
    for run in report["timeline"]:
        ps = run["p_range"]
        p_text = f"p {ps[0]:.2f}-{ps[1]:.2f}" if ps else ""
        print(
            f"  {run['start_s']:5.2f}-{run['end_s']:5.2f} s  frames {run['first']:3d}-"
            f"{run['last']:3d}  {run['state']:<34s} {p_text}"
        )
    print(f"  {sentence}")
    if video:
        print(f"  annotated video: {video}")
    return report


def run(args: argparse.Namespace) -> int:
    """Run the demo for both men; 0 when both runs told the truth."""
    from unlock.commands.unlock_loop import DETECTOR_MIN_FACE, open_window
    from unlock.runtime import pipeline_from_args

    if not CLIP.is_file():
        from unlock.errors import FaceUnlockError

        raise FaceUnlockError(f"{CLIP} is missing: reinstall faceunlock")
    window = open_window(args.no_window, quiet=args.json)
    out = Path(args.out) if args.out else (Path("faceunlock-demo") if window is None else None)
    if not args.json:
        print(
            "faceunlock demo: the bundled White House clip (640x360, 275 frames); "
            + ("showing the window" if window is not None else "no display, writing videos"),
            file=sys.stderr,
        )
    pipeline = pipeline_from_args(args, min_face_size=DETECTOR_MIN_FACE)
    reports = []
    try:
        with tempfile.TemporaryDirectory(prefix="faceunlock-demo-") as tmp:
            for name in PEOPLE:
                home = Path(tmp) / name
                reports.append(
                    run_one(name, pipeline, home, out, window, args.json, args.max_frames)
                )
    finally:
        if window is not None:
            window.close()
    truthful = all(r["truthful"] for r in reports)
    if not args.json:
        print(
            "\n"
            + (
                "demo: both runs told the truth"
                if truthful
                else "demo: a run did NOT tell the truth (see above)"
            )
        )
    return 0 if truthful else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `demo`."""
    from unlock.runtime import add_runtime_argument

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
    add_runtime_argument(p)
    p.set_defaults(func=run)
