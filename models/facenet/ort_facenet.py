"""FaceNet on onnxruntime: the torch-free twin of `models.facenet.torch_facenet.FaceEmbedder`.

Runs `embedder.onnx` (or its static int8 copy) written by `models.facenet.onnx_export`;
fp32 matches torch to cosine >= 0.9999.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from faceunlock.models.sessions import ort_session

EMBEDDING_SIZE = 512


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class OrtEmbedder:
    """Normalised crops (N x 3 x 160 x 160) -> N x 512 L2-normalised embeddings."""

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
        flipped = l2_normalise(plain + both[len(crops) :])
        return plain.astype(np.float32), flipped.astype(np.float32)

    def infer(self, crops: np.ndarray) -> np.ndarray:
        """Embed a batch of normalised crops; with `flip`, adds the mirror and re-normalises."""
        if len(crops) == 0:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        if self.flip:
            return self.infer_plain_and_flip(crops)[1]
        return self._run(crops).astype(np.float32)
