"""MTCNN on torch: facenet-pytorch's detector (its weights ship inside that package).

The reference; `models.mtcnn.ort_mtcnn` is its onnxruntime port (a test asserts parity).
"""

from __future__ import annotations

import copy

import cv2
import numpy as np
import torch
from facenet_pytorch import MTCNN

from faceunlock.models.face import Face
from faceunlock.models.mtcnn.ort_mtcnn import refine_faces
from faceunlock.models.mtcnn.params import DEFAULT_MIN_FACE, FACTOR, THRESHOLDS


class FaceDetector:
    """MTCNN over BGR frames, returning every face with box, confidence and landmarks."""

    def __init__(
        self,
        min_face_size: int = DEFAULT_MIN_FACE,
        thresholds: tuple[float, float, float] = THRESHOLDS,
        factor: float = FACTOR,
    ) -> None:
        self.mtcnn = MTCNN(
            min_face_size=min_face_size,
            thresholds=list(thresholds),
            factor=factor,
            keep_all=True,
            select_largest=True,
            device="cpu",
        ).eval()

    @property
    def min_face_size(self) -> int:
        return self.mtcnn.min_face_size

    def with_min_face(self, min_face_size: int) -> FaceDetector:
        """The same detector (its networks shared) with another smallest face."""
        twin = copy.copy(self)
        twin.mtcnn = copy.copy(self.mtcnn)
        twin.mtcnn.min_face_size = int(min_face_size)
        return twin

    @torch.inference_mode()
    def infer(self, image_bgr: np.ndarray) -> list[Face]:
        """All faces in a BGR uint8 image, largest first."""
        if min(image_bgr.shape[:2]) < self.min_face_size:
            return []  # no face fits (and MTCNN's empty pyramid would fail)
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        boxes, probs, points = self.mtcnn.detect(rgb, landmarks=True)
        return _faces_from(boxes, probs, points)

    def refine(self, image_bgr: np.ndarray, faces: list[Face]) -> list[Face]:
        """The faces re-located by MTCNN's O-Net alone (tracking; see
        `models.mtcnn.ort_mtcnn.refine_faces`, shared with the onnxruntime detector)."""

        return refine_faces(image_bgr, faces, self._run_onet, self.mtcnn.thresholds[2])

    @torch.inference_mode()
    def _run_onet(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        reg, marks, prob = self.mtcnn.onet(torch.from_numpy(data))
        return reg.numpy(), marks.numpy(), prob.numpy()

    @torch.inference_mode()
    def infer_batch(self, images_bgr: list[np.ndarray]) -> list[list[Face]]:
        """Faces of several images; images of one size run as a single batch."""
        if not images_bgr:
            return []
        if len({im.shape for im in images_bgr}) > 1 or (
            min(images_bgr[0].shape[:2]) < self.min_face_size
        ):
            return [self.infer(im) for im in images_bgr]
        rgb = np.stack([cv2.cvtColor(im, cv2.COLOR_BGR2RGB) for im in images_bgr])
        boxes, probs, points = self.mtcnn.detect(rgb, landmarks=True)
        return [_faces_from(b, p, q) for b, p, q in zip(boxes, probs, points)]


def _faces_from(boxes, probs, points) -> list[Face]:
    if boxes is None:
        return []
    return [
        Face(
            box=tuple(float(v) for v in box),
            confidence=float(prob),
            landmarks=np.asarray(point, np.float32),
        )
        for box, prob, point in zip(boxes, probs, points)
    ]
