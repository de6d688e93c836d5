"""`faceunlock bench`: latency of the unlock loop per frame on the bundled clip, with peers
measured in the same run (`unlock.lab.bench_loop`)."""

from __future__ import annotations

import argparse
import json
import sys


def print_table(report: dict, runtime: str) -> None:
    """The report as a table on stdout."""
    size = report["frame_size"]
    print(
        f"faceunlock bench ({runtime} {report['precision']}, threads {report['threads']}): "
        f"{report['frames']} frames {size[0]}x{size[1]} of the bundled clip"
    )
    print(f"{'':44s} {'median ms':>10s} {'p90 ms':>8s}")
    print(
        f"{'faceunlock end to end':44s} {report['end_to_end_ms_median']:10.1f} "
        f"{report['end_to_end_ms_p90']:8.1f}   ({report['fps']} fps)"
    )
    for stage, st in report["stages_ms"].items():
        print(f"{'  ' + stage:44s} {st['median']:10.1f} {st['p90']:8.1f}")
    for name, peer in report["peers"].items():
        if "skipped" in peer:
            print(f"{name[:44]:44s} skipped: {peer['skipped']}")
        else:
            print(
                f"{name[:44]:44s} {peer['end_to_end_ms_median']:10.1f} "
                f"{peer['end_to_end_ms_p90']:8.1f}   ({peer['ratio_to_ours']}x ours)"
            )
    if "facenet_forward_ms" in report:
        bare = ", ".join(f"{k} {v} ms" for k, v in report["facenet_forward_ms"].items())
        print(f"FaceNet forward alone, one face (this machine): {bare}")
    if report["unlocked_at_frame"] is None:
        print("time to unlock: never unlocked")
        return
    extra = ""
    if "unlock_after_face_ms" in report:
        extra = (
            f"; {report['unlock_after_face_frames']} frames and "
            f"{report['unlock_after_face_ms']:.0f} ms of processing after he first faces "
            "the camera"
        )
    print(
        f"time to unlock: frame {report['unlocked_at_frame']} "
        f"({report['time_to_unlock_ms']:.0f} ms into the clip){extra}"
    )


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print a table (or JSON)."""
    from faceunlock.models.mtcnn.params import LIVE_MIN_FACE
    from faceunlock.unlock import media
    from faceunlock.unlock.lab.bench_loop import load_peers, measure
    from faceunlock.unlock.pipeline.runtime import pipeline_from_args
    from faceunlock.unlock.sources import open_source

    with open_source(str(media.CLIP)) as source:
        fps = source.fps
    frames = media.clip_frames()
    if args.frames:
        frames = frames[: args.frames]
    pipeline = pipeline_from_args(args, min_face_size=LIVE_MIN_FACE)
    peers, skipped = load_peers(not args.no_peers, args.threads)
    if not args.json:
        print(f"bench: {len(frames)} frames, {len(peers)} peer(s) interleaved...", file=sys.stderr)
    report = {
        "runtime": args.runtime,
        "precision": "int8" if args.int8 else "fp32",
        "threads": args.threads or "all",
        **measure(pipeline, peers, skipped, frames, fps, args.threads),
    }
    if args.json:
        print(json.dumps(report))
    else:
        print_table(report, args.runtime)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `bench`."""
    from faceunlock.unlock.pipeline.runtime import add_runtime_argument

    p = sub.add_parser("bench", help="per-frame latency of the unlock loop on the bundled clip")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-peers", action="store_true", help="skip facenet-pytorch/face_recognition")
    p.add_argument("--frames", type=int, help="only the first N frames of the clip")
    add_runtime_argument(p)
    p.set_defaults(func=run)
