"""Enrolment: read a source, keep the good frames, write the user's profile.

A source is a camera index ("0"), a video file, one image, or a folder of images, read
through the same frame sources as the unlock loop (`unlock.sources`). Every
candidate frame goes through the quality gates (`enroll.quality`): a face (the largest),
big enough, confident, not too dark, not blurred. Frames must show one person (frames of
anyone else are dropped); of a video or camera's good frames, the most varied are kept
(a person who sits still is enrolled from the frames the camera gave, and told that
another appearance later, in other light, makes unlocking surer). When not enough good
frames come, enrolment raises FaceUnlockError saying why, and nothing is written. One
still photo is a valid source: it enrols one embedding.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from faceunlock.enroll.guidance import PoseCoverage
from faceunlock.enroll.profile import Profile, ProfileStore, check_user_name, require_compatible
from faceunlock.enroll.quality import (
    QualityGates,
    check_frame,
    consensus_members,
    select_varied,
)
from faceunlock.models.crop import crop_face
from faceunlock.models.face import Face, choose_face
from faceunlock.models.files import write_private_file
from faceunlock.models.unlock_head.scorer import TIGHT_PAIRWISE, UnlockScorer, pairwise_cosine
from faceunlock.unlock.errors import FaceUnlockError
from faceunlock.unlock.images import IMAGE_SUFFIXES, list_images
from faceunlock.unlock.sources import VIDEO_SUFFIXES, FrameSource, open_source

log = logging.getLogger(__name__)

CAMERA_TIMEOUT_S = 30.0
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


def _video_candidates(
    source: FrameSource, frames: int, first_frames: int | None
) -> Iterator[tuple[str, np.ndarray]]:
    """Frames spread over the video (or its first `first_frames`), several per wanted one."""
    total = source.frame_count
    if first_frames is not None:
        total = min(total, first_frames) if total > 0 else first_frames
    step = max(1, total // (frames * CANDIDATES_PER_FRAME)) if total > 0 else 1
    index = 0
    while first_frames is None or index < first_frames:
        if index % step == 0:
            frame = source.read()
            if frame is None:
                return
            yield f"frame {index}", frame
        elif not source.skip():
            return
        index += 1


def _camera_candidates(source: FrameSource) -> Iterator[tuple[str, np.ndarray]]:
    """Every other camera frame (consecutive frames are near-identical), for a while."""
    start = time.monotonic()
    while time.monotonic() - start < CAMERA_TIMEOUT_S:
        frame = source.read()  # a camera that stops raises FaceUnlockError
        if frame is None:
            return
        if source.index % 2 == 0:
            yield f"frame {source.index}", frame


def _image_candidates(
    source: FrameSource, report: EnrolmentReport
) -> Iterator[tuple[str, np.ndarray]]:
    """The photo, or each image of the folder (unreadable ones are counted and passed over)."""
    while source.index < source.frame_count:
        name = source.images[source.index].name
        try:
            frame = source.read()
        except FaceUnlockError:
            if report.kind == "image":
                raise
            report.candidates += 1
            report.rejected["unreadable image"] += 1
            continue
        yield name, frame


def candidate_frames(
    source: FrameSource, report: EnrolmentReport, frames: int, first_frames: int | None
) -> Iterator[tuple[str, np.ndarray]]:
    """(label, BGR frame) of every frame enrolment looks at, by kind of source."""
    if report.kind == "camera":
        return _camera_candidates(source)
    if report.kind == "video":
        return _video_candidates(source, frames, first_frames)
    return _image_candidates(source, report)


def _required(kind: str, frames: int, folder_size: int) -> int:
    if kind == "image":
        return 1
    if kind == "folder":
        return min(frames, folder_size, 3)
    if kind == "video":
        return max(1, min(frames, math.ceil(frames / 2)))
    return frames


def _good_face(pipeline, image: np.ndarray, label: str, gates: QualityGates, report):
    """(face, crop, None) for a frame that passes the gates, else (face, None, reason)."""
    faces = pipeline.detect(image)
    face = choose_face(faces, image.shape, "largest")
    if face is None:
        return None, None, "no face"
    if report.kind in ("image", "folder") and len(faces) > 1:
        report.notes.append(f"{label}: {len(faces)} faces, enrolled the largest")
    crop = crop_face(image, face)
    reason = check_frame(face, crop, gates)
    return face, (crop if reason is None else None), reason


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


@dataclass
class _Reading:
    """How candidate frames are read: the gates, the progress log, the guide."""

    frames: int
    want: int
    gates: QualityGates
    progress: bool
    guide: Guide | None
    interactive: bool


def _good_crops(pipeline, stream, report: EnrolmentReport, how: _Reading) -> list[np.ndarray]:
    """Crops of the candidate frames that pass the quality gates (reasons go to `report`).

    An interactive source asks for small head turns until the kept frames cover the poses
    (`enroll.guidance.PoseCoverage`); the guide sees every candidate.
    """
    coverage = PoseCoverage(per_side=max(1, how.frames // 6))
    instruction = None
    crops: list[np.ndarray] = []
    for label, image in stream:
        report.candidates += 1
        face, crop, reason = _good_face(pipeline, image, label, how.gates, report)
        if crop is not None:
            crops.append(crop)
            coverage.add(face)
        else:
            report.rejected[reason.split(" (")[0]] += 1
        said, instruction = instruction, coverage.instruction() if how.interactive else None
        if how.guide is not None:
            how.guide(image, face, reason or "ok", len(crops), how.want, instruction)
        if how.progress:
            hint = f"  -> {instruction}" if instruction and instruction != said else ""
            log.info("  %s: %s [%d/%d]%s", label, reason or "ok", len(crops), how.want, hint)
        if _enough(report.kind, len(crops), how.frames, coverage, how.interactive):
            break
    report.good = len(crops)
    return crops


def _one_person_varied(embeddings: np.ndarray, frames: int, gates, report) -> np.ndarray:
    """Which embeddings to keep: the same person as most frames, the most varied first."""
    order = np.arange(len(embeddings))
    if len(embeddings) > 1:
        members = consensus_members(embeddings, gates.min_same_person)
        report.rejected["another person's face"] += len(embeddings) - len(members)
        order = order[members]
        order = order[select_varied(embeddings[order], frames)]
    return order


def _failure(report: EnrolmentReport, source: str, required: int, gates) -> FaceUnlockError:
    if report.kind in ("camera", "video"):
        return FaceUnlockError(
            f"enrolment failed: {report.accepted} good frame(s) from {source}, need "
            f"{required} ({report.candidates} looked at; rejected: {report.reasons()}). "
            "Face the camera in good light, from closer"
        )
    return FaceUnlockError(
        f"enrolment failed: no usable face in {source} (rejected: {report.reasons()}); "
        f"use a sharp, well-lit photo with the face at least {gates.min_face_size} px wide"
    )


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
    report = EnrolmentReport(source_kind(source))
    started = time.perf_counter()
    folder_size = len(list_images(source)) if report.kind == "folder" else 1
    want = frames if report.kind in ("camera", "video") else min(frames, folder_size)
    interactive = report.kind == "camera" if interactive is None else interactive
    how = _Reading(frames, want, gates, progress, guide, interactive)
    with open_source(source) as stream:
        frames_in = candidate_frames(stream, report, frames, first_frames)
        crops = _good_crops(pipeline, frames_in, report, how)
    embeddings = pipeline.embed_crops(crops) if crops else np.zeros((0, 512), np.float32)
    order = _one_person_varied(embeddings, frames, gates, report)
    embeddings = embeddings[order]
    report.accepted = len(embeddings)
    report.pairwise_cosine = pairwise_cosine(embeddings)
    report.seconds = time.perf_counter() - started
    required = _required(report.kind, frames, folder_size)
    if report.accepted < required:
        raise _failure(report, source, required, gates)
    if snapshots is not None:
        snapshots.extend(crops[i] for i in order)
    return embeddings.astype(np.float32), report


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


def _existing_profile(store: ProfileStore, name: str, add: bool, pipeline, scorer):
    """The profile `--add` adds to (None without --add), or why enrolment cannot go on.

    Checked again, fresh, under the user's lock when the profile is saved (`enrol`)."""
    if not add:
        if store.exists(name):
            raise FaceUnlockError(
                f"user {name!r} is already enrolled; use --add to add an appearance or "
                f"`faceunlock users remove {name}` first"
            )
        return None
    if not store.exists(name):
        raise FaceUnlockError(f"no user {name!r} to add to; enrol without --add first")
    return require_compatible(store.load(name), pipeline.weights_sha256, scorer.network_sha256)


def _with_appearance(existing, name, embeddings, pipeline, source, appearance, now) -> Profile:
    """The new profile, or `existing` with this appearance's embeddings added."""
    if existing is None:
        return Profile(
            name=name,
            embeddings=embeddings,
            weights_sha256=pipeline.weights_sha256,
            source=source,
            created=now,
            extra={"appearances": [appearance]},
        )
    profile = existing
    profile.embeddings = np.concatenate([existing.embeddings, embeddings])[-MAX_EMBEDDINGS:]
    profile.updated = now
    profile.appearances += 1
    profile.source = f"{existing.source}; {source}" if existing.source else source
    profile.extra.setdefault("appearances", []).append(appearance)
    return profile


def _log_done(profile: Profile, report: EnrolmentReport, source: str) -> None:
    for note in report.notes:
        log.info("note: %s", note)
    chosen = (
        f"the {report.accepted} most varied of {report.good} good frames"
        if report.good > report.accepted
        else f"{report.accepted} frame(s)"
    )
    log.info(
        "enrolled %s: %s from %s %s in %.1f s (%d embeddings in profile)",
        profile.name,
        chosen,
        report.kind,
        source,
        report.seconds,
        len(profile.embeddings),
    )
    if report.accepted > 1 and report.pairwise_cosine >= TIGHT_PAIRWISE:
        log.info(
            "note: the enrolled frames are much alike (mean cosine %.2f): unlocking is surest "
            "in this light and place. Adding an appearance elsewhere (`faceunlock enroll %s "
            "--add`) in other light, or with/without glasses, makes it surer there too.",
            report.pairwise_cosine,
            profile.name,
        )


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

    With `progress`, each frame's verdict and a closing summary are logged (INFO); `guide`
    sees every candidate frame (see `collect_embeddings`).
    """
    check_user_name(name)
    if not 1 <= frames <= 100:
        raise FaceUnlockError(f"--frames must be 1..100, got {frames}")
    store = store or ProfileStore()
    scorer = UnlockScorer()
    _existing_profile(store, name, add, pipeline, scorer)  # refuse before reading frames
    crops: list | None = [] if snapshots else None
    gates = gates or QualityGates()
    embeddings, report = collect_embeddings(
        pipeline, source, frames, gates, progress, crops, guide=guide
    )
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
            require_compatible(current, pipeline.weights_sha256, scorer.network_sha256)
            _check_same_person(scorer, embeddings, current, source)
        profile = _with_appearance(current, name, embeddings, pipeline, source, appearance, now)
        profile.extra["unlock_net_sha256"] = scorer.network_sha256
        profile.extra["self_check_p"] = self_check(scorer, profile.embeddings)
        return profile

    profile = store.update(name, combine)
    if crops:
        folder = save_snapshots(store, name, crops, now)
        if progress:
            log.info("saved %d face snapshot(s) in %s", len(crops), folder)
    if progress:
        _log_done(profile, report, source)
    return profile
