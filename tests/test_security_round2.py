"""Security fixes: names, empty users, timeouts, a lost key, added appearances, racing counts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from faceunlock.enroll.enrolment import enrol
from faceunlock.enroll.profile import Profile, ProfileStore, check_user_name
from faceunlock.unlock import media
from faceunlock.unlock.app.lockout import Lockout
from faceunlock.unlock.cli import main
from faceunlock.unlock.errors import FaceUnlockError

DATA = media.DATA_DIR


def _profile(name: str) -> Profile:
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(3, 512)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return Profile(name=name, embeddings=emb, weights_sha256="ab" * 32)


@pytest.mark.parametrize("name", ["A\n", "a b", "", ".", "x" * 65])
def test_user_names_must_match_in_full(name):
    with pytest.raises(FaceUnlockError, match="invalid user name"):
        check_user_name(name)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["unlock", "--user", "", "--source", "x.mp4"], "invalid user name"),
        (["unlock", "--timeout", "nan", "--source", "x.mp4"], "--timeout must be"),
        (["unlock", "--timeout", "inf", "--source", "x.mp4"], "--timeout must be"),
        (["unlock", "--timeout", "1e-300", "--source", "x.mp4"], "--timeout must be"),
        (["verify", "--user", "a", "--threads", "99999999999", "x.png"], "--threads must be"),
    ],
)
def test_bad_options_are_refused_in_one_line(home, capsys, argv, message):
    ProfileStore().save(_profile("a"))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_lost_key_is_not_silently_replaced_while_profiles_exist(home):
    store = ProfileStore()
    store.save(_profile("a"))
    store.key_path.unlink()
    with pytest.raises(FaceUnlockError, match="missing while profiles exist"):
        store.save(_profile("b"))
    assert not store.key_path.exists()


def test_an_added_appearance_must_be_the_same_person(home, pipeline, monkeypatch):
    monkeypatch.setattr(
        "faceunlock.unlock.pipeline.runtime.load_pipeline", lambda *a, **k: pipeline
    )
    store = ProfileStore()
    enrol(pipeline, str(DATA / "lin-manuel-miranda.png"), "lin", store=store, progress=False)
    before = store.path("lin").read_bytes()
    with pytest.raises(FaceUnlockError, match="does not match lin's profile"):
        enrol(
            pipeline,
            str(DATA / "alex-lacamoire.png"),
            "lin",
            add=True,
            store=store,
            progress=False,
        )
    assert store.path("lin").read_bytes() == before


def test_concurrent_failures_are_all_counted(tmp_path):
    script = (
        "import sys; from faceunlock.unlock.app.lockout import Lockout\n"
        "lockout = Lockout(sys.argv[1], attempts=10_000)\n"
        "for _ in range(25): lockout.record_failure()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=tmp_path)
        for _ in range(4)
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    assert Lockout(tmp_path, attempts=10_000).failures == 100


def test_export_refuses_unsafe_output_folders(home, tmp_path, capsys):
    ProfileStore().save(_profile("a"))
    (tmp_path / "file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "foo.onnx").write_text("x")
    for out, message in (
        (home / "profiles", "inside the data directory"),
        (tmp_path / "file", "is a file"),
        (tmp_path / "full", "not empty"),
    ):
        assert main(["export", "--user", "a", "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]
    assert (tmp_path / "full" / "foo.onnx").read_text() == "x"


def test_bundles_are_private_and_replaced_whole(tmp_path):
    from faceunlock.export.cli import checked_out_dir, write_bundle_atomically

    out = checked_out_dir(tmp_path / "bundle", tmp_path / "home", force=False)

    def build(folder: Path) -> dict:
        (folder / "unlock.onnx").write_bytes(b"template")
        return {"ok": True}

    assert write_bundle_atomically(out, build) == {"ok": True}
    assert (out.stat().st_mode & 0o777) == 0o700
    assert ((out / "unlock.onnx").stat().st_mode & 0o777) == 0o600

    def broken(folder: Path) -> dict:
        (folder / "half.onnx").write_bytes(b"x")
        raise FaceUnlockError("export failed")

    with pytest.raises(FaceUnlockError):
        write_bundle_atomically(checked_out_dir(out, tmp_path / "home", force=True), broken)
    assert sorted(p.name for p in out.iterdir()) == ["unlock.onnx"]  # untouched
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_replaced_cached_network_is_exported_again(home, tmp_path, monkeypatch):
    """Once anyone is enrolled, the onnx runtime's cached networks carry a seal signed with
    the install key; a network swapped in the cache is not used."""
    import faceunlock.unlock.pipeline.runtime_models as ort

    ProfileStore().save(_profile("a"))  # creates the install key
    key = ProfileStore().secret_key()
    folder = tmp_path / "models"
    folder.mkdir()
    names = ort.needed_files("fp32")
    exports = []

    def fake_export(command, **kwargs):
        exports.append(command)
        for name in names:
            (folder / name).write_bytes(b"genuine " + name.encode())
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(ort.subprocess, "run", fake_export)
    ort.ensure_runtime_models(folder)
    assert len(exports) == 1 and ort.seal_is_valid(folder, names, key)
    ort.ensure_runtime_models(folder)
    assert len(exports) == 1  # sealed and unchanged: used as is
    (folder / "embedder.onnx").write_bytes(b"accepts everyone")
    assert not ort.seal_is_valid(folder, names, key)
    ort.ensure_runtime_models(folder)
    assert len(exports) == 2
    assert (folder / "embedder.onnx").read_bytes() == b"genuine embedder.onnx"
    assert not ort.seal_is_valid(folder, names, b"another install's key".ljust(32))


def test_a_fifo_is_not_a_source(home, tmp_path, capsys):
    import os

    ProfileStore().save(_profile("a"))
    fifo = tmp_path / "camera.mp4"
    os.mkfifo(fifo)
    for argv in (
        ["unlock", "--user", "a", "--source", str(fifo), "--no-window"],
        ["enroll", "b", "--source", str(fifo), "--quiet"],
    ):
        assert main(argv) == 2  # at once, instead of waiting for a writer for ever
        assert "not a regular file" in capsys.readouterr().err


def test_removing_a_user_never_follows_a_symlinked_snapshot_folder(home, tmp_path):
    store = ProfileStore()
    store.save(_profile("a"))
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    store.snapshot_folder("a").parent.mkdir(parents=True)
    store.snapshot_folder("a").symlink_to(outside)
    store.remove("a")
    assert (outside / "keep.txt").read_text() == "mine"
    assert not store.snapshot_folder("a").exists()


def test_one_damaged_profile_does_not_stop_the_others(home, capsys):
    store = ProfileStore()
    store.save(_profile("a"))
    store.save(_profile("b"))
    store.path("b").write_text("{broken")
    problems: list[str] = []
    assert [p.name for p in store.load_all(problems)] == ["a"]
    assert len(problems) == 1 and problems[0].startswith("b:")
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "a " in out and "b" in out and "unreadable" in out


def test_a_folder_source_stops_reading_when_it_has_enough(home, pipeline, tmp_path):
    import shutil

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(6):
        shutil.copy(DATA / "lin-manuel-miranda.png", folder / f"{i}.png")
    profile = enrol(pipeline, str(folder), "lin", frames=2, progress=False)
    assert profile.extra["appearances"][0]["candidates"] == 2  # not all six
