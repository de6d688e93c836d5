"""The onnx runtime's networks: where they are cached, how they are built, and their seal.

The runtime model directory is `<cache dir>/onnx/<first 16 hex of the FaceNet weights'
SHA-256>-v<format>/`, keyed by the same checksum that names the torch weights cache. On
first use, missing files are built once in a child process (`python -m
faceunlock.unlock.pipeline.runtime_models --out DIR [--int8]`), so torch is imported in
that child only and the onnx runtime's process stays torch-free. `faceunlock export
--models-only` fills the directory ahead of time.

Once anyone is enrolled, the cached networks are checked against a seal in the data
directory, signed with the install's secret key: a network replaced in the cache (which
could make it accept other people) is built again.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from faceunlock.models.cache import cache_dir
from faceunlock.models.facenet.graph_source import sha256_file
from faceunlock.models.files import write_private_file
from faceunlock.models.mtcnn.params import CALIBRATION_MIN_FACE
from faceunlock.models.onnx_files import DEFAULT_OPSET, EMBEDDER_FILES, MTCNN_FILES, MTCNN_NETS
from faceunlock.unlock.errors import FaceUnlockError
from faceunlock.unlock.paths import data_dir

log = logging.getLogger(__name__)

# Bump when the exported files change meaning (inputs, outputs, opset...).
RUNTIME_MODELS_VERSION = 1
PRECISIONS = tuple(EMBEDDER_FILES)


def runtime_model_dir(weights_sha256: str, cache: Path | None = None) -> Path:
    """Where the onnx runtime's models for these weights live."""
    root = Path(cache) if cache is not None else cache_dir()
    return root / "onnx" / f"{weights_sha256[:16]}-v{RUNTIME_MODELS_VERSION}"


def needed_files(precision: str) -> list[str]:
    """The files the onnx runtime needs for `precision`."""
    return [*MTCNN_FILES, EMBEDDER_FILES[precision]]


# -- the seal -----------------------------------------------------------------------------


def seal_path(model_dir: Path, home: str | os.PathLike | None = None) -> Path:
    """Where the data directory keeps its seal of a cached model folder."""
    return data_dir(home) / "model-seals" / f"{model_dir.name}.json"


def install_key(home: str | os.PathLike | None = None) -> bytes | None:
    """The install's secret key (the one that signs profiles), or None before any enrolment."""
    from faceunlock.enroll.profile import ProfileStore

    store = ProfileStore(home)
    if not store.key_path.is_file():
        return None
    return store.secret_key()


def _seal_mac(key: bytes, sums: dict) -> str:
    message = b"faceunlock model seal v1\x00" + json.dumps(sums, sort_keys=True).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def seal_is_valid(model_dir: Path, names: list[str], key: bytes, home=None) -> bool:
    """True when `model_dir`'s seal is signed with `key` and every file matches it."""
    try:
        seal = json.loads(seal_path(model_dir, home).read_text())
        sums = seal["sha256"]
        if not hmac.compare_digest(str(seal["mac"]), _seal_mac(key, sums)):
            return False
        return all(sums.get(n) == sha256_file(model_dir / n) for n in names)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def write_seal(model_dir: Path, key: bytes, home: str | os.PathLike | None = None) -> None:
    """Record the SHA-256 of every network in `model_dir`, signed with the install key, in
    the data directory (the cache may be shared by several data directories)."""
    sums = {p.name: sha256_file(p) for p in sorted(model_dir.glob("*.onnx"))}
    body = {"model_dir": str(model_dir), "sha256": sums, "mac": _seal_mac(key, sums)}
    path = seal_path(model_dir, home)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private_file(path, json.dumps(body, indent=1).encode())


def seal_if_enrolled(model_dir: Path, home: str | os.PathLike | None = None) -> None:
    """Seal `model_dir` when the install has a key (somebody is enrolled)."""
    key = install_key(home)
    if key is not None:
        write_seal(model_dir, key, home)


# -- making sure the files are there --------------------------------------------------------


def ensure_runtime_models(
    model_dir: Path, precision: str = "fp32", home: str | os.PathLike | None = None
) -> Path:
    """Make sure `model_dir` holds the detector and embedder; build them if missing or if
    they do not match their seal (see the module's docstring)."""
    needed = needed_files(precision)
    key = install_key(home)
    present = all((model_dir / name).is_file() for name in needed)
    if present and key is not None and not seal_path(model_dir, home).is_file():
        write_seal(model_dir, key, home)  # first use by this data directory
    if present and (key is None or seal_is_valid(model_dir, needed, key, home)):
        return model_dir
    if present:
        log.warning(
            "the cached networks in %s do not match their seal; exporting them again", model_dir
        )
        for name in needed:
            (model_dir / name).unlink(missing_ok=True)
    command = [sys.executable, "-m", __name__, "--out", str(model_dir)]
    if precision == "int8":
        command.append("--int8")
    log.warning("exporting the ONNX models once into %s (takes a minute)...", model_dir)
    done = subprocess.run(command, capture_output=True, text=True)
    missing = [name for name in needed if not (model_dir / name).is_file()]
    if done.returncode != 0 or missing:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise FaceUnlockError(
            f"could not export the ONNX models into {model_dir} ({' / '.join(tail)}); "
            "run `faceunlock export --models-only` to see why"
        )
    if key is not None:
        write_seal(model_dir, key, home)
    return model_dir


# -- building them (imports torch) ----------------------------------------------------------


def calibration_crops(detector, every: int = 6, min_face_size: int = CALIBRATION_MIN_FACE):
    """Normalised face crops (N x 3 x 160 x 160) of every face in the bundled media (every
    `every`-th clip frame and the photos), mirrored copies included: the int8 calibration
    set. `detector` is any face detector (`infer(bgr) -> list[Face]`)."""
    from faceunlock.models.crop import crop_face, normalise
    from faceunlock.unlock import media
    from faceunlock.unlock.images import load_image

    crops = []
    frames = [load_image(p) for p in media.photo_paths()] + media.clip_frames(every)
    for frame in frames:
        for face in detector.infer(frame):
            if face.size >= min_face_size:
                crop = crop_face(frame, face)
                crops.extend([crop, crop[:, ::-1]])
    if not crops:
        raise RuntimeError("no calibration faces found in the bundled media")
    return normalise(np.stack(crops))


def default_calibration_crops():
    """`calibration_crops` with the torch MTCNN (the reference detector)."""
    from faceunlock.models.mtcnn.torch_mtcnn import FaceDetector

    return calibration_crops(FaceDetector(min_face_size=CALIBRATION_MIN_FACE))


def quantize_embedder(fp32_path: Path, int8_path: Path, nodes_to_exclude=None, crops=None):
    """Static QDQ int8 copy of an embedder (or fused unlock) model, calibrated on `crops`
    (default: the faces of the bundled media)."""
    from faceunlock.models.facenet.quantize import quantize_file

    if crops is None:
        crops = default_calibration_crops()
    return quantize_file(fp32_path, int8_path, crops, nodes_to_exclude=nodes_to_exclude)


def export_runtime_models(
    out_dir: Path, int8: bool = False, opset: int = DEFAULT_OPSET, cache: Path | None = None
) -> dict[str, Path]:
    """The onnx runtime's models: MTCNN nets, embedder.onnx and optionally its int8 copy.

    Files already present are kept (each file is written atomically).
    """
    from faceunlock.models.facenet.onnx_export import export_embedder
    from faceunlock.models.mtcnn.onnx_export import export_mtcnn

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    if not all((out_dir / name).is_file() for name in MTCNN_FILES):
        with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
            for name, made in export_mtcnn(Path(tmp), opset).items():
                os.replace(made, out_dir / f"{name}.onnx")
    paths.update({n: out_dir / f"{n}.onnx" for n in MTCNN_NETS})
    embedder = out_dir / EMBEDDER_FILES["fp32"]
    if not embedder.is_file():
        export_embedder(embedder, opset, cache)
    paths["embedder"] = embedder
    if int8:
        target = out_dir / EMBEDDER_FILES["int8"]
        if not target.is_file():
            quantize_embedder(embedder, target)
        paths["embedder_int8"] = target
    return paths


def main(argv: list[str] | None = None) -> int:
    """The child process of `ensure_runtime_models`: build the files into --out."""
    parser = argparse.ArgumentParser(description="Build the onnx runtime's networks.")
    parser.add_argument("--out", required=True)
    parser.add_argument("--int8", action="store_true")
    args = parser.parse_args(argv)
    export_runtime_models(Path(args.out), int8=args.int8)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
