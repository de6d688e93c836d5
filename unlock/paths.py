"""Where faceunlock keeps its data (profiles, keys, lockout state) and its caches."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from faceunlock.models.cache import APP_NAME, cache_dir

__all__ = ["APP_NAME", "cache_dir", "data_dir"]


def data_dir(home: str | os.PathLike | None = None) -> Path:
    """The data directory: `home`, else $FACEUNLOCK_HOME, else the platform's user data dir."""
    if home is not None:
        return Path(home).expanduser()
    env = os.environ.get("FACEUNLOCK_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def writable_by_others(home: str | os.PathLike | None = None) -> list[Path]:
    """The data directory and its folders that other users may write to (mode g+w/o+w).

    Anyone who can write there can replace a profile's file, delete the lockout counter or
    swap the secret key; faceunlock warns about them.
    """
    root = data_dir(home)
    found = []
    for folder in (root, root / "profiles", root / "locks"):
        try:
            mode = folder.stat().st_mode
        except OSError:
            continue
        if mode & 0o022 and not folder.is_symlink():
            found.append(folder)
    return found
