"""Errors a user can act on (defined in `models.errors`, the lowest layer)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

from faceunlock.models.errors import FaceUnlockError, NoFaceError

__all__ = ["FaceUnlockError", "NoFaceError", "run_script"]


def run_script(main: Callable[[], int | None], prog: str) -> NoReturn:
    """Run a `python -m` script's `main`: a FaceUnlockError is one line on stderr and exit
    code 2, as in the `faceunlock` command, not a traceback."""
    try:
        code = main()
    except FaceUnlockError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        code = 2
    raise SystemExit(code)
