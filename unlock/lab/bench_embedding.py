"""Embedding throughput and per-stage timings of the shared pipeline on real photos."""

from __future__ import annotations

import statistics
import time

import numpy as np

from faceunlock.models.crop import crop_face, normalise
from faceunlock.models.face import choose_face
from faceunlock.unlock import media
from faceunlock.unlock.images import load_image


def stage_timings(pipeline, images: list[np.ndarray], repeats: int = 5) -> dict[str, float]:
    """Median milliseconds per stage (detect, crop, normalise, embed) for one face per image."""
    times: dict[str, list[float]] = {"detect": [], "crop": [], "normalise": [], "embed": []}
    for _ in range(repeats):
        for image in images:
            t0 = time.perf_counter()
            faces = pipeline.detector.infer(image)
            t1 = time.perf_counter()
            face = choose_face(faces, image.shape, "largest")
            if face is None:
                continue
            crop = crop_face(image, face)
            t2 = time.perf_counter()
            x = normalise([crop])
            t3 = time.perf_counter()
            pipeline.embedder.infer(x)
            t4 = time.perf_counter()
            for stage, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                stage_list = times[stage]
                stage_list.append(dt * 1000)
    return {stage: statistics.median(v) for stage, v in times.items() if v}


def embedding_throughput(
    pipeline, crops_bgr: list[np.ndarray], batch_sizes=(1, 8, 32), seconds: float = 3.0
) -> dict[int, float]:
    """Faces per second through the embedding network at each batch size."""
    result = {}
    for batch in batch_sizes:
        x = normalise([crops_bgr[i % len(crops_bgr)] for i in range(batch)])
        pipeline.embedder.infer(x)  # warm-up
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            pipeline.embedder.infer(x)
            count += batch
        result[batch] = count / (time.perf_counter() - start)
    return result


def run_embedding_bench(pipeline, seconds: float = 3.0) -> dict:
    """Per-stage ms on the bundled photos and embedding faces/s at batch 1, 8, 32."""
    images = [load_image(p) for p in media.photo_paths()]
    stages = stage_timings(pipeline, images)
    crops = []
    for image in images:
        sample = pipeline.process(image)
        if sample is not None:
            crops.append(sample.crop)
    throughput = embedding_throughput(pipeline, crops, seconds=seconds)
    return {
        "stage_ms_median": {k: round(v, 2) for k, v in stages.items()},
        "embedding_faces_per_s": {str(k): round(v, 1) for k, v in throughput.items()},
        "images": [p.name for p in media.photo_paths()],
    }


def main() -> None:
    """`python -m faceunlock.unlock.lab.bench_embedding`: per-stage and throughput table."""
    from faceunlock.unlock.pipeline.torch_pipeline import FacePipeline

    result = run_embedding_bench(FacePipeline())
    print("stage (median ms, one face, bundled photos)")
    for stage, ms in result["stage_ms_median"].items():
        print(f"  {stage:10s} {ms:8.2f}")
    print("embedding throughput (torch)")
    for batch, rate in result["embedding_faces_per_s"].items():
        print(f"  batch {batch:>3s}  {rate:7.1f} faces/s")


if __name__ == "__main__":
    from faceunlock.unlock.errors import run_script

    run_script(main, "bench_embedding")
