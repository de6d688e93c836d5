"""The onnxruntime pipeline: MTCNN port parity with facenet-pytorch, embeddings, no torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceunlock.unlock import media

DATA = media.DATA_DIR


def _clip_frames(every: int, start: int = 0) -> list[np.ndarray]:
    """Every `every`-th frame of the bundled clip from frame `start` (BGR)."""
    capture = cv2.VideoCapture(str(DATA / "short_hamilton_clip.mp4"))
    frames, index = [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index >= start and (index - start) % every == 0:
            frames.append(frame)
        index += 1
    return frames


@pytest.fixture(scope="module")
def images(lfw_fixtures: Path) -> list[np.ndarray]:
    """Real faces: LFW fixtures, the bundled photos and frames of the bundled clip."""
    photos = sorted(lfw_fixtures.glob("*/*.jpg"))[::5] + sorted(DATA.glob("*.png"))
    return [cv2.imread(str(p)) for p in photos] + _clip_frames(every=60, start=20)


@pytest.fixture(scope="module")
def torch_faces(pipeline, images) -> list:
    """facenet-pytorch's detections of each image (the reference)."""
    return [pipeline.detector.infer(image) for image in images]


@pytest.fixture(scope="module")
def ort_faces(ort_pipeline, images) -> list:
    """The port's detections of each image."""
    return [ort_pipeline.detector.infer(image) for image in images]


@pytest.fixture(scope="module")
def ort_pipeline():
    from faceunlock.unlock.pipeline.ort_pipeline import OrtFacePipeline

    return OrtFacePipeline(min_face_size=20)


def test_area_resampling_matches_torch_interpolate():
    import torch

    from faceunlock.models.mtcnn.ort_mtcnn import AreaResampler

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)
    area = AreaResampler(rgb)
    tensor = torch.from_numpy(rgb).permute(2, 0, 1)[None].float()
    for y0, y1, x0, x1, oh, ow in [
        (0, 97, 0, 131, 69, 93),
        (5, 60, 17, 40, 24, 24),
        (3, 9, 2, 8, 48, 48),
    ]:
        expected = torch.nn.functional.interpolate(
            tensor[:, :, y0:y1, x0:x1], size=(oh, ow), mode="area"
        )[0].permute(1, 2, 0)
        np.testing.assert_allclose(area.resize(y0, y1, x0, x1, oh, ow), expected.numpy(), atol=1e-4)


def test_nms_matches_torchvision():
    import torch
    from torchvision.ops import nms as tv_nms

    from faceunlock.models.mtcnn.ort_mtcnn import nms

    rng = np.random.default_rng(1)
    corners = rng.uniform(0, 200, (300, 2)).astype(np.float32)
    sizes = rng.uniform(5, 60, (300, 2)).astype(np.float32)
    boxes = np.concatenate([corners, corners + sizes], axis=1)
    scores = rng.uniform(0, 1, 300).astype(np.float32)
    for threshold in (0.5, 0.7):
        expected = tv_nms(torch.from_numpy(boxes), torch.from_numpy(scores), threshold).numpy()
        np.testing.assert_array_equal(nms(boxes, scores, threshold), expected)


def test_detector_port_matches_facenet_pytorch(torch_faces, ort_faces):
    faces_seen = 0
    for expected, got in zip(torch_faces, ort_faces):
        assert len(got) == len(expected)
        for a, b in zip(expected, got):
            assert np.abs(np.subtract(a.box, b.box)).max() <= 1.0
            assert np.abs(a.landmarks - b.landmarks).max() <= 1.0
            assert abs(a.confidence - b.confidence) <= 1e-3
        faces_seen += len(expected)
    assert faces_seen >= len(torch_faces)


def test_embeddings_match_torch(pipeline, ort_pipeline, images, torch_faces, ort_faces):
    for image, faces, found in zip(images, torch_faces, ort_faces):
        expected = pipeline.process(image, faces=faces)
        got = ort_pipeline.process(image, faces=found)
        assert (expected is None) == (got is None)
        if expected is not None:
            assert float(expected.embedding @ got.embedding) >= 0.9999
            assert set(ort_pipeline.timer.ms) == {"crop", "embed"}


def test_embed_images_matches_torch(pipeline, ort_pipeline, images):
    batch = images[:4]
    plain_t, flip_t, found_t = pipeline.embed_images(batch, policy="nearest_centre")
    plain_o, flip_o, found_o = ort_pipeline.embed_images(batch, policy="nearest_centre")
    np.testing.assert_array_equal(found_t, found_o)
    assert np.all(np.sum(plain_t[found_t] * plain_o[found_o], axis=1) >= 0.9999)
    assert np.all(np.sum(flip_t[found_t] * flip_o[found_o], axis=1) >= 0.9999)


def test_onnx_runtime_never_imports_torch(ort_pipeline, tmp_path):
    """The whole pipeline, detection included, in a process where torch never loads."""
    script = f"""
import json, sys
from faceunlock.unlock.pipeline.runtime import load_pipeline
pipeline = load_pipeline("onnx", min_face_size=40)
sample = pipeline.require_face({str(DATA / "lin-manuel-miranda.png")!r})
from faceunlock.unlock.pipeline.ort_pipeline import OrtFacePipeline
one_thread = OrtFacePipeline(min_face_size=40, threads=1)
again = one_thread.require_face({str(DATA / "lin-manuel-miranda.png")!r})
print(json.dumps({{
    "torch": "torch" in sys.modules,
    "box": list(sample.face.box),
    "cosine": float(sample.embedding @ again.embedding),
    "weights": pipeline.weights_sha256,
    "stages": sorted(pipeline.timer.ms),
}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["torch"] is False
    assert result["cosine"] >= 0.9999
    assert result["weights"] == ort_pipeline.weights_sha256
    assert result["stages"] == ["crop", "detect", "embed"]
    width = result["box"][2] - result["box"][0]
    assert width > 40


def test_require_face_names_the_image(ort_pipeline, tmp_path):
    from faceunlock.unlock.errors import NoFaceError

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 160, 3), 128, np.uint8))
    with pytest.raises(NoFaceError, match="blank.png"):
        ort_pipeline.require_face(blank)


def test_unknown_precision_is_refused():
    from faceunlock.unlock.pipeline.ort_pipeline import OrtFacePipeline

    with pytest.raises(ValueError, match="precision"):
        OrtFacePipeline(precision="fp8")


def _shifted(face, dx: float, dy: float, grow: float = 1.0):
    from faceunlock.models.face import Face

    x1, y1, x2, y2 = face.box
    cx, cy = (x1 + x2) / 2 + dx, (y1 + y2) / 2 + dy
    hw, hh = (x2 - x1) / 2 * grow, (y2 - y1) / 2 * grow
    return Face((cx - hw, cy - hh, cx + hw, cy + hh), face.confidence, face.landmarks)


def _iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_tracking_step_relocates_a_face_that_moved(pipeline, ort_pipeline, images, ort_faces):
    """O-Net alone, started from a box off by 10 % of the face (and 10 % too large), finds
    each clearly detected face again (both runtimes, same result)."""
    checked = 0
    for image, faces in zip(images, ort_faces):
        h, w = image.shape[:2]
        if not faces or faces[0].confidence < 0.95:
            continue  # a doubtful detection is no reference
        face = faces[0]
        if min(face.box) < 0 or face.box[2] > w or face.box[3] > h:
            continue  # a face cut by the image border has no true box to come back to
        start = _shifted(face, 0.1 * face.width, -0.1 * face.height, grow=1.1)
        for _ in range(2):  # the live loop's two passes
            (start,) = ort_pipeline.detector.refine(image, [start])
        assert _iou(start.box, face.box) >= 0.7
        assert np.abs(start.landmarks - face.landmarks).max() <= 0.15 * face.width
        got_torch = pipeline.detector.refine(image, [face])
        got_ort = ort_pipeline.detector.refine(image, [face])
        assert np.abs(np.subtract(got_torch[0].box, got_ort[0].box)).max() <= 1.0
        assert abs(got_torch[0].confidence - got_ort[0].confidence) <= 1e-3
        checked += 1
    assert checked >= 5
    frame = images[-1]
    corner = _shifted(ort_faces[-1][0], 0, 0)
    x1, y1, x2, y2 = corner.box
    from faceunlock.models.face import Face

    background = Face((0.0, 0.0, x2 - x1, y2 - y1), 1.0, corner.landmarks)
    assert ort_pipeline.detector.refine(frame, [background]) == []
    assert pipeline.detector.refine(frame, [background]) == []
    assert ort_pipeline.detector.refine(frame, []) == []


def test_int8_needs_the_onnx_runtime_and_threads_must_be_positive(capsys):
    import argparse

    from faceunlock.unlock.cli import main
    from faceunlock.unlock.errors import FaceUnlockError
    from faceunlock.unlock.pipeline.runtime import pipeline_from_args

    with pytest.raises(FaceUnlockError, match="--int8 needs --runtime onnx"):
        pipeline_from_args(argparse.Namespace(runtime="torch", int8=True, threads=None))
    with pytest.raises(FaceUnlockError, match="--threads must be 1 to 256"):
        pipeline_from_args(argparse.Namespace(runtime="onnx", int8=False, threads=0))
    assert main(["bench", "--no-peers", "--frames", "2", "--int8", "--runtime", "torch"]) != 0
    assert "--int8 needs --runtime onnx" in capsys.readouterr().err


def test_a_pipeline_with_another_smallest_face_shares_its_networks(ort_pipeline):
    twin = ort_pipeline.with_min_face(48)
    assert twin.detector.min_face_size == 48 and ort_pipeline.detector.min_face_size != 48
    assert twin.detector.pnet is ort_pipeline.detector.pnet
    assert twin.embedder is ort_pipeline.embedder
    assert twin.detector.scales(360, 640)[0] == pytest.approx(12 / 48)


def test_the_torch_detector_twin_leaves_the_original_alone(pipeline):
    twin = pipeline.with_min_face(48)
    assert twin.detector.min_face_size == 48 and pipeline.detector.min_face_size != 48
    assert twin.detector.mtcnn.pnet is pipeline.detector.mtcnn.pnet
