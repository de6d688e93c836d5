"""`faceunlock config` and the config file: defaults, validation, set/show/reset."""

from __future__ import annotations

import json
import stat
import tomllib

import pytest

from faceunlock.unlock.cli import main
from faceunlock.unlock.config import Config, config_path, load_config, parse_value, validate
from faceunlock.unlock.errors import FaceUnlockError


def test_defaults_when_there_is_no_file(home):
    assert not config_path().exists()
    assert load_config() == Config()


def test_file_values_are_read_and_ints_widen_to_floats(home):
    config_path().write_text("k = 2\nn = 4\ntimeout_s = 5\nliveness = true\n")
    cfg = load_config()
    assert (cfg.k, cfg.n, cfg.timeout_s, cfg.liveness) == (2, 4, 5.0, True)
    assert isinstance(cfg.timeout_s, float)
    assert cfg.lockout_attempts == Config().lockout_attempts


@pytest.mark.parametrize(
    "text, message",
    [
        ("k = ", "not valid TOML"),
        ("k = 6\nn = 5", "k <= n"),
        ("k = 0", "k <= n"),
        ("colour = 'red'", "unknown config option 'colour'"),
        ("k = 2.5", "k must be an integer"),
        ("liveness = 1", "liveness must be true or false"),
        ("timeout_s = 'soon'", "timeout_s must be a number"),
        ("timeout_s = nan", "finite"),
        ("timeout_s = 0", "timeout_s"),
        ("lockout_s = -1", "lockout_s"),
        ("lockout_attempts = 0", "lockout_attempts"),
        ("min_face_size = 5", "min_face_size"),
        ("dark_threshold = 255", "dark_threshold"),
        ("[k]\nx = 1", "k must be an integer"),
    ],
)
def test_bad_files_name_the_problem(home, text, message):
    config_path().write_text(text)
    with pytest.raises(FaceUnlockError, match=message) as info:
        load_config()
    assert str(config_path()) in str(info.value)
    assert "\n" not in str(info.value)


def test_binary_file_is_a_clear_error(home):
    config_path().write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(FaceUnlockError, match="not valid TOML"):
        load_config()


@pytest.mark.parametrize(
    "key, text, value",
    [("k", "4", 4), ("timeout_s", "2.5", 2.5), ("liveness", "on", True), ("liveness", "No", False)],
)
def test_parse_value(key, text, value):
    assert parse_value(key, text) == value


@pytest.mark.parametrize(
    "key, text", [("k", "4.0"), ("k", "four"), ("liveness", "maybe"), ("nope", "1")]
)
def test_parse_value_refuses(key, text):
    with pytest.raises(FaceUnlockError):
        parse_value(key, text)


def test_validate_keeps_every_field():
    cfg = validate({"min_face_size": 100, "dark_threshold": 10})
    assert cfg.min_face_size == 100 and cfg.dark_threshold == 10.0 and cfg.k == Config().k


def test_cli_show_set_reset(home, capsys):
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert str(config_path()) in out and "not created yet" in out
    for key in ("k", "n", "timeout_s", "lockout_attempts", "lockout_s", "min_face_size"):
        assert key in out

    assert main(["config", "set", "liveness", "yes"]) == 0
    assert main(["config", "set", "k", "4"]) == 0
    assert main(["config", "set", "timeout_s", "20"]) == 0
    capsys.readouterr()
    assert tomllib.loads(config_path().read_text()) == {
        "liveness": True,
        "k": 4,
        "timeout_s": 20.0,
    }
    assert stat.S_IMODE(config_path().stat().st_mode) == 0o600
    cfg = load_config()
    assert (cfg.liveness, cfg.k, cfg.timeout_s) == (True, 4, 20.0)

    assert main(["config", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config"]["k"] == 4 and shown["path"] == str(config_path())

    assert main(["config", "reset", "k"]) == 0
    assert load_config().k == Config().k and load_config().liveness is True
    assert main(["config", "reset"]) == 0
    assert not config_path().exists() and load_config() == Config()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["config", "set", "k", "9"], "k <= n"),
        (["config", "set", "k", "x"], "k must be an integer"),
        (["config", "set", "speed", "1"], "unknown config option 'speed'"),
        (["config", "set", "timeout_s", "inf"], "finite"),
        (["config", "reset", "speed"], "unknown config option"),
    ],
)
def test_cli_refuses_bad_values_and_writes_nothing(home, capsys, argv, message):
    assert main(["config", "set", "n", "6"]) == 0
    before = config_path().read_bytes()
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert config_path().read_bytes() == before


def test_cli_reports_a_broken_file(home, capsys):
    config_path().write_text("k = [")
    assert main(["config"]) == 2
    err = capsys.readouterr().err
    assert "not valid TOML" in err and "config reset" in err
    assert main(["config", "reset"]) == 0
    assert main(["config"]) == 0
