"""The webcam protocol of `faceunlock eval live`: unlock attempts decided by the live loop.

Data: `DIR/real/<person>/*.mp4` (a `sessionNN` in the file name says which session a
video belongs to; without one, every video is a session of its own) and, optionally,
`DIR/attack/<person>/*.mp4`: presentation attacks (printed photos and the like) on that
person in front of the same camera.

Protocol, per person (videos in session order, then name order):
- enrolment: the real enrolment (`enroll.enrolment.collect_embeddings`, the default 20
  frames and quality gates) from the first half of the first video;
- genuine attempts: consecutive windows of `--window` seconds over the second half of
  that video (same session) and over each of the person's other videos (other sessions);
- impostor attempts: every window of every real video of every other person, against
  this person's profile;
- attacks: every window of the person's attack videos, with and without liveness.
Each attempt is decided by the real `UnlockLoop` (default config, the chosen runtime) from
a reset state, in media time. A frame is detected and embedded once and reused for every
profile it is scored against (`FrameMemo`), which changes nothing in the decisions.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceunlock.unlock.errors import FaceUnlockError
from faceunlock.unlock.sources import VIDEO_SUFFIXES, open_source

SESSION = re.compile(r"session(\d+)", re.IGNORECASE)
ENROL_FRAMES = 20


def _digest(array: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(array).data, digest_size=16).digest()


class _MemoDetector:
    """A detector whose answers are remembered per frame (and per box for `refine`)."""

    def __init__(self, detector) -> None:
        self.detector = detector
        self.min_face_size = detector.min_face_size
        self.cache: dict = {}

    def infer(self, image: np.ndarray):
        key = ("infer", _digest(image), image.shape)
        if key not in self.cache:
            self.cache[key] = self.detector.infer(image)
        return self.cache[key]

    def refine(self, image: np.ndarray, faces):
        boxes = tuple(tuple(round(float(v), 3) for v in f.box) for f in faces)
        key = ("refine", _digest(image), image.shape, boxes)
        if key not in self.cache:
            self.cache[key] = self.detector.refine(image, faces)
        return self.cache[key]


class FrameMemo:
    """The pipeline interface the live loop uses, remembering detections and embeddings.

    Scoring the same frames against many profiles then costs one detection and one
    embedding per frame; the loop's logic runs unchanged on every attempt.
    """

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        self.detector = _MemoDetector(pipeline.detector)
        self.embeddings: dict = {}
        self.weights_sha256 = pipeline.weights_sha256

    def embed_crops(self, crops) -> np.ndarray:
        rows = []
        for crop in crops:
            key = _digest(crop)
            if key not in self.embeddings:
                self.embeddings[key] = self.pipeline.embed_crops([crop])[0]
            rows.append(self.embeddings[key])
        return np.stack(rows) if rows else np.zeros((0, 512), np.float32)

    def forget(self) -> None:
        """Drop what was remembered (call between videos: frames are not seen again)."""
        self.detector.cache.clear()
        self.embeddings.clear()


@dataclass
class Video:
    person: str
    path: Path
    session: str


def find_videos(folder: Path) -> dict[str, list[Video]]:
    """{person: videos in session order} under `folder/<person>/`."""
    people: dict[str, list[Video]] = {}
    if not folder.is_dir():
        return people
    for person_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        videos = []
        for path in sorted(person_dir.iterdir()):
            if path.suffix.lower() not in VIDEO_SUFFIXES or not path.is_file():
                continue
            match = SESSION.search(path.stem)
            videos.append(Video(person_dir.name, path, match.group(1) if match else path.stem))
        videos.sort(key=lambda v: (v.session, v.path.name))
        if videos:
            people[person_dir.name] = videos
    return people


def read_frames(path: Path) -> tuple[list[np.ndarray], float]:
    """All frames of a video and its frame rate."""
    frames = []
    with open_source(str(path)) as source:
        while (frame := source.read()) is not None:
            frames.append(frame)
    return frames, source.fps


def windows(count: int, size: int) -> list[tuple[int, int]]:
    """Consecutive [start, end) windows of `size` frames; a short video is one window."""
    if count <= size:
        return [(0, count)] if count else []
    return [(s, s + size) for s in range(0, count - size + 1, size)]


@dataclass
class Attempt:
    """One attempt's outcome."""

    kind: str  # same_session | other_session | impostor | attack
    user: str
    video: str
    start: int
    unlocked: bool
    time_to_unlock_ms: float | None
    best_p: float
    face_frames: int
    liveness: bool = False


@dataclass
class _WindowSource:
    """A window of frames as the loop's source (media time from `fps`)."""

    frames: list
    fps: float
    live: bool = False
    name: str = "window"
    _i: int = field(default=0)

    def read(self):
        if self._i >= len(self.frames):
            return None
        self._i += 1
        return self.frames[self._i - 1]


@dataclass
class WindowResult:
    """What one attempt's loop run gave."""

    summary: object  # unlock.app.live.Summary
    best_p: float
    best_embedding: np.ndarray | None
    scored: int

    @property
    def unlocked(self) -> bool:
        return self.summary.result == "unlocked"


def run_window(loop, frames, fps: float) -> WindowResult:
    """Run the loop over one attempt's frames from a reset state (media time)."""
    from faceunlock.unlock.app.live import run_attempt

    loop.reset()
    best = WindowResult(None, 0.0, None, 0)

    def on_frame(_frame, result):
        if result.p is not None:
            best.scored += 1
            if result.p >= best.best_p:
                best.best_p, best.best_embedding = result.p, result.embedding
        return None

    best.summary = run_attempt(loop, _WindowSource(frames, fps), timeout_s=1e9, on_frame=on_frame)
    return best


def enrol_person(enrol_pipeline, video: Video, frame_count: int):
    """The person's profile from the first half of `video` (the real enrolment)."""
    from faceunlock.enroll.enrolment import collect_embeddings
    from faceunlock.enroll.profile import Profile
    from faceunlock.enroll.quality import QualityGates

    embeddings, _report = collect_embeddings(
        enrol_pipeline,
        str(video.path),
        ENROL_FRAMES,
        QualityGates(),
        progress=False,
        first_frames=frame_count // 2,
    )
    return Profile(
        name=video.person,
        embeddings=embeddings,
        weights_sha256=enrol_pipeline.weights_sha256,
        source=str(video.path),
    )


def _rate(attempts: list[Attempt]) -> float | None:
    return float(np.mean([a.unlocked for a in attempts])) if attempts else None


def summarise(attempts: list[Attempt], fte: int, people: int, window_s: float) -> dict:
    """The figures `eval live` reports, from all attempts."""

    def pick(kind, liveness=False):
        return [a for a in attempts if a.kind == kind and a.liveness == liveness]

    genuine = pick("same_session") + pick("other_session")
    impostor = pick("impostor")
    times = [a.time_to_unlock_ms for a in genuine if a.unlocked]
    same, other = pick("same_session"), pick("other_session")
    per_user = {}
    for user in sorted({a.user for a in attempts}):
        mine = [a for a in genuine if a.user == user]
        per_user[user] = {
            "genuine_attempts": len(mine),
            "frr_same_session": _rate([a for a in same if a.user == user]),
            "frr_other_session": _rate([a for a in other if a.user == user]),
            "false_accepts": sum(a.unlocked for a in impostor if a.user == user),
        }
        for key in ("frr_same_session", "frr_other_session"):
            if per_user[user][key] is not None:
                per_user[user][key] = round(1.0 - per_user[user][key], 4)
    live_genuine = pick("same_session", True) + pick("other_session", True)
    return {
        "people": people,
        "window_s": window_s,
        "fte": fte,
        "genuine_attempts": len(genuine),
        "same_session_attempts": len(same),
        "other_session_attempts": len(other),
        "frr_same_session": None if not same else round(1.0 - _rate(same), 4),
        "frr_other_session": None if not other else round(1.0 - _rate(other), 4),
        "impostor_attempts": len(impostor),
        "false_accepts": int(sum(a.unlocked for a in impostor)),
        "far": None if not impostor else float(np.mean([a.unlocked for a in impostor])),
        "time_to_unlock_ms_median": float(np.median(times)) if times else None,
        "time_to_unlock_ms_p90": float(np.percentile(times, 90)) if times else None,
        "attack_attempts": len(pick("attack")),
        "attack_accept_no_liveness": _rate(pick("attack")),
        "attack_accept_liveness": _rate(pick("attack", True)),
        "frr_with_liveness": None if not live_genuine else round(1.0 - _rate(live_genuine), 4),
        "per_user": per_user,
    }


def _kind(video: Video, user: str, folder: str, first: Video | None) -> str | None:
    """The attempt kind of `video`'s windows for `user` (None: not an attempt for them)."""
    if folder == "attack":
        return "attack" if user == video.person else None
    if user != video.person:
        return "impostor"
    return "same_session" if video.session == first.session else "other_session"


class _Protocol:
    """The loops, profiles and attempts of one `eval live` run."""

    def __init__(self, memo, profiles: dict, config, liveness: bool, adaptive: bool) -> None:
        from faceunlock.models.unlock_head.scorer import UnlockScorer
        from faceunlock.unlock.app.live import ProfileScorer, UnlockLoop
        from faceunlock.unlock.app.session import make_liveness

        self.scorer = UnlockScorer()
        self.profiles = profiles
        self.adaptive = adaptive
        self.loops = {
            person: {
                live: UnlockLoop(
                    memo,
                    ProfileScorer([profile], self.scorer),
                    config,
                    liveness=make_liveness(live),
                )
                for live in ((True, False) if liveness else (False,))
            }
            for person, profile in profiles.items()
        }
        self.attempts: list[Attempt] = []
        self.best_impostor: dict[str, tuple[float, np.ndarray | None]] = {}
        self.adapted: dict[str, int] = dict.fromkeys(profiles, 0)

    def run(self, video: Video, frames, fps, window_s: float, start_at: int, kinds) -> None:
        """Every window of `video` (from frame `start_at`) as an attempt of the given kinds."""
        from faceunlock.unlock.app.adaptive import adapt

        size = max(1, round(window_s * fps))
        usable = frames[start_at:]
        for user, kind in kinds:
            for live, loop in self.loops[user].items():
                if live and kind == "impostor":
                    continue  # liveness only makes unlocking harder
                for a, b in windows(len(usable), size):
                    got = run_window(loop, usable[a:b], fps)
                    ttu = got.summary.time_to_unlock_ms if got.unlocked else None
                    self.attempts.append(
                        Attempt(
                            kind,
                            user,
                            video.path.name,
                            start_at + a,
                            got.unlocked,
                            ttu,
                            got.best_p,
                            got.scored,
                            live,
                        )
                    )
                    if kind == "impostor" and got.best_p >= self.best_impostor.get(user, (-1,))[0]:
                        self.best_impostor[user] = (got.best_p, got.best_embedding)
                    if self.adaptive and not live and got.unlocked and kind != "attack":
                        p, embedding = got.summary.unlock_frame.best_hit
                        if adapt(self.profiles[user], embedding, p, self.scorer):
                            self.adapted[user] += 1

    def impostor_admission(self) -> dict:
        """Would each user's best-scoring impostor frame join their adaptive part if it had
        unlocked? (The rules of `unlock.app.adaptive`; the profile is not changed.)"""
        from faceunlock.unlock.app.adaptive import adaptation_refusal

        out = {}
        for user, (p, embedding) in self.best_impostor.items():
            if embedding is None:
                continue
            refusal = adaptation_refusal(self.profiles[user], embedding, max(p, 1.0), self.scorer)
            out[user] = {"best_impostor_p": round(p, 4), "admitted": refusal is None}
        return out


def evaluate(
    data: Path,
    pipeline,
    enrol_pipeline,
    config,
    window_s: float,
    liveness: bool,
    log=None,
) -> tuple[dict, list[Attempt]]:
    """Run the protocol over `data`; returns (summary, attempts).

    With `config.adaptive`, genuine attempts run first, in session order, and confident
    unlocks adapt the profile as `faceunlock unlock` does; impostor attempts then run
    against the adapted profiles.
    """
    real = find_videos(data / "real")
    if not real:
        raise FaceUnlockError(f"{data}: no videos under real/<person>/ (see `eval live -h`)")
    attacks = find_videos(data / "attack")
    memo = FrameMemo(pipeline)
    profiles, fte = {}, 0
    for person, videos in real.items():
        frames, _ = read_frames(videos[0].path)
        try:
            profiles[person] = enrol_person(enrol_pipeline, videos[0], len(frames))
        except FaceUnlockError as exc:
            fte += 1
            if log:
                log(f"{person}: enrolment failed: {exc}")
    protocol = _Protocol(memo, profiles, config, liveness, config.adaptive)
    jobs = [(v, "real") for vs in real.values() for v in vs]
    passes = [("genuine", jobs), ("impostor", jobs)] if config.adaptive else [("all", jobs)]
    passes.append(("attack", [(v, "attack") for vs in attacks.values() for v in vs]))
    for stage, videos in passes:
        for video, folder in videos:
            first = real.get(video.person, [None])[0]
            kinds = [(u, _kind(video, u, folder, first)) for u in profiles]
            kinds = [(u, k) for u, k in kinds if k is not None]
            if stage == "genuine":
                kinds = [(u, k) for u, k in kinds if k in ("same_session", "other_session")]
            elif stage == "impostor":
                kinds = [(u, k) for u, k in kinds if k == "impostor"]
            if not kinds:
                continue
            frames, fps = read_frames(video.path)
            start_at = len(frames) // 2 if video is first else 0
            protocol.run(video, frames, fps, window_s, start_at, kinds)
            memo.forget()
            if log:
                log(f"{stage}: {folder}/{video.person}/{video.path.name}: {len(frames)} frames")
    result = summarise(protocol.attempts, fte, len(real), window_s)
    result["adaptive"] = bool(config.adaptive)
    result["adaptive_entries"] = {u: int(len(p.adaptive)) for u, p in profiles.items()}
    result["impostor_adaptation"] = protocol.impostor_admission()
    return result, protocol.attempts


def plot_best_p(path: str, attempts: list[Attempt]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    bins = np.linspace(0, 1, 41)
    for kind in ("same_session", "other_session", "impostor", "attack"):
        best = [a.best_p for a in attempts if a.kind == kind and not a.liveness]
        if best:
            ax.hist(best, bins, alpha=0.5, label=f"{kind} ({len(best)})", log=True)
    ax.axvline(0.5, color="k", lw=1)
    ax.set_xlabel("highest per-frame p in the attempt")
    ax.set_ylabel("attempts")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
