"""The loop's picture: the frame with the face box, landmarks, p bar, state banner and timings.

`draw_overlay` only draws (testable anywhere); `Window` shows it with OpenCV highgui when a
display exists; `Recorder` writes the annotated frames to a video file.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from faceunlock.models.face import Face
from faceunlock.models.unlock_head import THRESHOLD
from faceunlock.unlock.app.live import (
    LOCKED,
    LOCKED_OUT,
    MOVE_HEAD,
    NO_FACE,
    TOO_DARK,
    UNEVEN_LIGHT,
    UNLOCKED,
    FrameResult,
)
from faceunlock.unlock.errors import FaceUnlockError

BANNER_H = 44
BAR_H = 22
# BGR colours of the banner per state
STATE_COLOURS = {
    UNLOCKED: (60, 170, 40),
    LOCKED: (40, 40, 200),
    LOCKED_OUT: (0, 120, 230),
    MOVE_HEAD: (0, 200, 230),
    NO_FACE: (110, 110, 110),
    TOO_DARK: (90, 40, 40),
    UNEVEN_LIGHT: (90, 40, 40),
}
HIT_COLOUR = (60, 200, 40)
MISS_COLOUR = (40, 40, 220)
LANDMARK_COLOUR = (255, 255, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def bar_geometry(width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the p bar at the bottom of a frame of this size."""
    return 10, height - BAR_H - 10, width - 10, height - 10


def _text(image: np.ndarray, text: str, org: tuple[int, int], scale: float, thick: int = 1):
    cv2.putText(image, text, org, FONT, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(image, text, org, FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)


def draw_overlay(
    frame: np.ndarray, result: FrameResult, fps: float | None = None, k: int = 0, n: int = 0
) -> np.ndarray:
    """A copy of the frame with what the loop saw and decided drawn on it."""
    image = np.ascontiguousarray(frame).copy()
    h, w = image.shape[:2]
    hit = result.p is not None and result.p >= THRESHOLD
    if result.face is not None:
        x1, y1, x2, y2 = (int(round(v)) for v in result.face.box)
        cv2.rectangle(image, (x1, y1), (x2, y2), HIT_COLOUR if hit else MISS_COLOUR, 2)
        for x, y in np.asarray(result.face.landmarks).reshape(-1, 2):
            cv2.circle(image, (int(round(x)), int(round(y))), 3, LANDMARK_COLOUR, -1, cv2.LINE_AA)
    # state banner
    cv2.rectangle(image, (0, 0), (w, BANNER_H), STATE_COLOURS[result.state], -1)
    _text(image, result.banner(), (10, 31), 0.9, 2)
    # timings under the banner
    stages = "  ".join(f"{name} {ms:.0f}" for name, ms in result.stage_ms.items())
    info = f"{fps:.1f} fps  " if fps else ""
    info += f"{stages} ms" if stages else ""
    if info:
        _text(image, info, (10, BANNER_H + 20), 0.5)
    # p bar with the threshold's mark
    x0, y0, x1, y1 = bar_geometry(w, h)
    cv2.rectangle(image, (x0, y0), (x1, y1), (40, 40, 40), -1)
    if result.p is not None:
        filled = x0 + int(round((x1 - x0) * float(np.clip(result.p, 0, 1))))
        cv2.rectangle(image, (x0, y0), (filled, y1), HIT_COLOUR if hit else MISS_COLOUR, -1)
    mid = x0 + int((x1 - x0) * THRESHOLD)
    cv2.line(image, (mid, y0 - 6), (mid, y1 + 4), (255, 255, 255), 2)
    cv2.rectangle(image, (x0, y0), (x1, y1), (230, 230, 230), 1)
    label = "p = -" if result.p is None else f"p = {result.p:.2f}"
    if n and result.p is not None:
        label += f"   {result.hits}/{n} (need {k})"
    if result.user and result.p is not None:
        label += f"   {result.user}"
    _text(image, label, (x0, y0 - 8), 0.5)
    return image


def draw_enrolment(
    frame: np.ndarray,
    face: Face | None,
    status: str,
    kept: int,
    wanted: int,
    instruction: str | None,
) -> np.ndarray:
    """A copy of an enrolment frame: the face box, a progress ring around the face (kept
    good frames of those wanted) and the instruction (or the frame's status) on top."""
    image = np.ascontiguousarray(frame).copy()
    h, w = image.shape[:2]
    done = min(1.0, kept / max(wanted, 1))
    if face is not None:
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        colour = HIT_COLOUR if status == "ok" else MISS_COLOUR
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, 1)
        centre = ((x1 + x2) // 2, (y1 + y2) // 2)
        radius = int(0.75 * max(x2 - x1, y2 - y1))
        cv2.circle(image, centre, radius, (70, 70, 70), 6, cv2.LINE_AA)
        if done > 0:
            end = -90 + 360 * done
            cv2.ellipse(image, centre, (radius, radius), 0, -90, end, HIT_COLOUR, 6, cv2.LINE_AA)
    cv2.rectangle(image, (0, 0), (w, BANNER_H), (60, 60, 60), -1)
    text = instruction or ("hold on" if done < 1 else "done")
    if status not in ("ok", "no face") and face is not None:
        text = status.split(" (")[0]
    _text(image, text.upper(), (10, 31), 0.8, 2)
    _text(image, f"{kept}/{wanted} good frames", (10, h - 12), 0.6)
    return image


def display_available() -> bool:
    """Whether a window can be opened (a reachable X display on Linux; always elsewhere).

    Qt aborts the process when it cannot reach the display, so look before calling it.
    """
    if not sys.platform.startswith("linux"):
        return True
    if os.environ.get("WAYLAND_DISPLAY"):
        return True
    display = os.environ.get("DISPLAY", "")
    if not display:
        return False
    if display.startswith(":"):
        number = display[1:].split(".")[0]
        return Path(f"/tmp/.X11-unix/X{number}").exists()
    return True  # a remote display (host:0): let OpenCV try


FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype", "/usr/share/fonts")


@contextlib.contextmanager
def _qt_font_dir() -> Iterator[None]:
    """While Qt starts: a font directory that exists.

    opencv-python points QT_QPA_FONTDIR at a `cv2/qt/fonts` folder its wheels do not ship,
    and Qt then prints two lines of warnings for every font lookup. The variable is set
    only while the window is created (Qt reads it then) and restored after, so child
    processes see what they saw before. FACEUNLOCK_DEBUG=1 keeps Qt's warnings.
    """
    wanted = os.environ.get("QT_QPA_FONTDIR")
    if wanted is None or Path(wanted).is_dir() or os.environ.get("FACEUNLOCK_DEBUG"):
        yield
        return
    found = next((d for d in FONT_DIRS if Path(d).is_dir()), None)
    os.environ["QT_QPA_FONTDIR"] = found or tempfile.mkdtemp(prefix="faceunlock-qt-fonts-")
    try:
        yield
    finally:
        if not found:
            with contextlib.suppress(OSError):
                os.rmdir(os.environ["QT_QPA_FONTDIR"])
        os.environ["QT_QPA_FONTDIR"] = wanted


class Window:
    """An OpenCV highgui window; `show` returns the key pressed ('' when none)."""

    def __init__(self, title: str = "faceunlock") -> None:
        self.title = title
        try:
            with _qt_font_dir():
                cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)
        except cv2.error as exc:
            raise FaceUnlockError(f"cannot open a window ({exc}); use --no-window") from None

    def show(self, image: np.ndarray, wait_ms: int = 1) -> str:
        cv2.imshow(self.title, image)
        key = cv2.waitKey(wait_ms) & 0xFF
        return chr(key).lower() if key != 255 else ""

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass


class Recorder:
    """Annotated frames to a video file (mp4v for .mp4, MJPG for .avi)."""

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            raise FaceUnlockError(f"{self.path.parent}: no such folder for --record")
        fourcc = "MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"
        self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if not self.writer.isOpened():
            raise FaceUnlockError(f"{self.path}: cannot write a video there (use .mp4 or .avi)")
        self.size = size

    def write(self, image: np.ndarray) -> None:
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size)
        self.writer.write(image)

    def close(self) -> None:
        self.writer.release()
