"""The live unlock loop: per frame the largest face -> crop -> p, then a k-of-n decision.

Runtime-independent (no torch here): it drives any pipeline with the FacePipeline
interface (`unlock.pipeline.runtime.load_pipeline`) and the numpy `UnlockScorer`.

Speed: embedding one face costs most of a frame, so finding the face must be cheap.
`FaceFinder` runs the shared detector on a frame scaled so that the pipeline's minimum
face size maps onto the loop's (larger) `min_face_size`, and between full detections it
tracks: MTCNN's last network re-locates the previous face (two 48 x 48 O-Net runs instead
of a detection's image pyramid). A full detection runs every `refresh_every` frames and
whenever the track is lost, so a larger face that walks in is picked up within a few
frames.
Crops are always cut from the full-resolution frame by the shared pipeline.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from faceunlock.models.crop import crop_face, face_lighting
from faceunlock.models.face import Face
from faceunlock.models.unlock_head import THRESHOLD
from faceunlock.models.unlock_head.scorer import MAX_SIDE_LIGHT
from faceunlock.unlock.config import Config

# Per-frame states (the JSON `state` field); `banner()` turns them into the window's text.
NO_FACE = "no_face"
TOO_DARK = "too_dark"
UNEVEN_LIGHT = "uneven_light"
LOCKED = "locked"
UNLOCKED = "unlocked"
LOCKED_OUT = "locked_out"
MOVE_HEAD = "move_head"

# A refused attempt whose best p reached this was close: the message suggests adding an
# appearance (`enroll --add` still has to recognise the face at p >= 0.5 on one frame).
NEAR_MISS_P = 0.05
TRACK_PASSES = 2  # O-Net passes per tracked frame (see FaceFinder.near)
TRACK_MIN_IOU = 0.4  # a tracked box overlapping the last one less than this is lost
REFRESH_EVERY = 10  # tracked frames between full detections
MIN_SIZE_FRACTION = 0.8  # faces found are kept from this fraction of the minimum size up
DARK_PROBE_SIZE = (64, 36)  # frame_is_dark looks at the frame area-resized to this (w, h)
DARK_PERCENTILE = 99  # ... and at this percentile of its grey levels


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two boxes (x1, y1, x2, y2)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _scaled_face(face: Face, scale: float) -> Face:
    """A face found in a resized frame, mapped back to frame coordinates."""
    x1, y1, x2, y2 = face.box
    box = (x1 / scale, y1 / scale, x2 / scale, y2 / scale)
    landmarks = np.asarray(face.landmarks, np.float32) / scale
    return Face(box=box, confidence=face.confidence, landmarks=landmarks)


class FaceFinder:
    """The largest face of at least `min_face_size` px per frame, tracked between frames."""

    def __init__(
        self, detector, min_face_size: int = 80, refresh_every: int = REFRESH_EVERY
    ) -> None:
        self.detector = detector
        self.min_face_size = min_face_size
        self.refresh_every = refresh_every
        self.previous: Face | None = None
        self.since_full = 0
        self.last_mode = "full"

    def reset(self) -> None:
        self.previous = None
        self.since_full = 0

    def _detect_scaled(self, image: np.ndarray, scale: float) -> list[Face]:
        if abs(scale - 1.0) > 1e-3:
            h, w = image.shape[:2]
            size = (max(12, round(w * scale)), max(12, round(h * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            scale = size[0] / w
        return [_scaled_face(f, scale) for f in self.detector.infer(image)] if scale else []

    def full(self, frame: np.ndarray) -> list[Face]:
        """Every face of at least about `min_face_size` px in the frame, largest first."""
        scale = min(1.0, self.detector.min_face_size / self.min_face_size)
        faces = self._detect_scaled(frame, scale)
        faces = [f for f in faces if f.size >= MIN_SIZE_FRACTION * self.min_face_size]
        return sorted(faces, key=lambda f: f.area, reverse=True)

    def near(self, frame: np.ndarray, previous: Face) -> Face | None:
        """The face that was at `previous`, re-located in this frame (None when it is gone).

        MTCNN's last network (O-Net) alone, on the previous box and once more on its
        answer so that a face that moved re-centres as in a full detection: two 48 x 48
        network runs instead of a detection's image pyramid.
        """
        face: Face | None = previous
        for _ in range(TRACK_PASSES):
            found = self.detector.refine(frame, [face])
            face = found[0] if found else None
            if face is None:
                return None
        if (
            face.size < MIN_SIZE_FRACTION * self.min_face_size
            or _iou(face.box, previous.box) < TRACK_MIN_IOU
        ):
            return None  # too small, or jumped: a full detection decides
        return face

    def find(self, frame: np.ndarray) -> Face | None:
        """This frame's face: tracked near the last one, or from a full detection."""
        face = None
        if self.previous is not None and self.since_full < self.refresh_every:
            face = self.near(frame, self.previous)
            self.since_full += 1
            self.last_mode = "track"
        if face is None:
            faces = self.full(frame)
            face = faces[0] if faces else None
            self.since_full = 0
            self.last_mode = "full"
        self.previous = face
        return face


def frame_is_dark(frame: np.ndarray, threshold: float) -> bool:
    """True when even the brightest 1 % of the frame is darker than `threshold` (grey level).

    A stage or a desk lamp can light a face in a frame whose mean is low (the bundled
    clip's frames average 16-35), so the whole-frame test looks at the bright end; the
    face itself is tested by `lighting_gate`.
    """
    small = cv2.resize(frame, DARK_PROBE_SIZE, interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return float(np.percentile(grey, DARK_PERCENTILE)) < threshold


def lighting_gate(mean_grey: float, side_light: float, dark_threshold: float) -> str | None:
    """Why a face is not scored (TOO_DARK, UNEVEN_LIGHT), or None when its light is usable."""
    if mean_grey < dark_threshold:
        return TOO_DARK
    if side_light > MAX_SIDE_LIGHT:  # lit unlike anything the network was calibrated on
        return UNEVEN_LIGHT
    return None


@dataclass
class FrameResult:
    """What the loop saw and decided on one frame."""

    index: int
    t_ms: float
    state: str
    face: Face | None = None
    p: float | None = None
    user: str | None = None  # the enrolled user the face is most like (with `p`)
    hits: int = 0  # frames of the last n with p >= 0.5 for `user`
    stage_ms: dict[str, float] = field(default_factory=dict)
    lockout_s: float = 0.0
    track: str = ""
    embedding: np.ndarray | None = None  # the live face's embedding (not in the JSON)
    # on an unlock: (p, embedding) of the most confident agreeing frame of the window
    best_hit: tuple[float, np.ndarray] | None = None

    def to_json(self) -> dict:
        return {
            "frame": self.index,
            "t_ms": round(self.t_ms, 1),
            "box": [round(v, 1) for v in self.face.box] if self.face is not None else None,
            "p": None if self.p is None else round(self.p, 4),
            "state": self.state,
            "user": self.user,
            "ms": {k: round(v, 2) for k, v in self.stage_ms.items()},
        }

    def banner(self) -> str:
        """The state as the window shows it."""
        if self.state == UNLOCKED:
            return f"UNLOCKED {self.user}"
        if self.state == LOCKED_OUT:
            return f"LOCKED OUT {int(np.ceil(self.lockout_s))} s"
        return {
            NO_FACE: "NO FACE",
            TOO_DARK: "TOO DARK",
            UNEVEN_LIGHT: "LIGHT FROM ONE SIDE",
            LOCKED: "LOCKED",
            MOVE_HEAD: "MOVE YOUR HEAD",
        }[self.state]


class ProfileScorer:
    """p for a live embedding against each enrolled profile; the best user and its p."""

    def __init__(self, profiles: list, scorer) -> None:
        if not profiles:
            raise ValueError("no profiles to unlock for")
        self.profiles = profiles
        self.scorer = scorer

    def best(self, embedding: np.ndarray) -> tuple[str, float]:
        scores = [float(self.scorer.probability(embedding[None], pr)[0]) for pr in self.profiles]
        i = int(np.argmax(scores))
        return self.profiles[i].name, scores[i]


class KOfN:
    """The attempt's decision rule: unlock when this frame's p >= threshold and at least k
    of the last n frames with a face had p >= threshold for the same user."""

    def __init__(self, k: int, n: int, threshold: float = THRESHOLD) -> None:
        self.k, self.n, self.threshold = k, n, threshold
        self.reset()

    def reset(self) -> None:
        # (user if the frame agreed else None, p, what the caller attached) per scored frame
        self.window: deque[tuple[str | None, float, object]] = deque(maxlen=self.n)

    def add(self, user: str, p: float, payload: object = None) -> tuple[bool, int]:
        """Record one scored frame; (unlock now?, frames of the window that agree)."""
        hit = p >= self.threshold
        self.window.append((user if hit else None, p, payload))
        hits = sum(1 for u, _, _ in self.window if u == user)
        return hit and hits >= self.k, hits

    def best_agreeing(self, user: str) -> tuple[float, object]:
        """(p, payload) of the most confident frame of the window that agreed for `user`."""
        return max(((q, x) for u, q, x in self.window if u == user), key=lambda item: item[0])


def attempt_unlocks(ps, k: int, n: int, threshold: float = THRESHOLD) -> int | None:
    """Index of the frame at which a sequence of per-frame p (one user) unlocks, or None."""
    rule = KOfN(k, n, threshold)
    for i, p in enumerate(ps):
        if rule.add("user", float(p))[0]:
            return i
    return None


class UnlockLoop:
    """Per-frame engine: face -> crop -> p -> k-of-n decision (no I/O, no window).

    UNLOCKED on a frame when its own p >= 0.5 and at least k of the last n frames with a
    face had p >= 0.5 for the same user (and, with liveness, the head has moved). A frame
    with no face, or too dark, does not count. Dark frames are skipped before detection,
    dark faces before embedding.
    """

    def __init__(
        self,
        pipeline,
        profile_scorer: ProfileScorer,
        config: Config,
        liveness=None,
        lockout=None,
        refresh_every: int = REFRESH_EVERY,
    ) -> None:
        self.pipeline = pipeline
        self.profile_scorer = profile_scorer
        self.config = config
        self.k, self.n = config.k, config.n
        self.liveness = liveness
        self.lockout = lockout
        self.finder = FaceFinder(pipeline.detector, config.min_face_size, refresh_every)
        self.reset()

    def reset(self) -> None:
        """Start a new attempt: forget the window, the tracked face and liveness."""
        self.counted = False  # this attempt already counted as a failure (until it unlocks)
        self.last_allowed = False  # the failure it counted started a lockout
        self.rule = KOfN(self.k, self.n)
        self.finder.reset()
        if self.liveness is not None:
            self.liveness.reset()

    def step(self, frame: np.ndarray, index: int, t_ms: float) -> FrameResult:
        """Process one BGR frame."""
        if self.lockout is not None and not self.last_allowed:
            left = self.lockout.remaining_s()
            if left > 0:
                return FrameResult(index, t_ms, LOCKED_OUT, lockout_s=left)
        ms: dict[str, float] = {}
        start = time.perf_counter()
        if frame_is_dark(frame, self.config.dark_threshold):
            ms["detect"] = (time.perf_counter() - start) * 1000
            return FrameResult(index, t_ms, TOO_DARK, stage_ms=ms)
        face = self.finder.find(frame)
        ms["detect"] = (time.perf_counter() - start) * 1000
        if face is None:
            if self.liveness is not None:
                self.liveness.update(None, frame.shape)
            return FrameResult(index, t_ms, NO_FACE, stage_ms=ms, track=self.finder.last_mode)
        start = time.perf_counter()
        crop = crop_face(frame, face)
        ms["crop"] = (time.perf_counter() - start) * 1000
        gate = lighting_gate(*face_lighting(crop), self.config.dark_threshold)
        if gate is not None:  # not worth an embedding, and not what the network knows
            return FrameResult(index, t_ms, gate, face=face, stage_ms=ms)
        start = time.perf_counter()
        embedding = self.pipeline.embed_crops([crop])[0]
        ms["embed"] = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        user, p = self.profile_scorer.best(embedding)
        ms["score"] = (time.perf_counter() - start) * 1000
        if self.lockout is not None and not self.counted:
            # a failure until this attempt unlocks: nothing the user does can undo it
            self.counted = True
            self.last_allowed = self.lockout.record_failure()
        unlock, hits = self.rule.add(user, p, embedding)
        state = UNLOCKED if unlock else LOCKED
        best_hit = self.rule.best_agreeing(user) if unlock else None
        if self.liveness is not None:
            self.liveness.update(face, frame.shape)
            if state == UNLOCKED and not self.liveness.is_live:
                state = MOVE_HEAD
        return FrameResult(
            index,
            t_ms,
            state,
            face,
            p,
            user,
            hits,
            ms,
            track=self.finder.last_mode,
            embedding=embedding,
            best_hit=best_hit,
        )


@dataclass
class Summary:
    """How an attempt ended (the final `--json` line)."""

    result: str  # unlocked | locked | locked_out | quit
    user: str | None
    unlocked_at_frame: int | None
    time_to_unlock_ms: float | None
    frames: int
    face_seen: bool  # a face was scored (found, and lit well enough to score)
    lockout_started: bool = False
    unlock_frame: FrameResult | None = None  # the frame that unlocked (not in the JSON)
    states: dict[str, int] = field(default_factory=dict)  # frames per state
    best_p: float | None = None  # the highest p of any scored face

    def reason(self) -> str:
        """Why the attempt did not unlock, in words a user can act on."""
        if self.result == "unlocked":
            return "unlocked"
        if self.result == "locked_out":
            return "locked out after too many failed attempts"
        count = self.states.get
        if self.face_seen:
            shown = math.floor((self.best_p or 0.0) * 100) / 100
            if count(MOVE_HEAD, 0):
                return (
                    f"recognised on {count(MOVE_HEAD)} frames, but the head never moved "
                    "(liveness is on: turn your head a little)"
                )
            scored = count(LOCKED, 0)
            if (self.best_p or 0.0) >= 0.5:  # recognised, on too few frames for k of n
                return (
                    f"recognised (best p {shown:.2f}), but not on enough of the {scored} "
                    "frames with a face: unlock needs p >= 0.5 on k of the last n frames "
                    "(`faceunlock config`); face the camera a little longer"
                )
            refused = f"not recognised: best p {shown:.2f} < 0.5 on {scored} frames with a face"
            if (self.best_p or 0.0) >= NEAR_MISS_P:
                refused += (
                    "; if this is you in new light, glasses or place, add this appearance: "
                    "`faceunlock enroll NAME --add`"
                )
            return refused
        if count(UNEVEN_LIGHT, 0):
            return (
                f"light from one side on {count(UNEVEN_LIGHT)} of {self.frames} frames: "
                "face the light, or light your face from the front"
            )
        if count(TOO_DARK, 0):
            return f"too dark on {count(TOO_DARK)} of {self.frames} frames: turn on a light"
        return f"no face found in {self.frames} frames"

    def to_json(self) -> dict:
        return {
            "result": self.result,
            "user": self.user,
            "unlocked_at_frame": self.unlocked_at_frame,
            "time_to_unlock_ms": (
                None if self.time_to_unlock_ms is None else round(self.time_to_unlock_ms, 1)
            ),
            "frames": self.frames,
            "face_seen": self.face_seen,
            "lockout_started": self.lockout_started,
            "states": dict(self.states),
            "reason": self.reason(),
        }


def frames_with_time(source, clock: Callable[[], float] = time.perf_counter) -> Iterator:
    """(index, t_ms, frame) from a source: wall-clock time for cameras and streams, media
    time (index / fps) for files and folders, so a file gives the same result on any
    machine however fast it is processed."""
    start = clock()
    index = 0
    while True:
        frame = source.read()
        if frame is None:
            return
        t_ms = (clock() - start) * 1000 if source.live else index * 1000.0 / source.fps
        yield index, t_ms, frame
        index += 1


def run_attempt(
    loop: UnlockLoop,
    source,
    timeout_s: float,
    on_frame: Callable[[np.ndarray, FrameResult], str | None] | None = None,
    stop_on_unlock: bool = True,
) -> Summary:
    """Run one unlock attempt over a source until unlock, timeout, end of source or quit.

    `on_frame(frame, result)` may return "quit" or "reset". With `stop_on_unlock=False`
    the whole source is processed (the demo's timeline) and the first unlock is reported.
    The lockout counter (if the loop has one) counted the attempt as failed on its first
    scored face; an unlock clears it here.
    """
    first: FrameResult | None = None
    face_seen = False
    frames = 0
    states: dict[str, int] = {}
    best_p: float | None = None
    result = "locked"
    attempt_start_ms = 0.0
    last: FrameResult | None = None
    for index, t_ms, frame in frames_with_time(source):
        if t_ms - attempt_start_ms > timeout_s * 1000:
            break
        res = loop.step(frame, index, t_ms)
        frames += 1
        last = res
        states[res.state] = states.get(res.state, 0) + 1
        if res.p is not None:
            face_seen = True
            best_p = res.p if best_p is None else max(best_p, res.p)
        if res.state == UNLOCKED and first is None:
            first = res
        action = on_frame(frame, res) if on_frame is not None else None
        if action == "quit":
            result = "quit"
            break
        if action == "reset":
            loop.reset()
            first, face_seen, attempt_start_ms = None, False, t_ms
            states, best_p = {}, None
            continue
        if first is not None and stop_on_unlock:
            break
        if res.state == LOCKED_OUT and stop_on_unlock and not source.live:
            break
    if first is not None:
        if loop.lockout is not None:
            loop.lockout.record_success()
        return Summary(
            "unlocked",
            first.user,
            first.index,
            first.t_ms - attempt_start_ms,
            frames,
            face_seen,
            unlock_frame=first,
            states=states,
            best_p=best_p,
        )
    if last is not None and last.state == LOCKED_OUT:
        return Summary("locked_out", None, None, None, frames, face_seen, states=states)
    # the failure was counted on the first scored face (UnlockLoop.step)
    return Summary(
        result, None, None, None, frames, face_seen, loop.last_allowed, states=states, best_p=best_p
    )
