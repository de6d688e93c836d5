"""The window: banner, p bar with the 0.5 mark, box and landmarks; shown under Xvfb."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceunlock.models.face import Face
from faceunlock.unlock import media
from faceunlock.unlock.app.live import LOCKED, UNLOCKED, FrameResult
from faceunlock.unlock.app.window import (
    BANNER_H,
    STATE_COLOURS,
    bar_geometry,
    display_available,
    draw_overlay,
)


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    (image,) = media.clip_frames(first=120, last=120)
    return image


def result(state: str, p: float) -> FrameResult:
    face = Face(
        (200, 40, 280, 150),
        0.99,
        np.float32([[220, 80], [260, 80], [240, 100], [225, 125], [255, 125]]),
    )
    return FrameResult(120, 4000.0, state, face, p, "lin", 3, {"detect": 6.0, "embed": 30.0})


def bar_fill_end(image: np.ndarray, colour) -> int:
    """Last x of the bar's middle row that has the fill colour."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = bar_geometry(w, h)
    row = image[(y0 + y1) // 2, x0:x1].astype(int)
    match = np.where(np.abs(row - np.array(colour)).sum(axis=1) < 30)[0]
    return x0 + int(match.max()) if len(match) else x0


def test_overlay_shows_banner_bar_mark_box_and_landmarks(frame):
    original = frame.copy()
    unlocked = draw_overlay(frame, result(UNLOCKED, 0.8), fps=25.0, k=3, n=5)
    locked = draw_overlay(frame, result(LOCKED, 0.2), fps=25.0, k=3, n=5)
    h, w = frame.shape[:2]
    # banner colour per state (sampled right of the text)
    assert tuple(unlocked[5, w - 5]) == STATE_COLOURS[UNLOCKED]
    assert tuple(locked[5, w - 5]) == STATE_COLOURS[LOCKED]
    # the bar is filled up to p
    x0, _, x1, _ = bar_geometry(w, h)
    assert abs(bar_fill_end(unlocked, (60, 200, 40)) - (x0 + 0.8 * (x1 - x0))) < 4
    assert abs(bar_fill_end(locked, (40, 40, 220)) - (x0 + 0.2 * (x1 - x0))) < 4
    # the 0.5 mark is a white line just above the bar
    _, y0, _, _ = bar_geometry(w, h)
    assert (locked[y0 - 3, (x0 + x1) // 2] > 240).all()
    # landmarks (cyan) and the face box (green when p >= 0.5)
    assert tuple(unlocked[80, 220]) == (255, 255, 0)
    assert tuple(unlocked[100, 200]) == (60, 200, 40)
    assert not np.array_equal(unlocked[BANNER_H + 5 :, :], frame[BANNER_H + 5 :, :])
    assert np.array_equal(frame, original)  # the input frame is left untouched


SHOW_AND_GRAB = """
import sys, time
import cv2, numpy as np
from PIL import ImageGrab
from faceunlock.unlock.app.window import Window, draw_overlay
from faceunlock.unlock.app.live import FrameResult, UNLOCKED
from faceunlock.models.face import Face
frame = cv2.imread(sys.argv[1])
face = Face((200, 40, 280, 150), 0.99, np.zeros((5, 2), np.float32) + 100)
image = draw_overlay(frame, FrameResult(1, 0.0, UNLOCKED, face, 0.8, "lin", 3), 25.0, 3, 5)
window = Window("faceunlock")
cv2.moveWindow("faceunlock", 0, 0)
for _ in range(30):
    window.show(image, 30)
grab = ImageGrab.grab(xdisplay=sys.argv[3])
grab.save(sys.argv[2])
window.close()
"""


def test_window_under_xvfb_shows_the_banner_and_bar(frame, tmp_path):
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (Debian package xvfb)")
    number = 90 + os.getpid() % 9
    display = f":{number}"
    server = subprocess.Popen(
        [xvfb, display, "-screen", "0", "800x600x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                break
            time.sleep(0.1)
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        old = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = display
        try:
            assert display_available()
        finally:
            if old is None:
                os.environ.pop("DISPLAY")
            else:
                os.environ["DISPLAY"] = old
        still = tmp_path / "frame.png"
        cv2.imwrite(str(still), frame)
        shot = tmp_path / "screen.png"
        script = SHOW_AND_GRAB
        run = subprocess.run(
            [sys.executable, "-c", script, str(still), str(shot), display],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr[-2000:]
    finally:
        server.terminate()
        server.wait(timeout=10)
    screen = cv2.imread(str(shot))
    banner = np.all(np.abs(screen.astype(int) - STATE_COLOURS[UNLOCKED]) < 8, axis=2)
    rows = np.where(banner.sum(axis=1) > 300)[0]
    assert len(rows) >= BANNER_H - 12, "no UNLOCKED banner on the screen"
    top = rows.min()  # the window's content starts at the banner
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = bar_geometry(w, h)
    left = int(np.where(banner[rows[len(rows) // 2]])[0].min())
    bar_row = screen[top + (y0 + y1) // 2, left + x0 : left + x1].astype(int)
    filled = np.abs(bar_row - np.array((60, 200, 40))).sum(axis=1) < 40
    assert 0.7 < filled.mean() < 0.9, "the p bar (p = 0.8) is not on the screen"


def test_no_display_means_headless(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if sys.platform.startswith("linux"):
        assert not display_available()
        monkeypatch.setenv("DISPLAY", ":4321")  # no such server
        assert not display_available()
