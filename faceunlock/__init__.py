"""faceunlock: on-device face unlock.

The repository's folders install as subpackages of this one: `faceunlock.models` (the
networks), `faceunlock.unlock` (pipeline, live app, commands, evaluation),
`faceunlock.enroll` (enrolment and profiles) and `faceunlock.export` (ONNX bundles).
"""

__version__ = "0.1.0"
