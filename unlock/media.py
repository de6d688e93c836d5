"""The media bundled with faceunlock (`unlock/data`): a short stage clip and two photos.

The demo, the benchmarks, the int8 calibration and the tests read them through this module
only. The clip (640 x 360, 275 frames) shows Lin-Manuel Miranda and Alex Lacamoire; each
has an enrolment photo. `CLIP_SEGMENTS` is the clip's hand-made annotation.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"
CLIP = DATA_DIR / "short_hamilton_clip.mp4"
PEOPLE = {"lin-manuel-miranda": "Lin-Manuel Miranda", "alex-lacamoire": "Alex Lacamoire"}
OWNER = "lin-manuel-miranda"  # the man who faces the camera in the clip
# What the clip shows, annotated by eye frame by frame (0-based, inclusive).
CLIP_SEGMENTS = [
    (0, 19, None, "wide shot: Lin-Manuel on stage and Alex at the piano, faces under 60 px"),
    (20, 49, "alex-lacamoire", "Alex Lacamoire close up, in profile"),
    (50, 81, None, "dim audience; Alex's profile at the edge"),
    (82, 210, "lin-manuel-miranda", "Lin-Manuel Miranda faces the camera"),
    (211, 274, None, "audience"),
]


def photo_path(person: str) -> Path:
    """The bundled enrolment photo of `person` (a key of PEOPLE)."""
    return DATA_DIR / f"{person}.png"


def photo_paths() -> list[Path]:
    """Every bundled photo, in PEOPLE's order."""
    return [photo_path(person) for person in PEOPLE]


def clip_frames(every: int = 1, first: int = 0, last: int | None = None) -> list[np.ndarray]:
    """Every `every`-th frame (BGR) of the clip, from frame `first` to `last` (inclusive)."""
    frames = []
    capture = cv2.VideoCapture(str(CLIP))
    index = 0
    try:
        while last is None or index <= last:
            ok, frame = capture.read()
            if not ok:
                break
            if index >= first and index % every == 0:
                frames.append(frame)
            index += 1
    finally:
        capture.release()
    return frames


def facing_frames(person: str) -> set[int]:
    """Frames of the clip where `person` faces the camera."""
    return {
        i
        for start, end, who, what in CLIP_SEGMENTS
        if who == person and "faces the camera" in what
        for i in range(start, end + 1)
    }
