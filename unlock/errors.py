"""Errors a user can act on (defined in `models.errors`, the lowest layer)."""

from faceunlock.models.errors import FaceUnlockError, NoFaceError

__all__ = ["FaceUnlockError", "NoFaceError"]
