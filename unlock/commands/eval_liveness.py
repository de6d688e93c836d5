"""`faceunlock eval liveness`: APCER per simulated photo attack, BPCER on real head motion.

Attacks: LFW photos moved in front of a simulated camera (`unlock.liveness_attacks`),
every frame re-detected by the real MTCNN, so its landmark jitter is included.
Faces come from the live loop's own `FaceFinder` (full detection every tenth frame,
tracking in between, at the default minimum face size), so the landmarks have the
jitter they have in `faceunlock unlock`.
Genuine: the bundled clip, frames whose face is Lin-Manuel Miranda (matched by
FaceNet to the bundled enrolment photo), cut into overlapping windows as a live loop
running at about 10 frames a second would see them (every third frame of 30 fps video).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent.parent / "data"
CLIP = DATA / "short_hamilton_clip.mp4"
OWNER_PHOTO = DATA / "lin-manuel-miranda.png"
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

    from unlock.liveness_attacks import attack_sequence

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


def clip_frames(path: Path = CLIP) -> list[np.ndarray]:
    import cv2

    from unlock.errors import FaceUnlockError

    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    if not frames:
        raise FaceUnlockError(f"{path}: no readable video frames")
    return frames


def owner_frames(pipeline, frames, faces) -> np.ndarray:
    """Which frames' face is the owner (cosine to the bundled photo)."""
    from models.crop import crop_face

    owner = pipeline.require_face(OWNER_PHOTO).embedding
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
    from unlock.liveness import LivenessChecker

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


def run(args: argparse.Namespace) -> int:
    """Simulate attacks, run the bundled clip, print APCER / BPCER."""
    import torch

    from models.detector import FaceDetector
    from unlock.commands.unlock_loop import DETECTOR_MIN_FACE
    from unlock.config import Config
    from unlock.errors import FaceUnlockError
    from unlock.live import FaceFinder
    from unlock.liveness import LivenessParams
    from unlock.liveness_attacks import ATTACK_TYPES, GENUINE_KINDS, degrade_frame
    from unlock.pipeline import FacePipeline

    torch.set_num_threads(max(1, args.threads))
    lfw = Path(args.lfw)
    if (lfw / "images").is_dir():
        lfw = lfw / "images"
    if not lfw.is_dir():
        raise FaceUnlockError(f"{args.lfw}: no LFW images folder (want DIR/<Name>/*.jpg)")
    say = (lambda m: print(f"  {m}", file=sys.stderr, flush=True)) if not args.quiet else None
    detector = FaceDetector(min_face_size=DETECTOR_MIN_FACE)
    finder = FaceFinder(detector, Config().min_face_size)
    photos = pick_photos(lfw, args.photos, args.seed)
    attacks = attack_faces(finder, photos, ATTACK_TYPES, args.frames, args.seed, say)

    pipeline = FacePipeline(detector=detector)
    frames = clip_frames()
    rng = np.random.default_rng(args.seed)
    genuine: dict[str, list] = {}
    mask = None
    for kind in GENUINE_KINDS:
        degraded = [degrade_frame(f, kind, rng) for f in frames]
        faces = clip_faces(finder, degraded)
        if mask is None:
            mask = owner_frames(pipeline, frames, faces)
        genuine[kind] = genuine_windows(faces, mask, args.window)
        if say:
            say(f"genuine {kind}: {len(genuine[kind])} windows")

    params = LivenessParams()
    report = evaluate(attacks, genuine, params)
    report["params"] = asdict(params)
    report["setup"] = {
        "photos_per_attack": args.photos,
        "frames_per_attack": args.frames,
        "genuine_window_s": args.window,
        "genuine_frames_per_window": len(next(iter(genuine.values()))[0]) if genuine else 0,
        "owner_frames_in_clip": int(mask.sum()),
        "seed": args.seed,
    }
    if args.sweep:
        report["sweep"] = []
        for thr in (0.06, 0.08, 0.10, 0.12, 0.15):
            for need in (2, 3, 4, 5):
                r = evaluate(attacks, genuine, replace(params, min_parallax=thr, min_frames=need))
                report["sweep"].append(
                    {
                        "min_parallax": thr,
                        "min_frames": need,
                        "apcer_all": r["apcer_all"],
                        "apcer_max": max(v["rate"] for v in r["apcer"].values()),
                        "bpcer_plain": r["bpcer"]["plain"]["rate"],
                        "bpcer_max": max(v["rate"] for v in r["bpcer"].values()),
                    }
                )
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


def print_report(report: dict) -> None:
    setup = report["setup"]
    print(
        f"liveness ({setup['photos_per_attack']} LFW photos x {setup['frames_per_attack']} "
        f"frames per attack type; genuine: {setup['genuine_window_s']} s windows of the "
        f"bundled clip, {setup['genuine_frames_per_window']} frames each)"
    )
    print("  APCER (attacks accepted as live)")
    for attack, r in report["apcer"].items():
        print(f"    {attack:12s} {100 * r['rate']:5.1f} %  (n={r['n']})")
    print(f"    {'all':12s} {100 * report['apcer_all']:5.1f} %")
    print("  BPCER (genuine windows rejected)")
    for kind, r in report["bpcer"].items():
        took = r["median_frames_to_live"]
        extra = f", median {took:.0f} frames to live" if took else ""
        print(f"    {kind:12s} {100 * r['rate']:5.1f} %  (n={r['n']}{extra})")
    for row in report.get("sweep", []):
        print(
            "  sweep min_parallax={min_parallax:.2f} min_frames={min_frames}: "
            "APCER all {a:.1f} % max {am:.1f} %, BPCER plain {b:.1f} % max {bm:.1f} %".format(
                a=100 * row["apcer_all"],
                am=100 * row["apcer_max"],
                b=100 * row["bpcer_plain"],
                bm=100 * row["bpcer_max"],
                **row,
            )
        )


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `eval liveness`."""
    p = sub.add_parser("liveness", help="photo-attack APCER and genuine BPCER of --liveness")
    p.add_argument("--lfw", required=True, help="LFW folder (DIR/images/<Name>/*.jpg)")
    p.add_argument("--photos", type=int, default=40, help="photos per attack type (default 40)")
    p.add_argument("--frames", type=int, default=60, help="frames per attack (default 60)")
    p.add_argument("--window", type=float, default=2.0, help="genuine window, s (default 2)")
    p.add_argument("--seed", type=int, default=0, help="photo choice and attack motion")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--sweep", action="store_true", help="also print a threshold sweep")
    p.add_argument("--json", help="write the figures as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress")
    p.set_defaults(func=run)
