"""The CLI forgives typos: the nearest command is named, `enrol` works, `users` lists."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from faceunlock.enroll.profile import Profile, ProfileStore
from faceunlock.unlock.cli import main


@pytest.mark.parametrize(
    "argv, suggestion",
    [
        (["unlok"], "faceunlock unlock"),
        (["user"], "faceunlock users"),
        (["--home", "x", "verfy"], "faceunlock verify"),
    ],
)
def test_a_mistyped_command_names_the_nearest_one(capsys, argv, suggestion):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"did you mean `{suggestion}`" in err[0]


def test_enrol_is_enroll_and_a_bare_users_lists(home, capsys):
    assert main(["enrol", "a", "--source", "missing.png", "--quiet"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["users"]) == 0
    assert "no users enrolled" in capsys.readouterr().out


class _Terminal(io.StringIO):
    """Typed answers on a terminal (or, with tty=False, a pipe)."""

    def __init__(self, text: str, tty: bool = True) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def _enrolled(home: Path, name: str = "alice") -> ProfileStore:
    store = ProfileStore(home)
    store.save(Profile(name, np.ones((1, 512), np.float32) / 512**0.5, "ab" * 32))
    return store


@pytest.mark.parametrize("answer, removed", [("n\n", False), ("\n", False), ("yes\n", True)])
def test_users_remove_asks_on_a_terminal(home, capsys, monkeypatch, answer, removed):
    store = _enrolled(home)
    monkeypatch.setattr(sys, "stdin", _Terminal(answer))
    code = main(["users", "remove", "alice"])
    out = capsys.readouterr().out
    assert "Remove alice? [y/N]" in out
    assert (code, store.exists("alice")) == ((0, False) if removed else (1, True))


def test_users_remove_without_a_terminal_needs_yes(home, capsys, monkeypatch):
    store = _enrolled(home)
    monkeypatch.setattr(sys, "stdin", _Terminal("y\n", tty=False))
    assert main(["users", "remove", "alice"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pass -y" in err[0] and store.exists("alice")
    assert main(["users", "remove", "alice", "--yes"]) == 0
    assert not store.exists("alice")


def test_home_after_the_command_means_the_same(home, tmp_path, capsys):
    other = tmp_path / "other"
    _enrolled(other, "bob")
    assert main(["users", "list", "--home", str(other)]) == 0
    assert capsys.readouterr().out.startswith("bob ")
    assert main(["users", "list"]) == 0  # $FACEUNLOCK_HOME: nobody there
    assert "no users enrolled" in capsys.readouterr().out
    assert main(["config", "set", "k", "2", "--home", str(other)]) == 0
    assert (other / "config.toml").is_file() and not (home / "config.toml").exists()
    capsys.readouterr()
    assert main(["--home", str(home), "users", "--home", str(other)]) == 0
    assert capsys.readouterr().out.startswith("bob ")


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "-h"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_help_shows_defaults_keys_and_the_home_fallback(capsys):
    text = _help(capsys, "eval", "unlock")
    assert "images each user enrols with (default: 5)" in text
    assert "images an identity needs to be a user (default: 15)" in text
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "config option `runtime` (onnx unless set)" in text
    keys = _help(capsys, "config", "set")
    for key in ("k", "n", "timeout_s", "dark_threshold", "runtime", "liveness", "adaptive"):
        assert f" {key}: " in keys
    assert "brightest 1 % (99th percentile)" in keys
    top = _help(capsys)
    assert "default: $FACEUNLOCK_HOME if set, else the platform's user data directory" in top
    assert "--home" in _help(capsys, "users", "list")
