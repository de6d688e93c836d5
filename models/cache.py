"""Where converted weights, exported networks and embedding caches live."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "faceunlock"


def cache_dir() -> Path:
    """The cache directory: $FACEUNLOCK_CACHE, else the platform's user cache dir."""
    env = os.environ.get("FACEUNLOCK_CACHE")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
