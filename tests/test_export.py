"""`faceunlock export`: files pass onnx.checker, manifest checksums, parity with torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faceunlock.unlock import media

DATA = media.DATA_DIR


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory, pipeline):
    """A user enrolled from the bundled photo, in a fresh data directory."""
    import cv2

    from faceunlock.enroll.profile import Profile, ProfileStore
    from faceunlock.unlock.images import load_image

    home = tmp_path_factory.mktemp("home")
    photo = load_image(DATA / "lin-manuel-miranda.png")
    embeddings = [pipeline.require_face(im).embedding for im in (photo, cv2.flip(photo, 1))]
    profile = Profile(
        name="lin", embeddings=np.stack(embeddings), weights_sha256=pipeline.weights_sha256
    )
    ProfileStore(home).save(profile)
    return home, profile


@pytest.fixture(scope="module")
def unlock_net():
    """The shipped unlock network, or (before its weights are trained) a seeded one: the
    export and its parity do not depend on the weights' values."""
    import torch

    from faceunlock.models.unlock_head.scorer import WEIGHTS_PATH
    from faceunlock.models.unlock_head.torch_head import UnlockNet, load_unlock_net

    if WEIGHTS_PATH.is_file():
        return load_unlock_net()
    torch.manual_seed(0)
    return UnlockNet().eval()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, enrolled, unlock_net):
    from faceunlock.export.bundle import export_bundle

    out = tmp_path_factory.mktemp("export")
    manifest = export_bundle(enrolled[1], out, unlock_net=unlock_net)
    return out, manifest


@pytest.fixture(scope="module")
def crops(pipeline, lfw_fixtures):
    from faceunlock.models.crop import normalise

    photos = sorted(lfw_fixtures.glob("*/*.jpg"))[::4] + sorted(DATA.glob("*.png"))
    return normalise([pipeline.require_face(p, "nearest_centre").crop for p in photos])


def _session(path: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_every_file_passes_the_checker_and_matches_the_manifest(bundle):
    import onnx

    from faceunlock.models.facenet.graph_source import sha256_file

    out, manifest = bundle
    names = {p.name for p in out.iterdir() if p.suffix in (".onnx", ".ort")}
    for net in ("embedder", "pnet", "rnet", "onet"):
        assert {f"{net}.onnx", f"{net}.ort"} <= names
    assert set(manifest["files"]) == names
    for name, info in manifest["files"].items():
        assert sha256_file(out / name) == info["sha256"]
        assert (out / name).stat().st_size == info["bytes"]
        if name.endswith(".onnx"):
            onnx.checker.check_model(str(out / name), full_check=True)
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["threshold"] == 0.5
    assert on_disk["normalisation"]["crop"]["mean"] == 127.5
    assert on_disk["weights_sha256"] == manifest["weights_sha256"]


def test_embedder_parity_on_real_faces(bundle, pipeline, crops):
    out, _ = bundle
    expected = pipeline.embedder.infer(crops)
    for name in ("embedder.onnx", "embedder.ort"):
        got = _session(out / name).run(None, {"image": crops})[0]
        assert np.sum(got * expected, axis=1).min() >= 0.9999


def test_unlock_network_parity(bundle, enrolled, crops, unlock_net):
    import torch

    from faceunlock.export.onnx_export import FusedUnlock
    from faceunlock.models.facenet.torch_facenet import load_facenet

    out, manifest = bundle
    fused = FusedUnlock(load_facenet()[0], unlock_net.for_user(enrolled[1].embeddings)).eval()
    with torch.inference_mode():
        expected = fused(torch.from_numpy(crops)).numpy()
    got = _session(out / "unlock.onnx").run(None, {"image": crops})[0]
    assert got.shape == (len(crops), 1)
    assert np.abs(got - expected).max() <= 1e-4
    assert "unlock.onnx" in manifest["files"] and "unlock.ort" in manifest["files"]


def test_pnet_takes_any_image_size(bundle):
    pnet = _session(bundle[0] / "pnet.onnx")
    for h, w in ((12, 12), (54, 96), (131, 77)):
        reg, prob = pnet.run(None, {"image": np.zeros((1, 3, h, w), np.float32)})
        # conv 3x3, max-pool 2 (ceil), conv 3x3, conv 3x3: one cell per 12 px window
        cells = (-(-(h - 2) // 2) - 4, -(-(w - 2) // 2) - 4)
        assert reg.shape == (1, 4, *cells) and prob.shape == (1, 2, *cells)


def test_export_needs_user_and_valid_opset(home, capsys):
    from faceunlock.unlock.cli import main

    assert main(["export", "--out", str(home / "x")]) == 2
    assert "--user" in capsys.readouterr().err
    assert main(["export", "--user", "nobody", "--out", str(home / "x"), "--opset", "7"]) == 2
    assert "--opset" in capsys.readouterr().err
    assert main(["export", "--user", "nobody", "--out", str(home / "x")]) == 2
    assert "unknown user" in capsys.readouterr().err


def test_export_command_prints_small_files_in_kb_and_no_library_logs(enrolled, tmp_path, cli):
    """`faceunlock export` as a user runs it: no onnxruntime INFO line, KB below 1 MB."""
    home, _ = enrolled
    result = cli("export", "--user", "lin", "--out", str(tmp_path / "bundle"), home=home)
    assert result.returncode == 0, result.stderr
    assert "INFO" not in result.stderr and "Created config" not in result.stderr
    files = json.loads(result.stdout)["files"]
    assert files["pnet.onnx"].endswith(" KB") and float(files["pnet.onnx"].split()[0]) > 1
    assert files["embedder.onnx"].endswith(" MB")
