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


def run_one(name, pipeline, home: Path, out: Path | None, window, limit=None) -> dict:
    """Enrol `name` from his photo into `home`, run the loop over the clip; the report."""
    from faceunlock.enroll.enrolment import enrol
    from faceunlock.enroll.profile import ProfileStore
    from faceunlock.models.unlock_head.scorer import UnlockScorer
    from faceunlock.unlock.app.live import ProfileScorer, UnlockLoop, run_attempt
    from faceunlock.unlock.app.session import Session
    from faceunlock.unlock.app.window import Recorder
    from faceunlock.unlock.config import Config
    from faceunlock.unlock.sources import open_source

    store = ProfileStore(home)
    photo = photo_path(name)
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
    return report
