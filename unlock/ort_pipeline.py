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


def seal_path(model_dir: Path) -> Path:
    """Where this data directory keeps its seal of a cached model folder."""
    from unlock.paths import data_dir

    return data_dir() / "model-seals" / f"{model_dir.name}.json"


def _install_key() -> bytes | None:
    """The install's secret key (the one that signs profiles), or None before any enrolment."""
    from enroll.profile import ProfileStore

    store = ProfileStore()
    if not store.key_path.is_file():
        return None
    return store.secret_key()


def _seal_mac(key: bytes, sums: dict) -> str:
    import hashlib
    import hmac
    import json

    message = b"faceunlock model seal v1\x00" + json.dumps(sums, sort_keys=True).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def seal_is_valid(model_dir: Path, names: list[str], key: bytes) -> bool:
    """True when `model_dir`'s seal is signed with `key` and every file matches it."""
    import hmac
    import json

    try:
        seal = json.loads(seal_path(model_dir).read_text())
        sums = seal["sha256"]
        if not hmac.compare_digest(str(seal["mac"]), _seal_mac(key, sums)):
            return False
        return all(sums.get(n) == sha256_file(model_dir / n) for n in names)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def write_seal(model_dir: Path, key: bytes) -> None:
    """Record the SHA-256 of every network in `model_dir`, signed with the install key, in
    the data directory (the cache may be shared by several data directories)."""
    import json

    from enroll.profile import write_private_file

    sums = {p.name: sha256_file(p) for p in sorted(model_dir.glob("*.onnx"))}
    body = {"model_dir": str(model_dir), "sha256": sums, "mac": _seal_mac(key, sums)}
    path = seal_path(model_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private_file(path, json.dumps(body, indent=1).encode())


def ensure_runtime_models(model_dir: Path, precision: str = "fp32") -> Path:
    """Make sure `model_dir` holds the detector and embedder; export them if missing.

    The export runs `python -m export --models-only` in a child process (which imports
    torch); this process stays torch-free. Once anyone is enrolled, the networks are
    checked against a seal in the data directory, signed with the install's secret key
    (written on first use): a network replaced in the cache afterwards (which could make
    it accept other people) is exported again.
    """
    needed = [*MTCNN_FILES, EMBEDDER_FILES[precision]]
    key = _install_key()
    present = all((model_dir / name).is_file() for name in needed)
    if present and key is not None and not seal_path(model_dir).is_file():
        write_seal(model_dir, key)  # first use by this data directory
    if present and (key is None or seal_is_valid(model_dir, needed, key)):
        return model_dir
    if present:
        print(
            f"faceunlock: the cached networks in {model_dir} do not match their seal; "
            "exporting them again",
            file=sys.stderr,
        )
        for name in needed:
            (model_dir / name).unlink(missing_ok=True)
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
    if key is not None:
        write_seal(model_dir, key)
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
