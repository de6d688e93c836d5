"""The foundation: offline FaceNet conversion, detection, crop, pipeline, bad input."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from faceunlock.models.crop import CROP_SIZE, crop_face, normalise
from faceunlock.models.face import choose_face
from faceunlock.unlock.errors import FaceUnlockError, NoFaceError
from faceunlock.unlock.images import load_image

POWELL = "Colin_Powell/Colin_Powell_{:04d}.jpg"
BLAIR = "Tony_Blair/Tony_Blair_{:04d}.jpg"


def test_conversion_matches_opencv_dnn_on_a_real_face(pipeline, lfw_fixtures):
    """The converted torch weights compute what the original TF graph computes."""
    from faceunlock.models.facenet.graph_source import source_graph_path

    image = load_image(lfw_fixtures / POWELL.format(1))
    sample = pipeline.require_face(image, "nearest_centre")
    x = normalise([sample.crop])
    net = cv2.dnn.readNetFromTensorflow(str(source_graph_path()))
    net.setInput(x)
    reference = net.forward()[0]
    assert not pipeline.embedder.flip
    ours = pipeline.embedder.infer(x)[0]
    cosine = float(np.dot(reference, ours) / np.linalg.norm(reference) / np.linalg.norm(ours))
    assert cosine >= 0.99999
    assert np.abs(reference - ours).max() < 1e-4


def test_detects_the_face_in_a_real_photo(pipeline, lfw_fixtures):
    image = load_image(lfw_fixtures / BLAIR.format(1))
    faces = pipeline.detect(image)
    assert faces, "no face found"
    face = choose_face(faces, image.shape, "nearest_centre")
    cx, cy = face.centre
    assert 80 < cx < 170 and 80 < cy < 170  # deep-funneled LFW: the face is centred
    assert 60 < face.width < 200 and face.confidence > 0.9
    assert face.landmarks.shape == (5, 2)
    left_eye, right_eye, nose = face.landmarks[:3]
    assert left_eye[0] < nose[0] < right_eye[0]


def test_crop_shape_and_range(pipeline, lfw_fixtures):
    image = load_image(lfw_fixtures / POWELL.format(2))
    face = choose_face(pipeline.detect(image), image.shape, "largest")
    crop = crop_face(image, face)
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3) and crop.dtype == np.uint8
    x = normalise([crop])
    assert x.shape == (1, 3, CROP_SIZE, CROP_SIZE) and x.dtype == np.float32
    assert -1.0 <= x.min() < -0.5 and 0.5 < x.max() <= 1.0
    # channel order: normalise turns BGR into RGB
    assert np.allclose(x[0, 0], (crop[..., 2] - 127.5) / 128)


def test_face_near_border_is_clamped(pipeline, lfw_fixtures):
    image = load_image(lfw_fixtures / POWELL.format(3))
    shifted = image[:, 60:]  # the face now sits near the left edge
    sample = pipeline.require_face(shifted)
    assert sample.crop.shape == (CROP_SIZE, CROP_SIZE, 3)


def test_same_person_scores_above_different_people(pipeline, lfw_fixtures):
    powell = [
        pipeline.require_face(lfw_fixtures / POWELL.format(i), "nearest_centre")
        for i in (1, 2, 3, 4)
    ]
    blair = [
        pipeline.require_face(lfw_fixtures / BLAIR.format(i), "nearest_centre")
        for i in (1, 2, 3, 4)
    ]
    p = np.stack([s.embedding for s in powell])
    b = np.stack([s.embedding for s in blair])
    assert np.allclose(np.linalg.norm(p, axis=1), 1, atol=1e-4)
    same = np.concatenate([(p @ p.T)[np.triu_indices(4, 1)], (b @ b.T)[np.triu_indices(4, 1)]])
    different = (p @ b.T).ravel()
    assert same.min() > different.max()
    assert same.mean() - different.mean() > 0.3


def test_batched_embeddings_equal_single(pipeline, lfw_fixtures):
    images = [load_image(lfw_fixtures / POWELL.format(i)) for i in (5, 6)]
    plain, flipped, found = pipeline.embed_images(images, "nearest_centre")
    assert found.all()
    single = pipeline.process(images[0], "nearest_centre").embedding
    assert float(plain[0] @ single) > 0.9999
    assert np.allclose(np.linalg.norm(flipped, axis=1), 1, atol=1e-4)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FaceUnlockError, match="no such file"):
        load_image(tmp_path / "nope.jpg")


def test_text_file_named_jpg_is_a_clear_error(tmp_path):
    bogus = tmp_path / "photo.jpg"
    bogus.write_text("this is not a picture\n")
    with pytest.raises(FaceUnlockError, match="not a readable image"):
        load_image(bogus)


def test_truncated_and_empty_files(tmp_path, lfw_fixtures):
    data = (lfw_fixtures / POWELL.format(1)).read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:200])
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(FaceUnlockError, match="not a readable image"):
        load_image(tmp_path / "cut.jpg")
    with pytest.raises(FaceUnlockError, match="empty"):
        load_image(tmp_path / "empty.jpg")


def test_photo_without_face_raises_no_face(pipeline, lfw_fixtures):
    image = load_image(lfw_fixtures / POWELL.format(1))
    no_face = cv2.resize(image[210:250, 0:60], (240, 160))  # a strip of jacket and background
    with pytest.raises(NoFaceError, match="no face found"):
        pipeline.require_face(no_face)


def test_cli_reports_bad_input_without_traceback(cli, tmp_path):
    bogus = tmp_path / "photo.jpg"
    bogus.write_text("not an image")
    result = cli("eval", "lfw", "--data", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "no such folder" in result.stderr


def test_info_lists_weights_checksum(cli):
    result = cli("info", "--json")
    assert result.returncode == 0, result.stderr
    import json

    info = json.loads(result.stdout)
    assert len(info["embedding_weights"]["source_sha256"]) == 64
    assert info["packages"]["facenet-pytorch"] == "2.5.3"


def test_a_second_info_reuses_the_checksum_without_torch(tmp_path):
    """`info` hashes the 94 MB graph once per file version, and never imports torch."""
    import json
    import subprocess
    import sys

    code = (
        "import sys; from faceunlock.unlock.cli import main; main(['info', '--json']); "
        "print('torch' in sys.modules)"
    )
    env = {**os.environ, "FACEUNLOCK_CACHE": str(tmp_path / "cache")}

    def info() -> tuple[dict, str]:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
        )
        assert done.returncode == 0, done.stderr
        text, torch_loaded = done.stdout.rsplit("}", 1)
        return json.loads(text + "}"), torch_loaded.strip()

    first, torch_loaded = info()
    assert torch_loaded == "False"
    memo = tmp_path / "cache" / "graph-sha256.json"
    remembered = json.loads(memo.read_text())
    assert remembered["sha256"] == first["embedding_weights"]["source_sha256"]
    memo.write_text(json.dumps({**remembered, "sha256": "f" * 64}))
    second, _ = info()
    assert second["embedding_weights"]["source_sha256"] == "f" * 64  # not hashed again


def test_the_remembered_checksum_follows_the_file(tmp_path):
    import hashlib

    from faceunlock.models.facenet.graph_source import remembered_sha256

    graph = tmp_path / "graph.pb"
    graph.write_bytes(b"one")
    assert remembered_sha256(graph, tmp_path / "c") == hashlib.sha256(b"one").hexdigest()
    graph.write_bytes(b"two")
    os.utime(graph, ns=(1, 1))  # another size or time: hashed again
    assert remembered_sha256(graph, tmp_path / "c") == hashlib.sha256(b"two").hexdigest()
