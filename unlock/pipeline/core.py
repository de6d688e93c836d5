"""The runtime-independent face pipeline: frame -> faces -> crop -> embedding.

`FacePipelineCore` holds the logic every job shares (face choice, crop, batching, stage
timing) over any detector and embedder with the interfaces below; the torch pipeline
(`unlock.pipeline.torch_pipeline`) and the onnxruntime one (`unlock.pipeline.ort_pipeline`)
only choose the networks. This module imports no torch.

- detector: `infer(bgr) -> list[Face]`, `infer_batch(list) -> list[list[Face]]`,
  `min_face_size`
- embedder: `infer(crops) -> N x 512`, `infer_plain_and_flip(crops)`, `weights_sha256`
  (crops: float32 N x 3 x 160 x 160, normalised by `models.crop.normalise`)
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, field

import numpy as np

from faceunlock.models.crop import crop_face, normalise
from faceunlock.models.face import Face, choose_face
from faceunlock.unlock.errors import NoFaceError
from faceunlock.unlock.images import load_image


@dataclass
class FaceSample:
    """A face found in an image: where it is, its 160 x 160 BGR crop and its embedding."""

    face: Face
    crop: np.ndarray
    embedding: np.ndarray


@dataclass
class StageTimer:
    """Milliseconds spent in each stage of the last call."""

    ms: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        self.ms[stage] = self.ms.get(stage, 0.0) + seconds * 1000.0


class FacePipelineCore:
    """Detector + crop + embedder, with face choice by policy."""

    def __init__(self, detector, embedder) -> None:
        self.detector = detector
        self.embedder = embedder
        self.timer = StageTimer()

    @property
    def weights_sha256(self) -> str:
        return self.embedder.weights_sha256

    def with_min_face(self, min_face_size: int) -> FacePipelineCore:
        """The same networks (nothing loaded again) with another detector smallest face:
        enrolment's detector settings beside the live loop's."""
        twin = copy.copy(self)
        twin.detector = self.detector.with_min_face(min_face_size)
        twin.timer = StageTimer()
        return twin

    def detect(self, image: np.ndarray) -> list[Face]:
        """Every face in a BGR image, largest first."""
        start = time.perf_counter()
        faces = self.detector.infer(image)
        self.timer.add("detect", time.perf_counter() - start)
        return faces

    def embed_crops(self, crops_bgr: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """BGR 160 x 160 crops -> L2-normalised embeddings (N x 512)."""
        start = time.perf_counter()
        embeddings = (
            self.embedder.infer(normalise(crops_bgr))
            if len(crops_bgr)
            else (np.zeros((0, 512), np.float32))
        )
        self.timer.add("embed", time.perf_counter() - start)
        return embeddings

    def process(
        self,
        image: np.ndarray | str | os.PathLike,
        policy: str = "largest",
        faces: list[Face] | None = None,
    ) -> FaceSample | None:
        """Detect, choose one face by `policy`, crop and embed it; None if no face."""
        self.timer = StageTimer()
        if not isinstance(image, np.ndarray):
            image = load_image(image)
        if faces is None:
            faces = self.detect(image)
        face = choose_face(faces, image.shape, policy)
        if face is None:
            return None
        start = time.perf_counter()
        crop = crop_face(image, face)
        self.timer.add("crop", time.perf_counter() - start)
        embedding = self.embed_crops([crop])[0]
        return FaceSample(face=face, crop=crop, embedding=embedding)

    def require_face(
        self, image: np.ndarray | str | os.PathLike, policy: str = "largest"
    ) -> FaceSample:
        """Like `process`, but a missing face raises NoFaceError naming the image."""
        name = str(image) if not isinstance(image, np.ndarray) else "frame"
        sample = self.process(image, policy)
        if sample is None:
            raise NoFaceError(
                f"no face found in {name}: use a well-lit photo with one face, "
                f"at least {self.detector.min_face_size} px wide"
            )
        return sample

    def crop_images(
        self,
        images: list[np.ndarray],
        policy: str = "largest",
        fallback_centre: bool = False,
        margin_px: float | None = None,
    ) -> tuple[list[np.ndarray | None], np.ndarray]:
        """One 160 x 160 crop per image (batched detection) and the face-found flags.

        Images without a face get None, or with `fallback_centre` the crop of a centred box
        covering the middle 44 % of the image (for pre-aligned data sets). `margin_px`
        overrides the proportional crop margin (see models.crop.crop_face).
        """
        faces_per_image = self.detector.infer_batch(images)
        crops: list[np.ndarray | None] = []
        found = np.zeros(len(images), bool)
        for i, (image, faces) in enumerate(zip(images, faces_per_image)):
            face = choose_face(faces, image.shape, policy)
            found[i] = face is not None
            if face is None:
                if not fallback_centre:
                    crops.append(None)
                    continue
                h, w = image.shape[:2]
                face = Face((w * 0.28, h * 0.28, w * 0.72, h * 0.72), 0.0, np.zeros((5, 2)))
            crops.append(crop_face(image, face, margin_px=margin_px))
        return crops, found

    def embed_images(
        self,
        images: list[np.ndarray],
        policy: str = "largest",
        fallback_centre: bool = False,
        margin_px: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Embeddings of many images (batched): (plain N x 512, with-mirror N x 512, found).

        Images without a crop (see `crop_images`) get NaN rows.
        """
        crops, found = self.crop_images(images, policy, fallback_centre, margin_px)
        return (*self.embed_crop_list(crops), found)

    def embed_crop_list(self, crops: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
        """(plain N x 512, with-mirror N x 512) embeddings of crops, NaN rows where None."""
        valid = [c for c in crops if c is not None]
        plain = np.full((len(crops), 512), np.nan, np.float32)
        flipped = plain.copy()
        if valid:
            start = time.perf_counter()
            emb_plain, emb_flip = self.embedder.infer_plain_and_flip(normalise(valid))
            self.timer.add("embed", time.perf_counter() - start)
            rows = [i for i, c in enumerate(crops) if c is not None]
            plain[rows] = emb_plain
            flipped[rows] = emb_flip
        return plain, flipped
