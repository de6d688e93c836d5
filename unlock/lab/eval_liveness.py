"""The protocol of `faceunlock eval liveness`: APCER per simulated photo attack, BPCER on real
head motion.

Attacks: LFW photos moved in front of a simulated camera (`unlock.lab.liveness_attacks`),
every frame re-detected by the real MTCNN, so its landmark jitter is included.
Faces come from the live loop's own `FaceFinder` (full detection every tenth frame,
tracking in between, at the default minimum face size), so the landmarks have the
jitter they have in `faceunlock unlock`.
Genuine: the bundled clip, frames whose face is Lin-Manuel Miranda (matched by
FaceNet to the bundled enrolment photo), cut into overlapping windows as a live loop
running at about 10 frames a second would see them (every third frame of 30 fps video).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from faceunlock.unlock import media

CLIP_STEP = 3  # a 10 fps loop sees every third frame of 30 fps video
MATCH_COSINE = 0.55  # the clip's face is the owner's when its cosine to the photo is above


def pick_photos(lfw_images: Path, count: int, seed: int) -> list[Path]:
    """`count` photos of distinct LFW people, chosen at random with `seed`."""
    people = sorted(p for p in lfw_images.iterdir() if p.is_dir())
    if len(people) < count:
        raise ValueError(f"{lfw_images}: only {len(people)} people, need {count}")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(people), size=count, replace=False)
    return [sorted(people[i].glob("*.jpg"))[0] for i in chosen]


def track_faces(finder, frames) -> list:
    """The live loop's face per frame (full detection or tracking, as `unlock` does)."""
    finder.reset()
    return [finder.find(frame) for frame in frames]


def attack_faces(finder, photos, attacks, frames: int, seed: int, progress=None) -> dict:
    """{attack: [the live loop's face per frame (or None)] per photo}."""
    import cv2

    from faceunlock.unlock.lab.liveness_attacks import attack_sequence

    out: dict[str, list] = {a: [] for a in attacks}
    for a_index, attack in enumerate(attacks):
        for p_index, photo in enumerate(photos):
            image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
            rng = np.random.default_rng([seed, a_index, p_index])
            sequence = attack_sequence(image, attack, frames, rng)
            out[attack].append(track_faces(finder, sequence))
            if progress:
                progress(f"{attack} {p_index + 1}/{len(photos)}")
    return out


def owner_frames(pipeline, frames, faces) -> np.ndarray:
    """Which frames' face is the owner (cosine to the bundled photo)."""
    from faceunlock.models.crop import crop_face

    owner = pipeline.require_face(media.photo_path(media.OWNER)).embedding
    mask = np.zeros(len(frames), bool)
    crops, rows = [], []
    for i, (frame, face) in enumerate(zip(frames, faces)):
        if face is not None:
            crops.append(crop_face(frame, face))
            rows.append(i)
    if crops:
        emb = pipeline.embed_crops(crops)
        mask[rows] = emb @ owner >= MATCH_COSINE
    return mask


def clip_faces(finder, frames) -> list:
    """The loop's face for every clip frame, tracked along every third frame (~10 fps):
    three interleaved passes, so each frame is seen the way a 10 fps loop would see it."""
    faces: list = [None] * len(frames)
    for phase in range(CLIP_STEP):
        indices = list(range(phase, len(frames), CLIP_STEP))
        for i, face in zip(indices, track_faces(finder, [frames[i] for i in indices])):
            faces[i] = face
    return faces


def genuine_windows(faces, owner_mask, window_s: float, stride: int = 6) -> list[list]:
    """Windows of `window_s` seconds of the owner, as a 10 fps loop sees them."""
    length = int(round(window_s * 30))
    windows = []
    for start in range(0, len(faces) - length + 1, stride):
        span = list(range(start, start + length, CLIP_STEP))
        if owner_mask[span].mean() < 0.8:
            continue
        windows.append([faces[i] if owner_mask[i] else None for i in span])
    return windows


def run_checker(sequence, params, frame_shape=(480, 640, 3)) -> tuple[bool, int]:
    """(accepted as live, frames it took) for one sequence of faces."""
    from faceunlock.unlock.app.liveness import LivenessChecker

    checker = LivenessChecker(params)
    for i, face in enumerate(sequence):
        checker.update(face, frame_shape)
        if checker.is_live:
            return True, i + 1
    return False, len(sequence)


def evaluate(attack_sets: dict, genuine_sets: dict, params) -> dict:
    """APCER per attack type, BPCER per genuine condition, for one set of parameters."""
    report = {"apcer": {}, "bpcer": {}}
    for attack, sequences in attack_sets.items():
        accepted = [run_checker(s, params)[0] for s in sequences]
        report["apcer"][attack] = {"rate": float(np.mean(accepted)), "n": len(accepted)}
    for kind, sequences in genuine_sets.items():
        results = [run_checker(s, params) for s in sequences]
        rejected = [not ok for ok, _ in results]
        took = [n for ok, n in results if ok]
        report["bpcer"][kind] = {
            "rate": float(np.mean(rejected)) if results else float("nan"),
            "n": len(results),
            "median_frames_to_live": float(np.median(took)) if took else None,
        }
    all_attacks = [r["rate"] * r["n"] for r in report["apcer"].values()]
    report["apcer_all"] = sum(all_attacks) / max(1, sum(r["n"] for r in report["apcer"].values()))
    return report


def genuine_sets(finder, pipeline, frames, window_s: float, seed: int, progress=None):
    """{degradation: genuine windows} of the clip, and the owner mask of its frames."""
    from faceunlock.unlock.lab.liveness_attacks import GENUINE_KINDS, degrade_frame

    rng = np.random.default_rng(seed)
    genuine: dict[str, list] = {}
    mask = None
    for kind in GENUINE_KINDS:
        degraded = [degrade_frame(f, kind, rng) for f in frames]
        faces = clip_faces(finder, degraded)
        if mask is None:
            mask = owner_frames(pipeline, frames, faces)
        genuine[kind] = genuine_windows(faces, mask, window_s)
        if progress:
            progress(f"genuine {kind}: {len(genuine[kind])} windows")
    return genuine, mask


def sweep(attacks: dict, genuine: dict, params) -> list[dict]:
    """APCER and BPCER over a grid of min_parallax and min_frames."""
    rows = []
    for thr in (0.06, 0.08, 0.10, 0.12, 0.15):
        for need in (2, 3, 4, 5):
            r = evaluate(attacks, genuine, replace(params, min_parallax=thr, min_frames=need))
            rows.append(
                {
                    "min_parallax": thr,
                    "min_frames": need,
                    "apcer_all": r["apcer_all"],
                    "apcer_max": max(v["rate"] for v in r["apcer"].values()),
                    "bpcer_plain": r["bpcer"]["plain"]["rate"],
                    "bpcer_max": max(v["rate"] for v in r["bpcer"].values()),
                }
            )
    return rows
