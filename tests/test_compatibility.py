"""Every job that scores a profile refuses one enrolled with other networks."""

from __future__ import annotations

import numpy as np
import pytest

from faceunlock.enroll.profile import Profile, ProfileStore, require_compatible
from faceunlock.models.unlock_head.scorer import (
    FILE_SHA256_OF_NETWORK,
    UnlockScorer,
    load_weights,
    network_sha256,
)
from faceunlock.unlock.cli import main
from faceunlock.unlock.errors import FaceUnlockError


@pytest.fixture()
def patched(pipeline, monkeypatch, home):
    monkeypatch.setattr(
        "faceunlock.unlock.pipeline.runtime.load_pipeline", lambda *a, **k: pipeline
    )
    return pipeline


def _save(name: str, weights: str, unlock_net: str | None) -> None:
    emb = np.zeros((1, 512), np.float32)
    emb[0, 0] = 1.0
    extra = {} if unlock_net is None else {"unlock_net_sha256": unlock_net}
    ProfileStore().save(Profile(name, emb, weights, extra=extra))


def test_require_compatible():
    profile = Profile("a", np.zeros((1, 512), np.float32), "w1", extra={"unlock_net_sha256": "n1"})
    assert require_compatible(profile, "w1", "n1") is profile
    assert require_compatible(profile, "w1") is profile  # the caller names no network
    with pytest.raises(FaceUnlockError, match="other embedding weights"):
        require_compatible(profile, "w2", "n1")
    with pytest.raises(FaceUnlockError, match="another unlock network"):
        require_compatible(profile, "w1", "n2")


def test_network_hash_ignores_metadata(tmp_path):
    arrays, meta = load_weights()
    edited = tmp_path / "unlock_net.npz"
    np.savez(edited, meta=np.array('{"note": "a new measurement"}'), **arrays)
    assert UnlockScorer(edited).network_sha256 == UnlockScorer().network_sha256
    changed = dict(arrays, k_offset=arrays["k_offset"] + np.float32(0.01))
    assert network_sha256(changed) != network_sha256(arrays)
    renamed = {("x" + k if k == "b0" else k): v for k, v in arrays.items()}
    assert network_sha256(renamed) != network_sha256(arrays)


def test_profiles_recording_a_file_hash_of_the_same_network_still_score():
    shipped = UnlockScorer().network_sha256
    profile = Profile("a", np.zeros((1, 512), np.float32), "w1")
    for file_hash, arrays_hash in FILE_SHA256_OF_NETWORK.items():
        profile.extra["unlock_net_sha256"] = file_hash
        if arrays_hash == shipped:
            assert require_compatible(profile, "w1", shipped) is profile
        else:
            with pytest.raises(FaceUnlockError, match="another unlock network"):
                require_compatible(profile, "w1", shipped)


@pytest.mark.parametrize("command", ["verify", "unlock"])
def test_verify_and_unlock_refuse_other_weights(patched, lfw_fixtures, capsys, command):
    photo = str(lfw_fixtures / "Colin_Powell/Colin_Powell_0001.jpg")
    _save("old", "0" * 64, None)
    _save("oldnet", patched.weights_sha256, "0" * 64)
    _save("fine", patched.weights_sha256, UnlockScorer().network_sha256)
    for user, message in (("old", "other embedding weights"), ("oldnet", "another unlock")):
        argv = (
            ["verify", "--user", user, photo]
            if command == "verify"
            else ["unlock", "--user", user, "--source", photo, "--no-window"]
        )
        assert main(argv) == 2
        assert message in capsys.readouterr().err
    argv = ["verify", "--user", "fine", photo]
    assert main(argv) in (0, 1)  # a verdict
