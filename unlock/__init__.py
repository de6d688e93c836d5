"""The face pipeline (`pipeline`), the live app (`app`), the commands (`commands`, `cli`)
and evaluation and training (`lab`), on shared infrastructure (errors, paths, images,
frame sources, bundled media, config)."""

from faceunlock import __version__

__all__ = ["__version__"]
