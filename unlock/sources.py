"""Where frames come from: a camera index, a video file, a folder of images or a stream URL.

`open_source(spec)` returns a `FrameSource`; `read()` gives the next BGR frame or None at
the end. Cameras and streams that stop delivering frames are retried briefly, then a
FaceUnlockError says so; a missing or busy camera is a FaceUnlockError at once.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from faceunlock.unlock.errors import FaceUnlockError
from faceunlock.unlock.images import IMAGE_SUFFIXES, list_images, load_image

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
FOLDER_FPS = 30.0  # nominal frame rate of a folder of images played as frames
RETRY_S = 1.0  # how long a live source may stall before we give up


class FrameSource:
    """Frames from a cv2.VideoCapture (camera, file or stream) or from a list of images."""

    def __init__(
        self,
        name: str,
        capture: cv2.VideoCapture | None = None,
        images: list[Path] | None = None,
        live: bool = False,
        retry_s: float = RETRY_S,
    ) -> None:
        self.name = name
        self.capture = capture
        self.images = images
        self.live = live  # camera or stream: wall-clock time, stalls are retried
        self.retry_s = retry_s
        self.index = 0
        self._pending: np.ndarray | None = None
        fps = capture.get(cv2.CAP_PROP_FPS) if capture is not None else FOLDER_FPS
        self.fps = float(fps) if fps and 1 <= fps <= 240 else 30.0

    @property
    def frame_count(self) -> int:
        """Frames in a file or folder (0 when unknown: cameras, streams, some videos)."""
        if self.images is not None:
            return len(self.images)
        if self.live:
            return 0
        return max(int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)

    def skip(self) -> bool:
        """Pass over the next frame without decoding it; False at the end."""
        if self._pending is not None:
            self._pending = None
        elif self.images is not None:
            if self.index >= len(self.images):
                return False
        elif not self.capture.grab():
            return False
        self.index += 1
        return True

    def read(self) -> np.ndarray | None:
        """The next BGR frame; None when a file or folder ends.

        An unreadable image of a folder raises FaceUnlockError and is passed over: the next
        `read` gives the image after it.
        """
        if self.images is not None and self._pending is None:
            if self.index >= len(self.images):
                return None
            self.index += 1
            return load_image(self.images[self.index - 1])
        if self._pending is not None:
            frame, self._pending = self._pending, None
            self.index += 1
            return frame
        ok, frame = self.capture.read()
        if ok and frame is not None and frame.size:
            self.index += 1
            return frame
        if not self.live:
            return None
        deadline = time.monotonic() + self.retry_s
        while time.monotonic() < deadline:
            time.sleep(0.05)
            ok, frame = self.capture.read()
            if ok and frame is not None and frame.size:
                self.index += 1
                return frame
        raise FaceUnlockError(
            f"{self.name} stopped sending frames (nothing for {self.retry_s:.0f} s after "
            f"{self.index} frames): check the cable or whether another program took it"
        )

    def peek(self) -> np.ndarray | None:
        """The next frame without consuming it."""
        if self._pending is None:
            frame = self.read()
            if frame is None:
                return None
            self.index -= 1
            self._pending = frame
        return self._pending

    def expect_first_frame(self) -> None:
        """Wait briefly for a first frame of a live source (a busy camera opens but is mute)."""
        deadline = time.monotonic() + max(self.retry_s, 2.0)
        while time.monotonic() < deadline:
            ok, frame = self.capture.read()
            if ok and frame is not None and frame.size:
                self._pending = frame
                return
            time.sleep(0.05)
        self.close()
        raise FaceUnlockError(f"{self.name} opened but sends no frames (busy in another program?)")

    def close(self) -> None:
        if self.capture is not None:
            self.capture.release()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open_capture(target: int | str, api: int = cv2.CAP_ANY) -> cv2.VideoCapture | None:
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # we say it better
    try:
        capture = cv2.VideoCapture(target, api)
    finally:
        cv2.utils.logging.setLogLevel(previous)
    if not capture.isOpened():
        capture.release()
        return None
    return capture


def open_source(spec: str | int, retry_s: float = RETRY_S) -> FrameSource:
    """A frame source for SRC: camera index, video file, image folder, image or stream URL."""
    spec = str(spec).strip()
    if spec.isdigit():
        index = int(spec)
        capture = _open_capture(index)
        if capture is None:
            raise FaceUnlockError(
                f"camera {index} is not available (missing, busy in another program, or no "
                "permission to open it); use --source with another camera index, a video "
                "file or a folder of images"
            )
        source = FrameSource(f"camera {index}", capture=capture, live=True, retry_s=retry_s)
        source.expect_first_frame()
        return source
    if "://" in spec:
        capture = _open_capture(spec)
        if capture is None:
            raise FaceUnlockError(f"cannot open the stream {spec}: check the URL and network")
        return FrameSource(spec, capture=capture, live=True, retry_s=retry_s)
    path = Path(spec).expanduser()
    if not path.exists():
        raise FaceUnlockError(
            f"{spec}: no such file or folder (SRC is a camera index, a video file, a folder "
            "of images or a stream URL)"
        )
    if not path.is_dir() and not path.is_file():
        raise FaceUnlockError(f"{spec}: not a regular file or folder (a fifo or device?)")
    if path.is_dir():
        images = list_images(path)
        if not images:
            raise FaceUnlockError(f"{path}: the folder has no images ({', '.join(IMAGE_SUFFIXES)})")
        return FrameSource(str(path), images=images)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return FrameSource(str(path), images=[path])
    capture = _open_capture(str(path))
    if capture is None:
        raise FaceUnlockError(f"{path}: not a video OpenCV can read")
    return FrameSource(str(path), capture=capture)
