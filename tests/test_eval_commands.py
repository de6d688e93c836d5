"""`faceunlock eval ...` on small sets built from the committed fixtures, as a user runs it:
every identity a user, symlinked folders, a 2-fold pairs file, errors that agree."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from faceunlock.unlock.cli import main

TWO_MEN = ("Colin_Powell", "Tony_Blair")  # 8 images each


@pytest.fixture()
def own_cache(tmp_path, monkeypatch):
    """Embeddings of the tiny sets go to the test's folder, not the user's cache."""
    from faceunlock.unlock.lab import embedding_store

    monkeypatch.setattr(embedding_store, "cache_dir", lambda: tmp_path / "cache")


def _eval_unlock(data: Path, out: Path, *more: str) -> int:
    return main(
        ["eval", "unlock", "--data", str(data), "--min-images", "4", "--enroll", "2"]
        + ["--quiet", "--json", str(out), *more]
    )


def test_eval_unlock_where_every_identity_is_a_user(lfw_fixtures, tmp_path, own_cache, capsys):
    """Two men, both users: each is the other's impostor (no "no impostor identities")."""
    data = tmp_path / "faces"
    for name in TWO_MEN:
        shutil.copytree(lfw_fixtures / name, data / name)
    out = tmp_path / "figures.json"
    assert _eval_unlock(data, out, "--attempt-frames", "3") == 0, capsys.readouterr().err
    r = json.loads(out.read_text())
    roles = r["roles"]
    assert roles["users"] == list(TWO_MEN) and roles["users_as_impostors"] == list(TWO_MEN)
    assert roles["impostors_not_users"] == [] and roles["counts"]["users"] == 2
    assert r["genuine_attempts"] == 12  # 6 each after enrolling 2
    # each user against the other's images with a face (at most 8)
    assert 0 < r["impostor_comparisons"] == r["impostor_comparisons_from_users"] <= 16
    assert r["attempts"]["impostor_attempts"] == 4  # 2 chunks of 3 of the other man, each
    pooled = r["attempts"]["pooled"]  # the mean-embedding measurement, over the same attempts
    assert pooled["false_accepts"] == 0 and 0 <= pooled["frr"] <= 1
    assert set(pooled["frr_at_attempt_far"]) == set(r["attempts"]["frr_at_attempt_far"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"{r['impostor_comparisons']} impostor comparisons" in text


def test_eval_unlock_on_symlinked_identity_folders(lfw_fixtures, tmp_path, own_cache, capsys):
    """A data set made of links to the images' real folders (and a linked root) works."""
    data = tmp_path / "linked"
    data.mkdir()
    for folder in lfw_fixtures.iterdir():
        (data / folder.name).symlink_to(folder.resolve(), target_is_directory=True)
    (tmp_path / "root-link").symlink_to(data, target_is_directory=True)
    out = tmp_path / "figures.json"
    assert _eval_unlock(tmp_path / "root-link", out) == 0, capsys.readouterr().err
    r = json.loads(out.read_text())
    assert r["roles"]["impostors_not_users"] == ["Gerhard_Schroeder", "Jennifer_Aniston"]
    assert r["impostor_comparisons_from_others"] > 0


def test_eval_lfw_says_how_many_folds_it_used(lfw_fixtures, tmp_path, own_cache, capsys):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(
        "2\t1\nColin_Powell\t1\t2\nColin_Powell\t3\tTony_Blair\t1\n"
        "Tony_Blair\t2\t3\nGerhard_Schroeder\t1\tJennifer_Aniston\t1\n"
    )
    argv = ["eval", "lfw", "--data", str(lfw_fixtures), "--pairs", str(pairs), "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "LFW 2-fold accuracy" in out and "10-fold" not in out


@pytest.mark.parametrize("benchmark", [["unlock", "--data"], ["liveness", "--lfw"]])
def test_eval_errors_name_both_layouts_the_help_names(tmp_path, capsys, benchmark):
    """The error says what the help says: DIR/<Name>/*.jpg or DIR/images/<Name>/*.jpg."""
    assert main(["eval", *benchmark, str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "DIR/<Name>/*.jpg" in err and "DIR/images/<Name>/*.jpg" in err
    with pytest.raises(SystemExit):
        main(["eval", benchmark[0], "-h"])
    assert "DIR/images/<Name>/*.jpg" in capsys.readouterr().out


def test_training_on_a_missing_folder_is_a_one_line_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "faceunlock.unlock.lab.train_unlock_net", "--data", "/no/such"]
        + ["--out", str(tmp_path / "net.npz")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "/no/such: no such folder" in lines[0], done.stderr
