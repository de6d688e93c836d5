"""The one face pipeline every job shares: frame -> faces -> crop -> embedding (-> p).

Enrol, unlock, verify, eval and export all go through `FacePipeline`, so a face is
found, cropped and embedded the same way everywhere.
"""

from __future__ import annotations

from pathlib import Path

from faceunlock.models.facenet.torch_facenet import FaceEmbedder
from faceunlock.models.mtcnn.torch_mtcnn import FaceDetector
from faceunlock.unlock.pipeline.core import FacePipelineCore, FaceSample, StageTimer  # noqa: F401


class FacePipeline(FacePipelineCore):
    """Detector + crop + FaceNet embedder on torch, with face choice by policy."""

    def __init__(
        self,
        detector: FaceDetector | None = None,
        embedder: FaceEmbedder | None = None,
        *,
        min_face_size: int = 20,
        flip: bool = False,
        cache: Path | None = None,
    ) -> None:
        super().__init__(
            detector or FaceDetector(min_face_size=min_face_size),
            embedder or FaceEmbedder(cache=cache, flip=flip),
        )
