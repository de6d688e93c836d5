"""What the user reads: refusals that agree with what happened, no third-party noise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from faceunlock.unlock import media
from faceunlock.unlock.cli import main

PHOTO = media.photo_path("lin-manuel-miranda")


@pytest.fixture()
def lin(home, capsys) -> Path:
    """Lin-Manuel Miranda enrolled from his bundled photo in the test's data directory."""
    assert main(["enroll", "lin", "--source", str(PHOTO), "--quiet"]) == 0
    capsys.readouterr()
    return home


def test_unlock_on_too_few_frames_says_it_recognised_the_face(lin, capsys):
    """One photo is one frame: p is high, but k of n needs more frames; the reason says so
    instead of "best p 0.99 < 0.5"."""
    assert main(["unlock", "--user", "lin", "--source", str(PHOTO), "--no-window"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "recognised (best p 0.9" in out and "k of the last n frames" in out
    assert "< 0.5" not in out


def test_the_qt_font_dir_is_set_only_while_the_window_starts(monkeypatch, tmp_path):
    from faceunlock.unlock.app import window

    missing = str(tmp_path / "cv2" / "qt" / "fonts")
    monkeypatch.setenv("QT_QPA_FONTDIR", missing)
    monkeypatch.setattr(window, "FONT_DIRS", (str(tmp_path / "none"),))
    with window._qt_font_dir():
        assert Path(os.environ["QT_QPA_FONTDIR"]).is_dir()
    assert os.environ["QT_QPA_FONTDIR"] == missing
    monkeypatch.setenv("FACEUNLOCK_DEBUG", "1")  # debugging keeps Qt's own warnings
    with window._qt_font_dir():
        assert os.environ["QT_QPA_FONTDIR"] == missing


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (apt xvfb)")
def test_unlock_under_a_display_prints_no_qt_font_warnings(lin):
    done = subprocess.run(
        ["xvfb-run", "-a", sys.executable, "-m", "faceunlock.unlock"]
        + ["unlock", "--user", "lin", "--source", str(PHOTO)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "FACEUNLOCK_HOME": str(lin)},
    )
    assert done.returncode == 1, done.stderr
    assert "no display" not in done.stderr  # the window was shown
    assert "QFont" not in done.stderr and "fonts" not in done.stderr, done.stderr
