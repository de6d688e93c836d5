"""The face pipeline on onnxruntime, numpy and OpenCV: no torch in the process.

Same interface and logic as `unlock.pipeline.torch_pipeline.FacePipeline` (both are
`unlock.pipeline.core.FacePipelineCore`); only the networks differ: MTCNN in
`models.mtcnn.ort_mtcnn`, FaceNet in `models.facenet.ort_facenet`. Where the .onnx files
come from: `unlock.pipeline.runtime_models`.
"""

from __future__ import annotations

import os
from pathlib import Path

from faceunlock.models.facenet.graph_source import weights_checksum
from faceunlock.models.facenet.ort_facenet import OrtEmbedder
from faceunlock.models.mtcnn.ort_mtcnn import OrtMtcnn
from faceunlock.models.mtcnn.params import DEFAULT_MIN_FACE
from faceunlock.models.onnx_files import EMBEDDER_FILES
from faceunlock.unlock.errors import FaceUnlockError
from faceunlock.unlock.pipeline.core import FacePipelineCore
from faceunlock.unlock.pipeline.runtime_models import (
    PRECISIONS,
    ensure_runtime_models,
    needed_files,
    runtime_model_dir,
)


class OrtFacePipeline(FacePipelineCore):
    """Detector + crop + FaceNet on onnxruntime; the FacePipeline interface, without torch.

    threads: intra-op threads of every onnxruntime session (None: all cores; 1 stands in
        for one phone core, as in `faceunlock bench --runtime onnx --threads 1`).
    precision: "fp32" (matches torch to cosine >= 0.9999) or "int8" (static QDQ embedder).
    model_dir: a directory with the exported models (default: the runtime cache).
    home: the data directory whose key seals the cached models (default: the usual one).
    """

    def __init__(
        self,
        min_face_size: int = DEFAULT_MIN_FACE,
        *,
        threads: int | None = None,
        precision: str = "fp32",
        model_dir: str | os.PathLike | None = None,
        cache: Path | None = None,
        flip: bool = False,
        home: str | os.PathLike | None = None,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
        checksum = weights_checksum()
        if model_dir is None:
            folder = ensure_runtime_models(runtime_model_dir(checksum, cache), precision, home)
        else:
            folder = Path(model_dir)
            missing = [n for n in needed_files(precision) if not (folder / n).is_file()]
            if missing:
                raise FaceUnlockError(f"{folder}: missing {', '.join(missing)}")
        self.model_dir = folder
        self.threads = threads
        self.precision = precision
        super().__init__(
            OrtMtcnn(folder, min_face_size=min_face_size, threads=threads),
            OrtEmbedder(folder / EMBEDDER_FILES[precision], checksum, threads, flip),
        )
