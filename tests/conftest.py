"""Shared test fixtures: real face photos committed in tests/fixtures, one pipeline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
LFW_FIXTURES = FIXTURES / "lfw"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def lfw_fixtures() -> Path:
    """A few LFW photos: tests/fixtures/lfw/<Name>/<Name>_NNNN.jpg (see PROVENANCE.md)."""
    return LFW_FIXTURES


@pytest.fixture(scope="session")
def pipeline():
    """One FacePipeline for the whole session (loading FaceNet takes a second or two)."""
    from faceunlock.unlock.pipeline.torch_pipeline import FacePipeline

    return FacePipeline()


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty faceunlock data directory, also set as $FACEUNLOCK_HOME."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("FACEUNLOCK_HOME", str(path))
    return path


def run_cli(
    *args: str, home: Path | None = None, timeout: float = 300, cwd: Path | None = None, **env: str
):
    """Run `python -m faceunlock.unlock ARGS` in a subprocess; returns CompletedProcess."""
    environment = dict(os.environ)
    if home is not None:
        environment["FACEUNLOCK_HOME"] = str(home)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "faceunlock.unlock", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or Path.home(),
        env=environment,
    )


@pytest.fixture(scope="session")
def cli():
    """The `run_cli` helper, as a fixture."""
    return run_cli
