"""Profiles: HMAC under a per-install key, 0600 files, tamper/swap refusal, atomic writes."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from faceunlock.enroll.profile import KEY_BYTES, Profile, ProfileStore
from faceunlock.unlock import media
from faceunlock.unlock.errors import FaceUnlockError


def make_profile(name: str, seed: int, rows: int = 5) -> Profile:
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(rows, 512)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return Profile(name=name, embeddings=emb, weights_sha256="ab" * 32, source=f"seed {seed}")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_round_trip_and_private_files(home):
    store = ProfileStore()
    assert not store.key_path.exists()
    alice = make_profile("alice", 1)
    path = store.save(alice)
    loaded = store.load("alice")
    assert np.array_equal(loaded.embeddings, alice.embeddings)
    assert loaded.name == "alice" and loaded.source == "seed 1"
    assert mode(path) == 0o600 and mode(store.key_path) == 0o600
    assert len(bytes.fromhex(store.key_path.read_text().strip())) == KEY_BYTES
    assert "mac" in json.loads(path.read_text())
    assert store.names() == ["alice"]
    assert [p.name for p in store.load_all()] == ["alice"]
    # the key is made once: a second save keeps it
    key = store.key_path.read_bytes()
    store.save(make_profile("bob", 2))
    assert store.key_path.read_bytes() == key
    assert store.names() == ["alice", "bob"]
    assert not list(store.folder.glob(".tmp-*"))


def test_two_installs_have_different_keys(tmp_path):
    a, b = ProfileStore(tmp_path / "a"), ProfileStore(tmp_path / "b")
    a.save(make_profile("alice", 1))
    b.save(make_profile("alice", 1))
    assert a.secret_key() != b.secret_key()
    # a profile copied from another install is refused
    b.path("alice").write_bytes(a.path("alice").read_bytes())
    with pytest.raises(FaceUnlockError, match="integrity check"):
        b.load("alice")


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(appearances=d["appearances"] + 1),
        lambda d: d.update(source="somewhere else"),
        lambda d: d.update(name="bob"),
        lambda d: d.update(embeddings=d["embeddings"][:-8] + "AAAAAAA="),
        lambda d: d["extra"].update(note="added"),
        lambda d: d.update(mac="0" * 64),
    ],
    ids=["appearances", "source", "name", "embeddings", "extra", "mac"],
)
def test_tampered_profile_is_refused(home, edit):
    store = ProfileStore()
    path = store.save(make_profile("alice", 1))
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(FaceUnlockError, match="integrity check.*enrol again"):
        store.load("alice")


def test_profile_renamed_to_another_user_is_refused(home):
    """An attacker copying their own (valid) profile over the owner's file gains nothing."""
    store = ProfileStore()
    store.save(make_profile("owner", 1))
    store.save(make_profile("mallory", 2))
    store.path("owner").write_bytes(store.path("mallory").read_bytes())
    with pytest.raises(FaceUnlockError, match="integrity check"):
        store.load("owner")
    # and a rename to a new user name is refused too
    store.path("mallory").rename(store.folder / "eve.json")
    with pytest.raises(FaceUnlockError, match="integrity check"):
        store.load("eve")


def test_profile_without_mac_or_key(home):
    store = ProfileStore()
    path = store.save(make_profile("alice", 1))
    data = json.loads(path.read_text())
    del data["mac"]
    path.write_text(json.dumps(data))
    with pytest.raises(FaceUnlockError, match="no integrity code"):
        store.load("alice")
    store.save(make_profile("alice", 1))
    store.key_path.unlink()
    with pytest.raises(FaceUnlockError, match="secret key .* is missing"):
        store.load("alice")


def test_key_readable_by_others_is_refused(home):
    store = ProfileStore()
    store.save(make_profile("alice", 1))
    os.chmod(store.key_path, 0o644)
    with pytest.raises(FaceUnlockError, match="chmod 600"):
        store.load("alice")


def test_corrupt_key_is_refused(home):
    store = ProfileStore()
    store.save(make_profile("alice", 1))
    store.key_path.write_text("not hex\n")
    os.chmod(store.key_path, 0o600)
    with pytest.raises(FaceUnlockError, match="secret key .* is corrupt"):
        store.load("alice")


@pytest.mark.parametrize(
    "content", [b"", b"\x00\xff" * 50, b"{", b"[1, 2]", b"null", b'{"mac": 3}', b"[" * 100000]
)
def test_corrupt_profile_files_give_clear_errors(home, content):
    store = ProfileStore()
    store.save(make_profile("alice", 1))
    store.path("alice").write_bytes(content)
    with pytest.raises(FaceUnlockError, match="alice"):
        store.load("alice")


def test_symlinked_or_special_profile_is_refused(home, tmp_path):
    store = ProfileStore()
    store.save(make_profile("alice", 1))
    target = tmp_path / "elsewhere.json"
    target.write_bytes(store.path("alice").read_bytes())
    store.path("alice").unlink()
    store.path("alice").symlink_to(target)
    with pytest.raises(FaceUnlockError, match="cannot be read|not a regular file"):
        store.load("alice")
    store.path("alice").unlink()
    os.mkfifo(store.path("alice"))  # reading a fifo would block forever
    with pytest.raises(FaceUnlockError, match="not a regular file"):
        store.load("alice")


def test_unknown_user_and_bad_names(home):
    store = ProfileStore()
    store.save(make_profile("alice", 1))
    with pytest.raises(FaceUnlockError, match="unknown user 'bob'.*enrolled: alice"):
        store.load("bob")
    for bad in ["../alice", "", ".hidden", "a/b", "x" * 65, "tab\tname"]:
        with pytest.raises(FaceUnlockError, match="invalid user name"):
            store.load(bad)
    (store.folder / "not a user.json").write_text("{}")
    assert store.names() == ["alice"]


def test_failed_write_leaves_previous_profile(home, monkeypatch):
    store = ProfileStore()
    store.save(make_profile("alice", 1))
    before = store.path("alice").read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.save(make_profile("alice", 2))
    monkeypatch.undo()
    assert store.path("alice").read_bytes() == before
    assert not list(store.folder.glob(".tmp-*"))
    (store.snapshot_folder("alice")).mkdir(parents=True)
    (store.snapshot_folder("alice") / "0.png").write_bytes(b"face")
    store.remove("alice")
    assert store.names() == []
    assert not store.snapshot_folder("alice").exists()  # no face crops left behind


SAVER = """
import sys
import numpy as np
from faceunlock.enroll.profile import Profile, ProfileStore
store = ProfileStore(sys.argv[1])
rows = int(sys.argv[2])
profiles = [
    Profile("owner", np.full((rows, 512), v, np.float32), "ab" * 32, source=f"version {v}")
    for v in (1.0, 2.0)
]
i = 0
while True:
    store.save(profiles[i % 2])
    if i == 0:
        print("saved", flush=True)
    i += 1
"""


def _start_saver(home: Path, rows: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SAVER, str(home), str(rows)],
        stdout=subprocess.PIPE,
        cwd=home.parent,
    )


def test_sigkill_during_saves_leaves_a_valid_profile(tmp_path):
    """Children saving in a loop are killed at random moments; the profile always loads."""
    rng = random.Random(12)
    home = tmp_path / "home"
    store = ProfileStore(home)
    kills = 0
    for round_ in range(8):
        child = _start_saver(home, rows=rng.choice([20, 400]))
        try:
            if round_ == 0:
                time.sleep(rng.uniform(0.0, 0.4))  # may die while creating the key
            else:
                assert child.stdout.readline().strip() == b"saved"
                time.sleep(rng.uniform(0.0, 0.3))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        kills += child.returncode == -signal.SIGKILL
        if not store.exists("owner"):
            assert round_ == 0
            continue
        profile = store.load("owner")
        value = float(profile.embeddings[0, 0])
        assert value in (1.0, 2.0) and profile.source == f"version {value:.1f}"
        assert np.all(profile.embeddings == value)
        assert mode(store.path("owner")) == 0o600
    assert kills == 8
    assert store.names() == ["owner"]  # leftover temporaries are never taken for users


def _image_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")]


def test_no_face_image_is_stored_unless_asked(home, pipeline, monkeypatch, capsys):
    """`enroll` keeps embeddings only; `--save-snapshots` keeps owner-only face crops."""
    import faceunlock.unlock.pipeline.runtime
    from faceunlock.unlock.cli import main

    monkeypatch.setattr(
        faceunlock.unlock.pipeline.runtime, "load_pipeline", lambda *a, **k: pipeline
    )
    photo = str(media.photo_path("lin-manuel-miranda"))
    assert main(["enroll", "lin", "--source", photo, "--quiet"]) == 0
    assert _image_files(home) == []
    assert main(["enroll", "lin2", "--source", photo, "--quiet", "--save-snapshots"]) == 0
    snaps = _image_files(home)
    assert len(snaps) == 1 and snaps[0].parent == home / "snapshots" / "lin2"
    assert mode(snaps[0]) == 0o600 and mode(snaps[0].parent) == 0o700
    import cv2

    assert cv2.imread(str(snaps[0])).shape == (160, 160, 3)
    assert ProfileStore().names() == ["lin", "lin2"]
