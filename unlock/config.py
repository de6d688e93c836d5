"""Settings of the unlock loop, from `<data dir>/config.toml` (defaults when absent).

`faceunlock config` shows, sets and resets them; every value is validated, here, the
same way whether it comes from the file or the command line.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from faceunlock.unlock.errors import FaceUnlockError
from faceunlock.unlock.paths import data_dir

MAX_CONFIG_BYTES = 64 * 1024
RUNTIMES = ("onnx", "torch")


@dataclass(frozen=True)
class Config:
    """Options of the live unlock loop. See README for what each means."""

    k: int = 3  # unlock when p >= 0.5 on k ...
    n: int = 5  # ... of the last n frames with a face
    timeout_s: float = 10.0  # LOCKED when no unlock within this time
    lockout_attempts: int = 5  # failed attempts before lockout (Android strong biometric)
    lockout_s: float = 30.0  # lockout duration
    min_face_size: int = 80  # px; smaller faces are ignored in live use
    dark_threshold: float = 40.0  # frames whose brightest 1 % (or faces whose mean) is darker
    liveness: bool = False  # ask for a head movement and reject flat pictures
    adaptive: bool = True  # confident unlocks may refresh the profile's adaptive part
    runtime: str = "onnx"  # onnx (onnxruntime, no torch) or torch (the reference)


OPTION_HELP = {
    "k": "unlock when the network says p >= 0.5 on k of the last n frames with a face",
    "n": "window of frames with a face for the k-of-n rule (1 <= k <= n <= 100)",
    "timeout_s": "seconds without an unlock before the attempt ends LOCKED (0 < t <= 3600)",
    "lockout_attempts": "failed attempts in a row before a lockout (1..100)",
    "lockout_s": "seconds a lockout lasts (0..86400)",
    "min_face_size": "faces smaller than this many pixels are ignored (20..1000)",
    "dark_threshold": "grey level: frames whose brightest 1 % (99th percentile) is darker, or "
    "faces whose mean is darker, are skipped as too dark (0..254)",
    "liveness": "ask for a small head movement and refuse flat pictures (true/false)",
    "runtime": "inference runtime when --runtime is not given: onnx (fast, no torch) or "
    "torch (the reference)",
    "adaptive": "after a confident unlock, let the live face refresh the profile's bounded "
    "adaptive part; the enrolled core never changes (true/false)",
}


def config_path(home: str | os.PathLike | None = None) -> Path:
    return data_dir(home) / "config.toml"


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise FaceUnlockError(f"config: {message}")


def validate(values: dict) -> Config:
    """A Config from a dict, or a FaceUnlockError naming the bad option."""
    known = {f.name: f for f in fields(Config)}
    defaults = asdict(Config())
    for key in values:
        if key not in known:
            raise FaceUnlockError(f"unknown config option {key!r}; options: {', '.join(known)}")
    merged = {**defaults, **values}
    for key, value in merged.items():
        expected = type(defaults[key])
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
            merged[key] = value
        if type(value) is not expected:
            kind = {
                "int": "an integer",
                "float": "a number",
                "bool": "true or false",
                "str": "a string",
            }
            raise FaceUnlockError(
                f"config option {key} must be {kind[expected.__name__]}, got {value!r}"
            )
        if expected is float and not math.isfinite(value):
            raise FaceUnlockError(f"config option {key} must be a finite number, got {value!r}")
    cfg = Config(**merged)
    _check(1 <= cfg.k <= cfg.n <= 100, f"need 1 <= k <= n <= 100, got k={cfg.k}, n={cfg.n}")
    _check(0 < cfg.timeout_s <= 3600, f"timeout_s must be in (0, 3600], got {cfg.timeout_s}")
    _check(
        1 <= cfg.lockout_attempts <= 100,
        f"lockout_attempts must be 1..100, got {cfg.lockout_attempts}",
    )
    _check(0 <= cfg.lockout_s <= 86400, f"lockout_s must be 0..86400, got {cfg.lockout_s}")
    _check(
        20 <= cfg.min_face_size <= 1000,
        f"min_face_size must be 20..1000 px, got {cfg.min_face_size}",
    )
    _check(
        0 <= cfg.dark_threshold < 255,
        f"dark_threshold must be 0..254, got {cfg.dark_threshold}",
    )
    _check(cfg.runtime in RUNTIMES, f"runtime must be one of {', '.join(RUNTIMES)}")
    return cfg


def parse_value(key: str, text: str) -> int | float | bool | str:
    """A command-line string turned into the type of option `key` (not yet range-checked)."""
    defaults = asdict(Config())
    if key not in defaults:
        raise FaceUnlockError(f"unknown config option {key!r}; options: {', '.join(defaults)}")
    expected = type(defaults[key])
    word = text.strip().lower()
    if expected is str:
        return word
    if expected is bool:
        if word in ("true", "yes", "on", "1"):
            return True
        if word in ("false", "no", "off", "0"):
            return False
        raise FaceUnlockError(f"config option {key} must be true or false, got {text!r}")
    try:
        return int(word, 10) if expected is int else float(word)
    except ValueError:
        kind = "an integer" if expected is int else "a number"
        raise FaceUnlockError(f"config option {key} must be {kind}, got {text!r}") from None


def read_values(home: str | os.PathLike | None = None) -> dict:
    """The options set in the config file (not merged with defaults, not validated)."""
    path = config_path(home)
    if not path.is_file():
        return {}
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise FaceUnlockError(f"{path}: too large for a config file; fix or delete it")
        values = tomllib.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FaceUnlockError(
            f"{path}: not valid TOML ({exc}); fix it or run `faceunlock config reset`"
        ) from None
    return values


def load_config(home: str | os.PathLike | None = None) -> Config:
    """The config in the data directory, validated; defaults when there is none."""
    values = read_values(home)
    try:
        return validate(values)
    except FaceUnlockError as exc:
        raise FaceUnlockError(
            f"{config_path(home)}: {exc}; fix it with `faceunlock config set` or "
            "`faceunlock config reset`"
        ) from None


def to_toml(values: dict) -> str:
    """TOML text for the set options, each with its description as a comment."""
    lines = ["# faceunlock settings; `faceunlock config` shows the effective values", ""]
    for key, value in values.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, float):
            text = repr(value)
        elif isinstance(value, str):
            text = json.dumps(value)
        else:
            text = str(value)
        lines += [f"# {OPTION_HELP.get(key, '')}", f"{key} = {text}", ""]
    return "\n".join(lines)
