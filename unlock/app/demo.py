"""The offline demo: the unlock loop on the bundled clip, with no camera and no internet.

For each of the two men in the clip (Lin-Manuel Miranda, Alex Lacamoire) it enrols the
man from his bundled photo into a temporary data directory, runs the unlock loop over
the clip, shows the window when a display exists (else writes the annotated video) and
reports the timeline, then checks it against the clip's hand-made annotation
(`unlock.media.CLIP_SEGMENTS`): UNLOCKED may only appear while the enrolled man faces the
camera.
"""

from __future__ import annotations

from pathlib import Path

from faceunlock.unlock.media import CLIP, PEOPLE, facing_frames, photo_path

STATE_NAMES = {
    "no_face": "NO FACE",
    "too_dark": "TOO DARK",
    "uneven_light": "LIGHT FROM ONE SIDE",
    "locked": "LOCKED",
    "unlocked": "UNLOCKED",
    "locked_out": "LOCKED OUT",
    "move_head": "MOVE YOUR HEAD",
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
    """Whether the run told the truth, and a sentence saying so (of the frames looked at)."""
    unlocked = [r.index for r in results if r.state == "unlocked"]
    seen = {r.index for r in results}
    facing = facing_frames(name)
    allowed = facing & seen
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
        where = "never faces the camera in this clip"
        if facing:  # he does, after the frames looked at
            where = (
                f"does not face the camera in the {len(seen)} frames looked at (he does from "
                f"frame {min(facing)})"
            )
        return True, f"right: never unlocked; {who} {where}, and nobody else unlocked for him"
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


class _Progress:
    """The `on_frame` hook that also moves a progress bar (tqdm on stderr) a frame on."""

    def __init__(self, on_frame, bar) -> None:
        self.on_frame, self.bar = on_frame, bar

    def __call__(self, frame, result):
        self.bar.update(1)
        return self.on_frame(frame, result)


def run_one(
    name,
    pipeline,
    home: Path,
    out: Path | None,
    window,
    limit=None,
    progress: bool = False,
    enrol_pipeline=None,
) -> dict:
    """Enrol `name` from his photo into `home`, run the loop over the clip; the report.
    `progress`: a progress bar on stderr while he is enrolled and the clip runs.
    `enrol_pipeline`: the pipeline `faceunlock enroll` uses (its detector's minimum face),
    so the demo's profile is the one a user would get (default: `pipeline`)."""
    import sys

    from tqdm import tqdm

    from faceunlock.enroll.enrolment import enrol
    from faceunlock.enroll.profile import ProfileStore
    from faceunlock.models.unlock_head.scorer import UnlockScorer
    from faceunlock.unlock.app.live import ProfileScorer, UnlockLoop, run_attempt
    from faceunlock.unlock.app.session import Session
    from faceunlock.unlock.app.window import Recorder
    from faceunlock.unlock.config import Config
    from faceunlock.unlock.sources import open_source

    who = PEOPLE[name]
    if progress:
        print(f"{who}: enrolling from {photo_path(name).name}", file=sys.stderr, flush=True)
    store = ProfileStore(home)
    photo = photo_path(name)
    profile = enrol(
        enrol_pipeline or pipeline, str(photo), name, frames=1, store=store, progress=False
    )
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
    total = min(source.frame_count, limit) if limit is not None else source.frame_count
    bar = tqdm(
        total=total or None,
        desc=f"{who}: unlock loop",
        unit="frame",
        file=sys.stderr,
        disable=not progress,
    )
    try:
        summary = run_attempt(
            loop,
            _FirstFrames(source, limit),
            3600,
            on_frame=_Progress(session, bar),
            stop_on_unlock=False,
        )
    finally:
        bar.close()
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
    return report
