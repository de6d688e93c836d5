"""Benchmarks of the exported formats (fp32 vs int8): LFW accuracy, FAR/FRR, latency.

    python -m faceunlock.unlock.lab.bench_export lfw --data LFW_DIR --folds 3
    python -m faceunlock.unlock.lab.bench_export latency --threads 1
    python -m faceunlock.unlock.lab.bench_export clip
    python -m faceunlock.unlock.lab.bench_export tracking

Both run on onnxruntime only (the runtime model cache; `faceunlock export --models-only
--int8` fills it). LFW: the official pairs of the first `--folds` folds; faces found by
the ORT MTCNN port (face nearest the centre, a centred box when none is found, as
`faceunlock eval lfw` does), each face embedded by both embedders with its mirror
image; accuracy is the ten-fold protocol restricted to those folds (threshold chosen on
the other chosen folds). FAR/FRR: at the fp32 threshold of equal error over those pairs,
applied unchanged to int8 (does quantisation move the operating point?).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from faceunlock.models.crop import crop_face, normalise
from faceunlock.models.face import Face, choose_face
from faceunlock.models.mtcnn.params import LIVE_MIN_FACE
from faceunlock.models.unlock_head import THRESHOLD
from faceunlock.unlock import media
from faceunlock.unlock.images import load_image


def _embedders(threads: int | None):
    from faceunlock.unlock.pipeline.ort_pipeline import OrtFacePipeline

    fp32 = OrtFacePipeline(threads=threads, precision="fp32")
    int8 = OrtFacePipeline(threads=threads, precision="int8")
    return fp32, {"fp32": fp32.embedder, "int8": int8.embedder}


def lfw(data: Path, folds: int) -> dict:
    """fp32 vs int8 on the first `folds` folds of LFW's pairs.txt."""
    from faceunlock.unlock.lab.lfw import read_pairs
    from faceunlock.unlock.lab.metrics import tar_at_far, ten_fold_accuracy

    pairs = [p for p in read_pairs(data / "pairs.txt") if p.fold < folds]
    images_dir = data / "images"
    files = sorted({p.left for p in pairs} | {p.right for p in pairs})
    pipeline, embedders = _embedders(None)
    emb = {name: np.zeros((len(files), 512), np.float32) for name in embedders}
    for i, name in enumerate(files):
        image = load_image(images_dir / name)
        face = choose_face(pipeline.detector.infer(image), image.shape, "nearest_centre")
        if face is None:
            h, w = image.shape[:2]
            face = Face((w * 0.28, h * 0.28, w * 0.72, h * 0.72), 0.0, np.zeros((5, 2)))
        x = normalise([crop_face(image, face)])
        for key, embedder in embedders.items():
            emb[key][i] = embedder.infer_plain_and_flip(x)[1][0]
    index = {f: i for i, f in enumerate(files)}
    left = [index[p.left] for p in pairs]
    right = [index[p.right] for p in pairs]
    same = np.array([p.same for p in pairs])
    fold = np.array([p.fold for p in pairs])
    scores = {k: np.sum(e[left] * e[right], axis=1) for k, e in emb.items()}
    # fp32 equal-error threshold, applied to both
    grid = np.sort(scores["fp32"])
    far = np.array([np.mean(scores["fp32"][~same] >= t) for t in grid])
    frr = np.array([np.mean(scores["fp32"][same] < t) for t in grid])
    threshold = float(grid[int(np.argmin(np.abs(far - frr)))])
    result = {"pairs": len(pairs), "folds": folds, "images": len(files), "threshold": threshold}
    for key, s in scores.items():
        result[key] = {
            "accuracy": round(float(ten_fold_accuracy(s, same, fold).mean()), 5),
            "tar_at_far_1e-2": round(tar_at_far(s, same, 1e-2), 5),
            "far_at_threshold": round(float(np.mean(s[~same] >= threshold)), 5),
            "frr_at_threshold": round(float(np.mean(s[same] < threshold)), 5),
        }
    result["embedding_cosine_int8_vs_fp32"] = {
        "min": round(float(np.sum(emb["fp32"] * emb["int8"], axis=1).min()), 5),
        "mean": round(float(np.sum(emb["fp32"] * emb["int8"], axis=1).mean()), 5),
    }
    return result


def latency(threads: int | None, frames_every: int = 3, repeats: int = 2) -> dict:
    """Median ms per clip frame, end to end (detect + crop + embed), fp32 vs int8, interleaved."""
    from faceunlock.unlock.pipeline.ort_pipeline import OrtFacePipeline

    frames = media.clip_frames(frames_every)
    pipelines = {
        p: OrtFacePipeline(min_face_size=80, threads=threads, precision=p) for p in ("fp32", "int8")
    }
    times: dict[str, dict[str, list[float]]] = {p: {} for p in pipelines}
    for _ in range(repeats):
        for frame in frames:
            for name, pipeline in pipelines.items():
                start = time.perf_counter()
                pipeline.process(frame)
                total = (time.perf_counter() - start) * 1000
                for stage, ms in {**pipeline.timer.ms, "total": total}.items():
                    times[name].setdefault(stage, []).append(ms)
    return {
        "threads": threads or "all",
        "frames": len(frames) * repeats,
        "min_face_size": 80,
        **{
            name: {stage: round(statistics.median(v), 2) for stage, v in stages.items()}
            for name, stages in times.items()
        },
    }


def clip_decisions(min_face_size: int = 80, every: int = 1) -> dict:
    """Torch vs onnx runtime (fp32, int8) on every frame of the bundled clip: the user is
    enrolled from the bundled photo of Lin-Manuel Miranda (torch), each frame is scored
    with the shipped unlock network (numpy twin), decisions p >= THRESHOLD compared."""
    from faceunlock.models.unlock_head.scorer import UnlockScorer
    from faceunlock.unlock.pipeline.ort_pipeline import OrtFacePipeline
    from faceunlock.unlock.pipeline.torch_pipeline import FacePipeline

    scorer = UnlockScorer()
    pipelines = {
        "torch": FacePipeline(min_face_size=min_face_size),
        "onnx_fp32": OrtFacePipeline(min_face_size=min_face_size, precision="fp32"),
        "onnx_int8": OrtFacePipeline(min_face_size=min_face_size, precision="int8"),
    }
    enrolled = pipelines["torch"].require_face(media.photo_path(media.OWNER)).embedding
    p: dict[str, list[float]] = {name: [] for name in pipelines}
    for frame in media.clip_frames(every):
        for name, pipeline in pipelines.items():
            sample = pipeline.process(frame)
            p[name].append(
                float(scorer.probability(sample.embedding[None], enrolled[None])[0])
                if sample is not None
                else float("nan")
            )
    ref = np.array(p["torch"])
    result = {"frames": len(ref), "torch_unlock_frames": int(np.sum(ref >= THRESHOLD))}
    for name in ("onnx_fp32", "onnx_int8"):
        got = np.array(p[name])
        both = ~np.isnan(ref) & ~np.isnan(got)
        result[name] = {
            "face_found_agrees": int(np.sum(np.isnan(ref) == np.isnan(got))),
            "decisions_agree": int(np.sum((ref[both] >= THRESHOLD) == (got[both] >= THRESHOLD))),
            "frames_with_face": int(both.sum()),
            "unlock_frames": int(np.sum(got[both] >= THRESHOLD)),
            "max_abs_p_diff": round(float(np.abs(ref[both] - got[both]).max()), 6),
        }
    return result


def tracking(precision: str = "fp32") -> dict:
    """The live loop's face finder (O-Net tracking between full detections) against a full
    detection on every frame of the bundled clip: faces found, p >= THRESHOLD decisions, |dp|
    and milliseconds per finder mode (onnx runtime; Lin enrolled from the bundled photo)."""
    from faceunlock.models.unlock_head.scorer import UnlockScorer
    from faceunlock.unlock.app.live import FaceFinder
    from faceunlock.unlock.pipeline.ort_pipeline import OrtFacePipeline

    pipeline = OrtFacePipeline(min_face_size=LIVE_MIN_FACE, precision=precision)
    scorer = UnlockScorer()
    enrolled = pipeline.require_face(media.photo_path(media.OWNER)).embedding[None]
    frames = media.clip_frames(1)

    def run(find) -> tuple[np.ndarray, dict[str, list[float]]]:
        p, ms = [], {}
        for frame in frames:
            start = time.perf_counter()
            face, mode = find(frame)
            ms.setdefault(mode, []).append((time.perf_counter() - start) * 1000)
            sample = pipeline.process(frame, faces=[face]) if face is not None else None
            p.append(
                np.nan
                if sample is None
                else float(scorer.probability(sample.embedding[None], enrolled)[0])
            )
        return np.array(p), ms

    every_frame = FaceFinder(pipeline.detector, 80)
    tracker = FaceFinder(pipeline.detector, 80)

    def full(frame):
        faces = every_frame.full(frame)
        return (faces[0] if faces else None), "full"

    def tracked(frame):
        face = tracker.find(frame)
        return face, tracker.last_mode

    ref, ref_ms = run(full)
    got, got_ms = run(tracked)
    both = ~np.isnan(ref) & ~np.isnan(got)
    return {
        "frames": len(frames),
        "face_found_agrees": int(np.sum(np.isnan(ref) == np.isnan(got))),
        "frames_with_face_in_both": int(both.sum()),
        "decisions_agree": int(np.sum((ref[both] >= THRESHOLD) == (got[both] >= THRESHOLD))),
        "median_abs_p_diff": round(float(np.median(np.abs(ref[both] - got[both]))), 5),
        "unlock_frames": {
            "full": int(np.nansum(ref >= THRESHOLD)),
            "tracked": int(np.nansum(got >= THRESHOLD)),
        },
        "finder_ms_median": {
            "full_every_frame": round(statistics.median(ref_ms["full"]), 2),
            **{f"{mode}_frames": len(v) for mode, v in got_ms.items()},
            **{mode: round(statistics.median(v), 2) for mode, v in got_ms.items()},
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m faceunlock.unlock.lab.bench_export", description=__doc__
    )
    sub = parser.add_subparsers(dest="job", required=True)
    p = sub.add_parser("lfw")
    p.add_argument("--data", required=True, help="LFW folder (images/ and pairs.txt)")
    p.add_argument("--folds", type=int, default=3)
    p = sub.add_parser("latency")
    p.add_argument("--threads", type=int, default=None)
    p = sub.add_parser("clip")
    p.add_argument("--every", type=int, default=1, help="use every N-th frame")
    p = sub.add_parser("tracking")
    p.add_argument("--int8", action="store_true")
    args = parser.parse_args(argv)
    if args.job == "tracking":
        result = tracking("int8" if args.int8 else "fp32")
    elif args.job == "lfw":
        result = lfw(Path(args.data), args.folds)
    elif args.job == "clip":
        result = clip_decisions(every=args.every)
    else:
        result = latency(args.threads)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    from faceunlock.unlock.errors import run_script

    run_script(main, "bench_export")
