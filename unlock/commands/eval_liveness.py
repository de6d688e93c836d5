"""`faceunlock eval liveness`: APCER per simulated photo attack, BPCER on real head motion
(the protocol: `unlock.lab.eval_liveness`)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    """Simulate attacks, run the bundled clip, print APCER / BPCER."""
    from faceunlock.models.mtcnn.params import LIVE_MIN_FACE
    from faceunlock.models.mtcnn.torch_mtcnn import FaceDetector
    from faceunlock.models.sessions import set_torch_threads
    from faceunlock.unlock import media
    from faceunlock.unlock.app.live import FaceFinder
    from faceunlock.unlock.app.liveness import LivenessParams
    from faceunlock.unlock.config import Config
    from faceunlock.unlock.lab import eval_liveness as protocol
    from faceunlock.unlock.lab.lfw import identity_root
    from faceunlock.unlock.lab.liveness_attacks import ATTACK_TYPES
    from faceunlock.unlock.pipeline.torch_pipeline import FacePipeline

    set_torch_threads(max(1, args.threads))
    lfw = identity_root(args.lfw)
    say = (lambda m: print(f"  {m}", file=sys.stderr, flush=True)) if not args.quiet else None
    detector = FaceDetector(min_face_size=LIVE_MIN_FACE)
    finder = FaceFinder(detector, Config().min_face_size)
    photos = protocol.pick_photos(lfw, args.photos, args.seed)
    attacks = protocol.attack_faces(finder, photos, ATTACK_TYPES, args.frames, args.seed, say)
    pipeline = FacePipeline(detector=detector)
    frames = media.clip_frames()
    genuine, mask = protocol.genuine_sets(finder, pipeline, frames, args.window, args.seed, say)
    params = LivenessParams()
    report = protocol.evaluate(attacks, genuine, params)
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
        report["sweep"] = protocol.sweep(attacks, genuine, params)
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


def print_report(report: dict) -> None:
    """APCER per attack, BPCER per genuine condition (and the sweep) on stdout."""
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
    p = sub.add_parser(
        "liveness",
        help="photo-attack APCER and genuine BPCER of --liveness",
        description="LFW: the deep-funneled LFW (DIR/images/<Name>/*.jpg, or DIR/<Name>/*.jpg) "
        "from the LFW download page of the University of Massachusetts, Amherst.",
    )
    p.add_argument(
        "--lfw", required=True, help="LFW folder: DIR/images/<Name>/*.jpg or DIR/<Name>/*.jpg"
    )
    p.add_argument("--photos", type=int, default=40, help="photos per attack type (default 40)")
    p.add_argument("--frames", type=int, default=60, help="frames per attack (default 60)")
    p.add_argument("--window", type=float, default=2.0, help="genuine window, s (default 2)")
    p.add_argument("--seed", type=int, default=0, help="photo choice and attack motion")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--sweep", action="store_true", help="also print a threshold sweep")
    p.add_argument("--json", help="write the figures as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress")
    p.set_defaults(func=run)
