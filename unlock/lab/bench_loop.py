"""The benchmark of `faceunlock bench`: latency of the unlock loop per frame on the bundled
clip.

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

import time

import numpy as np

from faceunlock.models.sessions import set_torch_threads


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

        from faceunlock.models.facenet.torch_facenet import load_facenet

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
    from faceunlock.models.crop import normalise
    from faceunlock.unlock.pipeline.runtime import load_pipeline

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
    set_torch_threads(threads)
    for cls in (FacenetPytorchDefaults, FaceRecognition):
        try:
            peers.append(cls())
        except (Exception, SystemExit) as exc:  # missing optional package (it may quit())
            skipped[cls.name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
    return peers, skipped


def _warm_up(loop, peers, frames) -> None:
    """Two passes of every contender on a frame with a face."""
    import cv2

    warm = frames[min(100, len(frames) - 1)]
    for _ in range(2):
        loop.step(warm, 0, 0.0)
        for peer in peers:
            peer(cv2.cvtColor(warm, cv2.COLOR_BGR2RGB))
    loop.reset()


def _interleaved(loop, peers, frames, fps: float):
    """Our per-frame ms and results, and each peer's ms, frame by frame."""
    import cv2

    ours, results = [], []
    peer_ms: dict[str, list[float]] = {p.name: [] for p in peers}
    for index, frame in enumerate(frames):
        start = time.perf_counter()
        results.append(loop.step(frame, index, index * 1000.0 / fps))
        ours.append((time.perf_counter() - start) * 1000)
        if peers:
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            for peer in peers:
                start = time.perf_counter()
                peer(rgb)
                peer_ms[peer.name].append((time.perf_counter() - start) * 1000)
    return ours, results, peer_ms


def _unlock_figures(results, ours, user: str) -> dict:
    """When the loop first unlocked, and how long after the user first faced the camera."""
    from faceunlock.unlock.media import facing_frames

    first = next((r for r in results if r.state == "unlocked"), None)
    out = {
        "unlocked_at_frame": first.index if first else None,
        "time_to_unlock_ms": round(first.t_ms, 1) if first else None,
    }
    facing = sorted(facing_frames(user))
    if first is not None and facing and first.index >= facing[0]:
        # wall-clock: from the first frame where he faces the camera to the unlock,
        # processing frames back to back
        out["unlock_after_face_frames"] = first.index - facing[0]
        out["unlock_after_face_ms"] = round(float(sum(ours[facing[0] : first.index + 1])), 1)
    return out


def measure(pipeline, peers, skipped: dict, frames: list, fps: float, threads=None) -> dict:
    """The benchmark: the unlock loop (Lin-Manuel Miranda enrolled from his photo) and the
    peers over `frames`, interleaved; the report (see the module's docstring)."""
    from faceunlock.enroll.profile import Profile
    from faceunlock.models.mtcnn.params import ENROL_MIN_FACE
    from faceunlock.models.unlock_head.scorer import UnlockScorer
    from faceunlock.unlock import media
    from faceunlock.unlock.app.live import ProfileScorer, UnlockLoop
    from faceunlock.unlock.config import Config

    # enrolled as `faceunlock enroll` enrols the photo (its detector settings)
    enrol_pipeline = pipeline.with_min_face(ENROL_MIN_FACE)
    sample = enrol_pipeline.require_face(str(media.photo_path(media.OWNER)))
    profile = Profile(media.OWNER, sample.embedding[None], pipeline.weights_sha256)
    config = Config()
    loop = UnlockLoop(pipeline, ProfileScorer([profile], UnlockScorer()), config)
    _warm_up(loop, peers, frames)
    ours, results, peer_ms = _interleaved(loop, peers, frames, fps)
    stages: dict[str, list[float]] = {}
    for result in results:
        for stage, ms in result.stage_ms.items():
            stages.setdefault(stage, []).append(ms)
    report = {
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
        **_unlock_figures(results, ours, media.OWNER),
    }
    if peers:  # torch is loaded anyway; without peers the run stays torch-free
        report["facenet_forward_ms"] = bare_facenet_ms(sample.crop, threads)
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
    return report
