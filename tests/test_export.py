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


def test_head_onnx_in_the_bundle_matches_unlock_onnx(bundle, enrolled, crops):
    """embedder.onnx then head.onnx with the enrolled set gives unlock.onnx's p: an app can
    enrol on the phone and decide without the baked-in file."""
    out, manifest = bundle
    live = _session(out / "embedder.onnx").run(None, {"image": crops})[0]
    enrolled_set = np.asarray(enrolled[1].scoring_set(), np.float32)
    (p_head,) = _session(out / "head.onnx").run(None, {"live": live, "enrolled": enrolled_set})
    p_fused = _session(out / "unlock.onnx").run(None, {"image": crops})[0][:, 0]
    assert np.abs(p_head - p_fused).max() < 1e-5
    assert manifest["parity"]["head_max_abs_p_diff"] < 1e-5
    assert {"head.onnx", "head.ort"} <= set(manifest["files"])


def test_manifest_states_the_whole_loop_from_its_definitions(bundle):
    """Every number the desktop loop uses, read from the manifest, is the one in code."""
    from faceunlock.models.crop import INNER_COLS, MARGIN_FRACTION, SIDE_LIGHT_EPS
    from faceunlock.models.mtcnn import params
    from faceunlock.models.unlock_head.scorer import MAX_SIDE_LIGHT, TIGHT_PAIRWISE, load_weights
    from faceunlock.unlock.app import live
    from faceunlock.unlock.config import Config

    manifest = json.loads((bundle[0] / "manifest.json").read_text())
    det, loop, decision = manifest["detector"], manifest["loop"], manifest["decision"]
    config = Config()
    assert det["thresholds"] == list(params.THRESHOLDS) and det["factor"] == params.FACTOR
    assert det["pnet"]["cell"] == params.PNET_CELL and det["pnet"]["stride"] == params.PNET_STRIDE
    assert det["pnet"]["nms_per_level"] == {"iou": params.NMS_PER_SCALE, "mode": "union"}
    assert det["onet"]["nms"] == {"iou": params.NMS_OUTPUT, "mode": "min"}
    assert det["min_face"]["live"] == params.LIVE_MIN_FACE
    assert (det["rnet"]["size"], det["onet"]["size"]) == (params.RNET_SIZE, params.ONET_SIZE)
    assert manifest["crop"]["margin_fraction_of_longer_side"] == MARGIN_FRACTION
    assert loop["face_finder"]["min_face_size"] == config.min_face_size
    assert loop["face_finder"]["min_size_fraction"] == live.MIN_SIZE_FRACTION
    assert loop["tracking"]["refresh_every"] == live.REFRESH_EVERY
    assert loop["tracking"]["min_iou"] == live.TRACK_MIN_IOU
    assert loop["dark_frame"]["percentile"] == live.DARK_PERCENTILE
    assert loop["dark_frame"]["too_dark_below"] == config.dark_threshold
    assert loop["lighting_gate"]["max_side_light"] == MAX_SIDE_LIGHT
    assert loop["lighting_gate"]["inner_cols"] == list(INNER_COLS)
    assert loop["lighting_gate"]["eps"] == SIDE_LIGHT_EPS
    assert (decision["k"], decision["n"], decision["threshold"]) == (config.k, config.n, 0.5)
    assert decision["timeout_s"] == config.timeout_s
    assert decision["head"]["tight_pairwise"] == TIGHT_PAIRWISE
    assert manifest["liveness"]["params"]["min_parallax"] > 0
    # one source for the calibrated false-accept rate: the weights' metadata
    assert manifest["calibrated_far"] == load_weights()[1]["calibration"]["far"]


def test_readme_states_the_calibrated_far_of_the_weights_metadata():
    from faceunlock.models.unlock_head.scorer import load_weights

    far = load_weights()[1]["calibration"]["far"]
    stated = f"{far:.1e}".replace("e-0", "e-")  # 4.9e-6
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert f"metadata states {stated}" in readme


def test_web_export_without_onnxruntime_web_names_the_npm_command(tmp_path):
    from faceunlock.export.web import ort_web_dir
    from faceunlock.unlock.errors import FaceUnlockError

    with pytest.raises(FaceUnlockError, match="npm ci --prefix"):
        ort_web_dir(tmp_path)
