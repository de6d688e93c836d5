"""The CLI forgives typos: the nearest command is named, `enrol` works, `users` lists."""

from __future__ import annotations

import pytest

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
