"""The export bundle for one user: ONNX + .ort files, checked, parity-tested, with a manifest."""

from __future__ import annotations

import importlib.metadata
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from faceunlock.models.crop import NORMALISATION
from faceunlock.models.onnx_files import EMBEDDER_FILE, HEAD_FILE, MTCNN_FILES, UNLOCK_FILE
from faceunlock.models.unlock_head import THRESHOLD

# Parity required of fp32 exports on real faces (int8 figures are reported, not required).
MAX_P_DIFF = 1e-4
MIN_COSINE = 0.9999
PNET, RNET, ONET = MTCNN_FILES


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def shipped_unlock_net():
    """The calibrated unlock network that ships with faceunlock."""
    from faceunlock.models.unlock_head.torch_head import load_unlock_net

    return load_unlock_net()


def parity_crops(pipeline, every: int = 25) -> np.ndarray:
    """BGR crops of the largest face in the bundled photos and every `every`-th clip frame."""
    from faceunlock.models.crop import crop_face
    from faceunlock.unlock import media
    from faceunlock.unlock.images import load_image

    crops = []
    for frame in [load_image(p) for p in media.photo_paths()] + media.clip_frames(every):
        faces = pipeline.detector.infer(frame)
        if faces:
            crops.append(crop_face(frame, faces[0]))
    return np.stack(crops)


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    from faceunlock.models.sessions import ort_session

    return ort_session(path).run(None, {"image": x})[0]


def _run_head(path: Path, live: np.ndarray, enrolled: np.ndarray) -> np.ndarray:
    """p of head.onnx for live embeddings against an enrolled set."""
    from faceunlock.models.sessions import ort_session

    feed = {"live": live, "enrolled": np.asarray(enrolled, np.float32)}
    return ort_session(path).run(None, feed)[0]


def _write_networks(out: Path, net, profile, int8: bool, opset: int, x: np.ndarray):
    """embedder.onnx and unlock.onnx (int8: quantised, the unlock head kept in fp32) in
    `out`; returns (the fused torch module, p of `x` from the written unlock.onnx)."""
    from faceunlock.export.onnx_export import embedder_node_names, export_unlock
    from faceunlock.models.facenet.onnx_export import export_embedder
    from faceunlock.unlock.pipeline.runtime_models import (
        default_calibration_crops,
        quantize_embedder,
    )

    calibration = default_calibration_crops() if int8 else None
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        fp32_embedder = Path(tmp) / EMBEDDER_FILE
        export_embedder(fp32_embedder, opset)
        if int8:
            quantize_embedder(fp32_embedder, out / EMBEDDER_FILE, crops=calibration)
        else:
            os.replace(fp32_embedder, out / EMBEDDER_FILE)
        fp32_unlock = Path(tmp) / UNLOCK_FILE
        fused = export_unlock(fp32_unlock, net, profile.scoring_set(), opset)
        if int8:
            _, head = embedder_node_names(fp32_unlock)
            quantize_embedder(
                fp32_unlock, out / UNLOCK_FILE, nodes_to_exclude=head, crops=calibration
            )
        else:
            os.replace(fp32_unlock, out / UNLOCK_FILE)
    return fused, _run(out / UNLOCK_FILE, x)


def export_bundle(
    profile, out: Path, int8: bool = False, opset: int = 17, unlock_net=None, config=None
) -> dict:
    """Write unlock.onnx, embedder.onnx, head.onnx, pnet/rnet/onet.onnx, .ort copies and
    manifest.json.

    `unlock_net`: a `models.unlock_head.torch_head.UnlockNet` (default: the shipped one);
    `config`: the loop's `unlock.config.Config` the manifest states (default: defaults).
    """
    import torch

    from faceunlock.enroll.profile import require_compatible
    from faceunlock.export.onnx_export import check_model, convert_to_ort
    from faceunlock.models.crop import normalise
    from faceunlock.models.mtcnn.onnx_export import export_mtcnn
    from faceunlock.models.unlock_head.onnx_head import export_head
    from faceunlock.unlock.config import Config
    from faceunlock.unlock.pipeline.torch_pipeline import FacePipeline

    pipeline = FacePipeline()
    net = unlock_net if unlock_net is not None else shipped_unlock_net()
    require_compatible(profile, pipeline.weights_sha256)
    out.mkdir(parents=True, exist_ok=True)
    for stale in (UNLOCK_FILE, Path(UNLOCK_FILE).with_suffix(".ort").name):
        (out / stale).unlink(missing_ok=True)
    export_mtcnn(out, opset)
    export_head(out / HEAD_FILE, opset)
    x = normalise(parity_crops(pipeline))
    with torch.inference_mode():
        emb_torch = pipeline.embedder.infer(x)
    fused, p_onnx = _write_networks(out, net, profile, int8, opset, x)
    with torch.inference_mode():
        p_torch = fused(torch.from_numpy(x)).numpy()
    emb_onnx = _run(out / EMBEDDER_FILE, x)
    p_head = _run_head(out / HEAD_FILE, emb_onnx, profile.scoring_set())
    parity = {
        "faces": int(len(x)),
        "precision": "int8" if int8 else "fp32",
        "max_abs_p_diff": float(np.abs(p_onnx - p_torch).max()),
        "decisions_agree": int(((p_onnx >= THRESHOLD) == (p_torch >= THRESHOLD)).sum()),
        "min_embedding_cosine": float(np.sum(emb_onnx * emb_torch, axis=1).min()),
        "head_max_abs_p_diff": float(np.abs(p_head - p_onnx[:, 0]).max()),
    }
    if not int8 and (
        parity["min_embedding_cosine"] < MIN_COSINE or parity["max_abs_p_diff"] > MAX_P_DIFF
    ):
        raise RuntimeError(f"the ONNX export does not match torch: {parity}")
    onnx_files = sorted(out.glob("*.onnx"))
    for path in onnx_files:
        check_model(path)
    convert_to_ort(onnx_files)
    config = config if config is not None else Config()
    manifest = _manifest(
        out, profile, net.meta, (int8, opset, parity, config, pipeline.weights_sha256)
    )
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def _manifest(out, profile, net_meta, settings) -> dict:
    """manifest.json: files, inputs and outputs, parity, and the loop's whole contract."""
    from faceunlock.export import contract
    from faceunlock.models.facenet.graph_source import sha256_file

    int8, opset, parity, config, weights_sha256 = settings
    calibration = dict((net_meta or {}).get("calibration", {}))
    files = {
        path.name: {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        for path in sorted(out.iterdir())
        if path.suffix in (".onnx", ".ort")
    }
    return {
        "format": "faceunlock-onnx-1",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "user": profile.name,
        "enrolled_faces": int(len(profile.scoring_set())),
        "secret": (
            "unlock.onnx holds this user's enrolled face embeddings: keep the bundle like a "
            "key (owner-only files). Whoever reads it can extract the template and, with the "
            "public FaceNet weights, search for an image that unlocks as this user, or "
            "compare faces with it. Install it only where only the owner's app can read it."
        ),
        "weights_sha256": weights_sha256,
        "opset": opset,
        "precision": "int8 (static QDQ, per-channel)" if int8 else "fp32",
        "inputs": {
            UNLOCK_FILE: {"image": "N x 3 x 160 x 160 float32 face crop"},
            EMBEDDER_FILE: {"image": "N x 3 x 160 x 160 float32 face crop"},
            HEAD_FILE: {"live": "N x 512 float32 embedding", "enrolled": "K x 512 float32"},
            PNET: {"image": "1 x 3 x H x W float32 (any H, W >= 12)"},
            RNET: {"image": "N x 3 x 24 x 24 float32"},
            ONET: {"image": "N x 3 x 48 x 48 float32"},
        },
        "outputs": {
            UNLOCK_FILE: {"p": "N x 1, probability the face is the user's"},
            EMBEDDER_FILE: {"embedding": "N x 512, L2-normalised"},
            HEAD_FILE: {"p": "N, probability each live face is the enrolled user's"},
            PNET: {"reg": "1 x 4 x h x w", "prob": "1 x 2 x h x w"},
            RNET: {"reg": "N x 4", "prob": "N x 2"},
            ONET: {"reg": "N x 4", "landmarks": "N x 10", "prob": "N x 2"},
        },
        "normalisation": {
            "crop": {**NORMALISATION, "formula": "(x - 127.5) / 128"},
            "detector": {"channels": "RGB", "layout": "NCHW", "formula": "(x - 127.5) / 128"},
        },
        "crop": contract.crop_contract(),
        "detector": contract.detector_contract(),
        "loop": contract.loop_contract(config),
        "threshold": THRESHOLD,
        "decision": contract.decision_contract(config),
        "liveness": contract.liveness_contract(config),
        "calibrated_far": calibration.get("far"),
        "calibration": calibration,
        "attempt_calibration": (net_meta or {}).get("attempt_calibration"),
        "parity": parity,
        "versions": {
            p: _version(p)
            for p in ("faceunlock", "torch", "onnx", "onnxruntime", "facenet-pytorch", "numpy")
        },
        "files": files,
    }
