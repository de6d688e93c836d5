"""faceunlock: on-device face unlock (the pipeline, the unlock loop and the CLI)."""

__version__ = "0.1.0"
