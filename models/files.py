"""Atomic file writes: a temporary file beside the target, fsync, rename, fsync the folder.

A process killed at any point leaves either the previous file or the new one, never half
of one. Every file faceunlock writes (profiles, keys, config, lockout state, seals,
converted weights, exported networks, embedding caches) goes through `atomic_path`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

TEMP_PREFIX = ".tmp-"  # temporary files of killed writers start with this


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in `folder` durable (no-op where directories can't be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: Path, mode: int = 0o600, *, exclusive: bool = False) -> Iterator[Path]:
    """A temporary path beside `path` to write to; it becomes `path` when the block ends.

    The file has `mode` from the start. If the block raises, the temporary file is removed
    and `path` is untouched. With `exclusive`, an existing `path` is left alone and
    FileExistsError is raised (the first writer wins).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=path.suffix)
    tmp = Path(name)
    try:
        os.fchmod(fd, mode)
        os.close(fd)
        yield tmp
        _fsync_file(tmp)
        if exclusive:
            os.link(tmp, path)  # fails if path exists
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def write_private_file(path: Path, payload: bytes, *, exclusive: bool = False) -> None:
    """Write `payload` to `path` atomically, mode 0600 (owner only)."""
    with atomic_path(path, 0o600, exclusive=exclusive) as tmp:
        tmp.write_bytes(payload)
