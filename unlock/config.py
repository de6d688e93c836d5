"""Settings of the unlock loop, from `<data dir>/config.toml` (defaults when absent)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from unlock.errors import FaceUnlockError
from unlock.paths import data_dir


@dataclass(frozen=True)
class Config:
    """Options of the live unlock loop. See README for what each means."""

    k: int = 3  # unlock when p >= 0.5 on k ...
    n: int = 5  # ... of the last n frames with a face
    timeout_s: float = 10.0  # LOCKED when no unlock within this time
    lockout_attempts: int = 5  # failed attempts before lockout (Android strong biometric)
    lockout_s: float = 30.0  # lockout duration
    min_face_size: int = 80  # px; smaller faces are ignored in live use
    dark_threshold: float = 40.0  # mean grey level below which a frame is skipped as too dark
    liveness: bool = False  # ask for a head movement and reject flat pictures


def config_path(home: str | os.PathLike | None = None) -> Path:
    return data_dir(home) / "config.toml"


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
            raise FaceUnlockError(f"config option {key} must be {expected.__name__}, got {value!r}")
    cfg = Config(**merged)
    if not 1 <= cfg.k <= cfg.n <= 100:
        raise FaceUnlockError(f"config: need 1 <= k <= n <= 100, got k={cfg.k}, n={cfg.n}")
    if cfg.timeout_s <= 0 or cfg.lockout_s < 0 or cfg.lockout_attempts < 1:
        raise FaceUnlockError("config: timeout_s > 0, lockout_s >= 0, lockout_attempts >= 1")
    if not 20 <= cfg.min_face_size <= 1000:
        raise FaceUnlockError("config: min_face_size must be 20..1000 px")
    if not 0 <= cfg.dark_threshold < 255:
        raise FaceUnlockError("config: dark_threshold must be 0..254")
    return cfg


def load_config(home: str | os.PathLike | None = None) -> Config:
    """The config in the data directory, validated; defaults when there is none."""
    path = config_path(home)
    if not path.is_file():
        return Config()
    try:
        values = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FaceUnlockError(f"{path}: not valid TOML ({exc}); fix or delete it") from None
    return validate(values)
