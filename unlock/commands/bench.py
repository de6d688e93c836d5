"""`faceunlock bench`: latency of the unlock loop per frame on the bundled clip.

Per-stage and end-to-end milliseconds (median, p90) and fps over the clip's 640x360
frames, the time to unlock for Lin-Manuel Miranda (enrolled from his photo), and, in the
same run and interleaved frame by frame so that a busy machine slows every contender
alike, two peers on the same frames:

- facenet-pytorch with its defaults: `MTCNN()` (keeps the most probable face) and
  `InceptionResnetV1` with the same CASIA-WebFace weights;
- face_recognition (dlib HOG detector + ResNet encoder), when it is installed
  (`pip install -e ".[bench]"`); skipped otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def _stats(values: list[float]) -> dict:
    if not values:
        return {"median": None, "p90": None, "n": 0}
    arr = np.asarray(values, float)
    return {
        "median": round(float(np.median(arr)), 2),
        "p90": round(float(np.percentile(arr, 90)), 2),
        "n": len(values),
    }


class FacenetPytorchDefaults:
    """facenet-pytorch's out-of-the-box pipeline: MTCNN() -> InceptionResnetV1."""

    name = "facenet-pytorch defaults (MTCNN() + InceptionResnetV1, torch)"

    def __init__(self) -> None:
        import torch
        from facenet_pytorch import MTCNN

        from models.facenet import load_facenet

        self.torch = torch
        self.mtcnn = MTCNN(device="cpu")
        self.model, _ = load_facenet()

    def __call__(self, rgb: np.ndarray) -> bool:
        from PIL import Image

        with self.torch.inference_mode():
            face = self.mtcnn(Image.fromarray(rgb))
            if face is None:
                return False
            self.model(face[None])
        return True


class FaceRecognition:
    """face_recognition's defaults: HOG face_locations -> face_encodings of the largest."""

    name = "face_recognition (dlib HOG + ResNet)"

    def __init__(self) -> None:
        import face_recognition

        self.fr = face_recognition

    def __call__(self, rgb: np.ndarray) -> bool:
        locations = self.fr.face_locations(rgb)
        if not locations:
            return False
        largest = max(locations, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
        self.fr.face_encodings(rgb, [largest])
        return True


def bare_facenet_ms(crop: np.ndarray, threads: int | None, repeats: int = 15) -> dict:
    """Median ms of one FaceNet forward pass (batch 1) in each runtime on this machine:
    what the machine gives, apart from the pipeline around it."""
    from models.crop import normalise
    from unlock.runtime import load_pipeline

    x = normalise([crop])
    out = {}
    for runtime in ("onnx", "torch"):
        embedder = load_pipeline(runtime, threads=threads).embedder
        embedder.infer(x)  # warm up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            embedder.infer(x)
            times.append((time.perf_counter() - start) * 1000)
        out[f"{runtime} fp32"] = round(float(np.median(times)), 1)
    return out


def load_peers(wanted: bool, threads: int | None = None) -> tuple[list, dict]:
    """The peers that can run here, and why the others are skipped.

    With `threads`, torch (facenet-pytorch) gets the same thread cap as ours.
    """
    peers, skipped = [], {}
    if not wanted:
        return peers, skipped
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    for cls in (FacenetPytorchDefaults, FaceRecognition):
        try:
            peers.append(cls())
        except (Exception, SystemExit) as exc:  # missing optional package (it may quit())
            skipped[cls.name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
    return peers, skipped


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print a table (or JSON)."""
    import cv2

    from enroll.profile import Profile
    from unlock.commands.demo import CLIP, DATA, facing_frames
    from unlock.commands.unlock_loop import DETECTOR_MIN_FACE
    from unlock.config import Config
    from unlock.live import ProfileScorer, UnlockLoop
    from unlock.runtime import pipeline_from_args
    from unlock.scoring import UnlockScorer
    from unlock.sources import open_source

    source = open_source(str(CLIP))
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    fps_clip = source.fps
    source.close()
    if args.frames:
        frames = frames[: args.frames]
    pipeline = pipeline_from_args(args, min_face_size=DETECTOR_MIN_FACE)
    user = "lin-manuel-miranda"
    sample = pipeline.require_face(str(DATA / f"{user}.png"))
    profile = Profile(user, sample.embedding[None], pipeline.weights_sha256)
    config = Config()
    loop = UnlockLoop(pipeline, ProfileScorer([profile], UnlockScorer()), config)
    peers, skipped = load_peers(not args.no_peers, args.threads)
    for _ in range(2):  # warm up every contender on a frame with a face
        warm = frames[min(100, len(frames) - 1)]
        loop.step(warm, 0, 0.0)
        for peer in peers:
            peer(cv2.cvtColor(warm, cv2.COLOR_BGR2RGB))
    loop.reset()
    ours, stages = [], {}
    peer_ms: dict[str, list[float]] = {p.name: [] for p in peers}
    results = []
    if not args.json:
        print(f"bench: {len(frames)} frames, {len(peers)} peer(s) interleaved...", file=sys.stderr)
    for index, frame in enumerate(frames):
        start = time.perf_counter()
        result = loop.step(frame, index, index * 1000.0 / fps_clip)
        ours.append((time.perf_counter() - start) * 1000)
        results.append(result)
        for stage, ms in result.stage_ms.items():
            stages.setdefault(stage, []).append(ms)
        if peers:
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            for peer in peers:
                start = time.perf_counter()
                peer(rgb)
                peer_ms[peer.name].append((time.perf_counter() - start) * 1000)
    unlocked = [r for r in results if r.state == "unlocked"]
    facing = sorted(facing_frames(user))
    first = unlocked[0] if unlocked else None
    report = {
        "runtime": args.runtime,
        "precision": "int8" if args.int8 else "fp32",
        "threads": args.threads or "all",
        "frames": len(frames),
        "frame_size": [int(frames[0].shape[1]), int(frames[0].shape[0])],
        "k": config.k,
        "n": config.n,
        "end_to_end_ms_median": _stats(ours)["median"],
        "end_to_end_ms_p90": _stats(ours)["p90"],
        "fps": round(1000.0 / float(np.mean(ours)), 1),
        "stages_ms": {stage: _stats(v) for stage, v in stages.items()},
        "frames_with_face": sum(r.face is not None for r in results),
        "tracked_frames": sum(r.track == "track" for r in results),
        "unlocked_at_frame": first.index if first else None,
        "time_to_unlock_ms": round(first.t_ms, 1) if first else None,
    }
    if first is not None and facing and first.index >= facing[0]:
        # wall-clock: from the first frame where he faces the camera to the unlock,
        # processing frames back to back
        report["unlock_after_face_frames"] = first.index - facing[0]
        report["unlock_after_face_ms"] = round(float(sum(ours[facing[0] : first.index + 1])), 1)
    if peers:  # torch is loaded anyway; --no-peers stays torch-free
        report["facenet_forward_ms"] = bare_facenet_ms(sample.crop, args.threads)
    report["peers"] = {}
    for name, values in peer_ms.items():
        st = _stats(values)
        report["peers"][name] = {
            "end_to_end_ms_median": st["median"],
            "end_to_end_ms_p90": st["p90"],
            "ratio_to_ours": round(st["median"] / report["end_to_end_ms_median"], 2),
        }
    for name, reason in skipped.items():
        report["peers"][name] = {"skipped": reason}
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"faceunlock bench ({args.runtime} {report['precision']}, threads {report['threads']}): "
        f"{report['frames']} frames "
        f"{report['frame_size'][0]}x{report['frame_size'][1]} of the bundled clip"
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
    if first is not None:
        extra = ""
        if "unlock_after_face_ms" in report:
            extra = (
                f"; {report['unlock_after_face_frames']} frames and "
                f"{report['unlock_after_face_ms']:.0f} ms of processing after he first faces "
                "the camera"
            )
        print(f"time to unlock: frame {first.index} ({first.t_ms:.0f} ms into the clip){extra}")
    else:
        print("time to unlock: never unlocked")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `bench`."""
    from unlock.runtime import add_runtime_argument

    p = sub.add_parser("bench", help="per-frame latency of the unlock loop on the bundled clip")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-peers", action="store_true", help="skip facenet-pytorch/face_recognition")
    p.add_argument("--frames", type=int, help="only the first N frames of the clip")
    add_runtime_argument(p)
    p.set_defaults(func=run)
