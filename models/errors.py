"""Errors a user can act on: the CLI prints their message and exits with code 2.

Defined here, in the lowest layer, so the networks can raise them too; `unlock.errors`
re-exports them.
"""


class FaceUnlockError(Exception):
    """A problem with the user's input or environment, worded for the user."""


class NoFaceError(FaceUnlockError):
    """No usable face was found in an image."""
