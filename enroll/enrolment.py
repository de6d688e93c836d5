"""Enrolment: read a source, keep the good frames, write the user's profile.

A source is a camera index ("0"), a video file, one image, or a folder of images. Every
candidate frame goes through the quality gates (`enroll.quality`): a face (the largest),
big enough, confident, not too dark, not blurred. Frames must show one person (frames of
anyone else are dropped); of a video or camera's good frames, the most varied are kept
(a person who sits still is enrolled from the frames the camera gave, and told that
another appearance later, in other light, makes unlocking surer). When not enough good
frames come, enrolment raises FaceUnlockError saying why, and nothing is written. One
still photo is a valid source: it enrols one embedding.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from enroll.guidance import PoseCoverage
from enroll.profile import Profile, ProfileStore, check_user_name, write_private_file
from enroll.quality import (
    QualityGates,
    check_frame,
    consensus_members,
    select_varied,
)
from models.crop import crop_face
from models.face import Face, choose_face
from unlock.errors import FaceUnlockError
from unlock.images import IMAGE_SUFFIXES, list_images, load_image
from unlock.scoring import TIGHT_PAIRWISE, pairwise_cosine

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
CAMERA_TIMEOUT_S = 30.0
# The detector's smallest face for enrolment: the size gate needs 60 px, and a pyramid that
# starts at 48 px finds those faces at a fraction of the cost of MTCNN's default 20 px
# (dark, busy frames make the default spend seconds on R-Net/O-Net candidates).
DETECTOR_MIN_FACE = 48
CANDIDATES_PER_FRAME = 3  # a video is sampled at up to this many candidates per wanted frame
MAX_EMBEDDINGS = 200  # per profile, over all appearances
# guide(frame, face or None, status, kept frames, wanted frames, instruction or None)
Guide = Callable[[np.ndarray, "Face | None", str, int, int, "str | None"], None]


@dataclass
class EnrolmentReport:
    """What happened to the candidate frames."""

    kind: str
    candidates: int = 0
    accepted: int = 0
    rejected: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    pairwise_cosine: float = 1.0  # how alike the kept frames are (1: identical)
    good: int = 0  # frames that passed the gates (the most varied `accepted` are kept)
    notes: list[str] = field(default_factory=list)  # e.g. more than one face in a photo

    def reasons(self) -> str:
        if not self.rejected:
            return "no frames"
        return "; ".join(f"{n} x {why}" for why, n in self.rejected.most_common())


def source_kind(source: str) -> str:
    """'camera', 'video', 'image' or 'folder' (or a FaceUnlockError for a bad source)."""
    if source.isdigit():
        return "camera"
    path = Path(source)
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise FaceUnlockError(f"{source}: no such file, folder or camera index")
    if not path.is_file():
        raise FaceUnlockError(f"{source}: not a regular file or folder (a fifo or device?)")
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    raise FaceUnlockError(
        f"{source}: not a known image or video type; use a camera index, a video "
        f"({', '.join(VIDEO_SUFFIXES)}), an image or a folder of images"
    )


def _video_frames(
    path: str, frames: int, first_frames: int | None = None
) -> Iterator[tuple[str, np.ndarray]]:
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise FaceUnlockError(f"{path}: cannot be opened as a video")
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if first_frames is not None:
            total = min(total, first_frames) if total > 0 else first_frames
        wanted = frames * CANDIDATES_PER_FRAME
        step = max(1, total // wanted) if total > 0 else 1
        index = 0
        while first_frames is None or index < first_frames:
            if index % step == 0:
                ok, frame = capture.read()
                if not ok:
                    break
                yield f"frame {index}", frame
            elif not capture.grab():
                break
            index += 1
    finally:
        capture.release()


def _camera_frames(index: int) -> Iterator[tuple[str, np.ndarray]]:
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        raise FaceUnlockError(f"camera {index} cannot be opened (is it connected and free?)")
    try:
        start, n = time.monotonic(), 0
        while time.monotonic() - start < CAMERA_TIMEOUT_S:
            ok, frame = capture.read()
            if not ok:
                raise FaceUnlockError(f"camera {index} stopped delivering frames")
            n += 1
            if n % 2 == 0:  # every other frame: consecutive frames are near-identical
                yield f"frame {n}", frame
    finally:
        capture.release()


def _folder_images(folder: Path, report: EnrolmentReport) -> Iterator[tuple[str, np.ndarray]]:
    files = list_images(folder)
    if not files:
        raise FaceUnlockError(f"{folder}: no images in this folder")
    for path in files:
        try:
            yield path.name, load_image(path)
        except FaceUnlockError:
            report.candidates += 1
            report.rejected["unreadable image"] += 1


def _required(kind: str, frames: int, folder_size: int) -> int:
    if kind == "image":
        return 1
    if kind == "folder":
        return min(frames, folder_size, 3)
    if kind == "video":
        return max(1, min(frames, math.ceil(frames / 2)))
    return frames


def _frame_stream(
    kind: str, source: str, frames: int, first_frames: int | None, report: EnrolmentReport
) -> Iterator[tuple[str, np.ndarray]]:
    if kind == "camera":
        return _camera_frames(int(source))
    if kind == "video":
        return _video_frames(source, frames, first_frames)
    if kind == "folder":
        return _folder_images(Path(source), report)
    return iter([(Path(source).name, load_image(source))])


def _good_face(
    pipeline, image: np.ndarray, label: str, kind: str, gates: QualityGates, report
) -> tuple[Face | None, np.ndarray | None, str | None]:
    """(face, crop, None) for a frame that passes the gates, else (face, None, reason)."""
    faces = pipeline.detect(image)
    face = choose_face(faces, image.shape, "largest")
    if face is None:
        return None, None, "no face"
    if kind in ("image", "folder") and len(faces) > 1:
        report.notes.append(f"{label}: {len(faces)} faces, enrolled the largest")
    crop = crop_face(image, face)
    reason = check_frame(face, crop, gates)
    return face, (crop if reason is None else None), reason


def collect_embeddings(
    pipeline,
    source: str,
    frames: int,
    gates: QualityGates,
    progress: bool,
    snapshots: list | None = None,
    first_frames: int | None = None,
    guide: Guide | None = None,
    interactive: bool | None = None,
) -> tuple[np.ndarray, EnrolmentReport]:
    """Embeddings of the good, varied, same-person frames of `source` (or FaceUnlockError).

    With a `snapshots` list, the 160 x 160 face crops of the kept frames are appended to it.
    `first_frames` limits a video to its first frames (evaluation enrols from part of one).
    An `interactive` source (a camera, by default) asks for small head turns until the
    kept frames cover the poses (`enroll.guidance.PoseCoverage`); `guide(frame, face,
    status, kept, wanted, instruction)` sees every candidate (the enrolment window).
    """
    kind = source_kind(source)
    interactive = kind == "camera" if interactive is None else interactive
    report = EnrolmentReport(kind)
    started = time.perf_counter()
    folder_size = len(list_images(source)) if kind == "folder" else 1
    want = frames if kind in ("camera", "video") else min(frames, folder_size)
    coverage = PoseCoverage(per_side=max(1, frames // 6))
    instruction = None
    crops: list[np.ndarray] = []
    for label, image in _frame_stream(kind, source, frames, first_frames, report):
        report.candidates += 1
        face, crop, reason = _good_face(pipeline, image, label, kind, gates, report)
        if crop is not None:
            crops.append(crop)
            coverage.add(face)
        else:
            report.rejected[reason.split(" (")[0]] += 1
        said, instruction = instruction, coverage.instruction() if interactive else None
        if guide is not None:
            guide(image, face, reason or "ok", len(crops), want, instruction)
        if progress:
            status = "ok" if reason is None else reason
            hint = f"  -> {instruction}" if instruction and instruction != said else ""
            print(f"  {label}: {status} [{len(crops)}/{want}]{hint}", file=sys.stderr, flush=True)
        if _enough(kind, len(crops), frames, coverage, interactive):
            break
    report.good = len(crops)
    embeddings, order = _varied_same_person(pipeline, crops, frames, gates, report)
    report.accepted = len(embeddings)
    report.pairwise_cosine = pairwise_cosine(embeddings)
    report.seconds = time.perf_counter() - started
    required = _required(kind, frames, folder_size)
    if report.accepted < required:
        raise FaceUnlockError(_failure(kind, source, required, report, gates))
    if snapshots is not None:
        snapshots.extend(crops[i] for i in order)
    return embeddings.astype(np.float32), report


def _enough(kind: str, kept: int, frames: int, coverage: PoseCoverage, interactive: bool) -> bool:
    """Whether a source has given enough good frames to stop reading it.

    A camera stops with room for variety (twice the frames asked for, and the head poses
    covered when it guides the user, or four times the frames); a folder with the frames
    asked for; a video and a photo are read to the end.
    """
    if kind == "camera":
        covered = coverage.complete or not interactive
        return kept >= frames * 4 or (kept >= frames * 2 and covered)
    return kind == "folder" and kept >= frames


def _varied_same_person(
    pipeline, crops: list[np.ndarray], frames: int, gates: QualityGates, report
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of the crops of one person (the consensus), the `frames` most varied,
    and which crop each came from."""
    embeddings = pipeline.embed_crops(crops) if crops else np.zeros((0, 512), np.float32)
    order = np.arange(len(embeddings))
    if len(embeddings) > 1:
        members = consensus_members(embeddings, gates.min_same_person)
        report.rejected["another person's face"] += len(embeddings) - len(members)
        embeddings, order = embeddings[members], order[members]
        kept = select_varied(embeddings, frames)
        embeddings, order = embeddings[kept], order[kept]
    return embeddings, order


def _failure(kind: str, source: str, required: int, report, gates: QualityGates) -> str:
    if kind in ("camera", "video"):
        return (
            f"enrolment failed: {report.accepted} good frame(s) from {source}, need "
            f"{required} ({report.candidates} looked at; rejected: {report.reasons()}). "
            "Face the camera in good light, from closer"
        )
    return (
        f"enrolment failed: no usable face in {source} (rejected: {report.reasons()}); "
        f"use a sharp, well-lit photo with the face at least {gates.min_face_size} px wide"
    )


def save_snapshots(store: ProfileStore, name: str, crops: list[np.ndarray], stamp: str) -> Path:
    """Write enrolment face crops as PNG, owner-only (0600 files in a 0700 folder)."""
    folder = store.snapshot_folder(name)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    prefix = stamp.replace(":", "").replace("-", "").split(".")[0]
    for i, crop in enumerate(crops):
        ok, png = cv2.imencode(".png", crop)
        if ok:
            write_private_file(folder / f"{prefix}-{i:03d}.png", png.tobytes())
    return folder


def self_check(scorer, embeddings: np.ndarray) -> float | None:
    """Median p of each enrolled frame against the others (None for one frame)."""
    if len(embeddings) < 2:
        return None
    ps = [
        float(scorer.probability(embeddings[i : i + 1], np.delete(embeddings, i, axis=0))[0])
        for i in range(len(embeddings))
    ]
    return float(np.median(ps))


def _check_same_person(scorer, embeddings: np.ndarray, profile: Profile, source: str) -> None:
    """Refuse an added appearance that is not recognised as the profile's person."""
    best = float(scorer.probability(embeddings, profile).max())
    if best < scorer.threshold:
        raise FaceUnlockError(
            f"the face in {source} does not match {profile.name}'s profile (best p "
            f"{best:.2f} < {scorer.threshold}): an added appearance must be the same person, "
            "recognised on at least one frame; to enrol someone else, use another name"
        )


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def enrol(
    pipeline,
    source: str,
    name: str,
    frames: int = 20,
    add: bool = False,
    store: ProfileStore | None = None,
    progress: bool = True,
    gates: QualityGates | None = None,
    snapshots: bool = False,
    guide: Guide | None = None,
) -> Profile:
    """Enrol `name` from `source` and save the profile; returns it. Writes nothing on failure.

    `guide` sees every candidate frame (see `collect_embeddings`)."""
    from unlock.scoring import WEIGHTS_PATH, UnlockScorer

    check_user_name(name)
    if not 1 <= frames <= 100:
        raise FaceUnlockError(f"--frames must be 1..100, got {frames}")
    store = store or ProfileStore()
    existing = None
    if add:
        if not store.exists(name):
            raise FaceUnlockError(f"no user {name!r} to add to; enrol without --add first")
        existing = store.load(name)
        if existing.weights_sha256 != pipeline.weights_sha256:
            raise FaceUnlockError(
                f"{name} was enrolled with other embedding weights; remove and enrol again"
            )
    elif store.exists(name):
        raise FaceUnlockError(
            f"user {name!r} is already enrolled; use --add to add an appearance or "
            f"`faceunlock users remove {name}` first"
        )
    crops: list | None = [] if snapshots else None
    gates = gates or QualityGates()
    embeddings, report = collect_embeddings(
        pipeline, source, frames, gates, progress, crops, guide=guide
    )
    scorer = UnlockScorer()
    now = datetime.now(UTC).isoformat()
    appearance = {
        "date": now,
        "source": source,
        "kind": report.kind,
        "frames": int(report.accepted),
        "candidates": int(report.candidates),
        "rejected": dict(report.rejected),
        "pairwise_cosine": round(report.pairwise_cosine, 4),
        "good_frames": int(report.good),
    }

    def combine(current: Profile | None) -> Profile:
        # read fresh under the user's lock: another enrolment or a removal may have run
        if add and current is None:
            raise FaceUnlockError(f"{name} was removed while this enrolment ran; nothing saved")
        if not add and current is not None:
            raise FaceUnlockError(
                f"user {name!r} was enrolled by another enrolment meanwhile; nothing saved "
                f"(use --add to add this appearance)"
            )
        if current is not None:
            _check_same_person(scorer, embeddings, current, source)
            profile = current
            profile.embeddings = np.concatenate([current.embeddings, embeddings])[
                -MAX_EMBEDDINGS:
            ]
            profile.updated = now
            profile.appearances += 1
            profile.source = f"{current.source}; {source}" if current.source else source
            profile.extra.setdefault("appearances", []).append(appearance)
        else:
            profile = Profile(
                name=name,
                embeddings=embeddings,
                weights_sha256=pipeline.weights_sha256,
                source=source,
                created=now,
                extra={"appearances": [appearance]},
            )
        profile.extra["unlock_net_sha256"] = _file_sha256(WEIGHTS_PATH)
        profile.extra["self_check_p"] = self_check(scorer, profile.embeddings)
        return profile

    if existing is not None:  # refuse another person before anything else is done
        _check_same_person(scorer, embeddings, existing, source)
    profile = store.update(name, combine)
    if crops:
        folder = save_snapshots(store, name, crops, now)
        if progress:
            print(f"saved {len(crops)} face snapshot(s) in {folder}", file=sys.stderr)
    if progress:
        for note in report.notes:
            print(f"note: {note}", file=sys.stderr)
        chosen = (
            f"the {report.accepted} most varied of {report.good} good frames"
            if report.good > report.accepted
            else f"{report.accepted} frame(s)"
        )
        print(
            f"enrolled {name}: {chosen} from {report.kind} {source} "
            f"in {report.seconds:.1f} s ({len(profile.embeddings)} embeddings in profile)",
            file=sys.stderr,
        )
        if report.accepted > 1 and report.pairwise_cosine >= TIGHT_PAIRWISE:
            print(
                f"note: the enrolled frames are much alike (mean cosine "
                f"{report.pairwise_cosine:.2f}): unlocking is surest in this light and place. "
                f"Adding an appearance elsewhere (`faceunlock enroll {name} --add`) in other "
                "light, or with/without glasses, makes it surer there too.",
                file=sys.stderr,
            )
    return profile
