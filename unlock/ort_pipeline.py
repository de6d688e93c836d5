"""The face pipeline on onnxruntime, numpy and OpenCV: no torch in the process.

Same interface and logic as `unlock.pipeline.FacePipeline` (both are
`unlock.pipeline_core.FacePipelineCore`); only the networks differ: MTCNN in
`unlock.ort_mtcnn`, FaceNet as `embedder.onnx` (or its static int8 copy).

Where the .onnx files come from: the runtime model directory
`<cache dir>/onnx/<first 16 hex of the FaceNet weights' SHA-256>-v<format>/`, keyed by
the same checksum that names the torch weights cache. On first use, if files are
missing, the exporter runs once in a child process (`python -m export --models-only
--out DIR [--int8]`): torch is imported in that child only, never here. Later runs (and
machines that ship the directory) need only onnxruntime. `faceunlock export
--models-only` fills it ahead of time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from models.graph_source import sha256_file, source_graph_path
from unlock.errors import FaceUnlockError
from unlock.ort_mtcnn import OrtMtcnn, ort_session
from unlock.paths import cache_dir
from unlock.pipeline_core import FacePipelineCore

# Bump when the exported files change meaning (inputs, outputs, opset...).
RUNTIME_MODELS_VERSION = 1
MTCNN_FILES = ("pnet.onnx", "rnet.onnx", "onet.onnx")
EMBEDDER_FILES = {"fp32": "embedder.onnx", "int8": "embedder.int8.onnx"}
PRECISIONS = tuple(EMBEDDER_FILES)
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def weights_checksum() -> str:
    """SHA-256 of the pretrained FaceNet graph (names profiles and caches)."""
    try:
        return sha256_file(source_graph_path())
    except FileNotFoundError as exc:
        raise FaceUnlockError(str(exc)) from None


def runtime_model_dir(weights_sha256: str, cache: Path | None = None) -> Path:
    """Where the onnx runtime's models for these weights live."""
    root = Path(cache) if cache is not None else cache_dir()
    return root / "onnx" / f"{weights_sha256[:16]}-v{RUNTIME_MODELS_VERSION}"


def ensure_runtime_models(model_dir: Path, precision: str = "fp32") -> Path:
    """Make sure `model_dir` holds the detector and embedder; export them if missing.

    The export runs `python -m export --models-only` in a child process (which imports
    torch); this process stays torch-free.
    """
    needed = [*MTCNN_FILES, EMBEDDER_FILES[precision]]
    if all((model_dir / name).is_file() for name in needed):
        return model_dir
    command = [sys.executable, "-m", "export", "--models-only", "--out", str(model_dir)]
    if precision == "int8":
        command.append("--int8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
    )
    print(
        f"faceunlock: exporting the ONNX models once into {model_dir} (takes a minute)...",
        file=sys.stderr,
    )
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    missing = [name for name in needed if not (model_dir / name).is_file()]
    if done.returncode != 0 or missing:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise FaceUnlockError(
            f"could not export the ONNX models into {model_dir} ({' / '.join(tail)}); "
            "run `faceunlock export --models-only` to see why"
        )
    return model_dir


class OrtEmbedder:
    """FaceNet on onnxruntime: normalised crops (N x 3 x 160 x 160) -> N x 512 embeddings."""

    def __init__(
        self, path: Path, weights_sha256: str, threads: int | None = None, flip: bool = False
    ) -> None:
        self.session = ort_session(path, threads)
        self.path = path
        self.weights_sha256 = weights_sha256
        self.flip = flip

    def _run(self, crops: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(crops, dtype=np.float32)
        return self.session.run(None, {"image": x})[0]

    def infer_plain_and_flip(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both embeddings of each crop: plain, and plain + mirror re-normalised."""
        both = self._run(np.concatenate([crops, crops[..., ::-1]]))
        plain = both[: len(crops)]
        summed = plain + both[len(crops) :]
        flipped = summed / np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-12)
        return plain.astype(np.float32), flipped.astype(np.float32)

    def infer(self, crops: np.ndarray) -> np.ndarray:
        """Embed a batch of normalised crops; with `flip`, adds the mirror and re-normalises."""
        if len(crops) == 0:
            return np.zeros((0, 512), np.float32)
        if self.flip:
            return self.infer_plain_and_flip(crops)[1]
        return self._run(crops).astype(np.float32)


class OrtFacePipeline(FacePipelineCore):
    """Detector + crop + FaceNet on onnxruntime; the FacePipeline interface, without torch.

    threads: intra-op threads of every onnxruntime session (None: all cores; 1 stands in
        for one phone core, as in `faceunlock bench --runtime onnx --threads 1`).
    precision: "fp32" (matches torch to cosine >= 0.9999) or "int8" (static QDQ embedder).
    model_dir: a directory with the exported models (default: the runtime cache).
    """

    def __init__(
        self,
        min_face_size: int = 20,
        *,
        threads: int | None = None,
        precision: str = "fp32",
        model_dir: str | os.PathLike | None = None,
        cache: Path | None = None,
        flip: bool = False,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
        checksum = weights_checksum()
        if model_dir is None:
            folder = ensure_runtime_models(runtime_model_dir(checksum, cache), precision)
        else:
            folder = Path(model_dir)
            missing = [
                n for n in (*MTCNN_FILES, EMBEDDER_FILES[precision]) if not (folder / n).is_file()
            ]
            if missing:
                raise FaceUnlockError(f"{folder}: missing {', '.join(missing)}")
        self.model_dir = folder
        self.threads = threads
        self.precision = precision
        super().__init__(
            OrtMtcnn(folder, min_face_size=min_face_size, threads=threads),
            OrtEmbedder(folder / EMBEDDER_FILES[precision], checksum, threads, flip),
        )
