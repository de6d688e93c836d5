"""One run of the live loop: what is shown, recorded and printed per frame, which profiles
it unlocks for, and what happens after an unlock (adaptive templates)."""

from __future__ import annotations

import json
import logging
import time
from collections import deque

log = logging.getLogger(__name__)


class Session:
    """Shows, records and prints what the loop does, frame by frame (the `on_frame` hook)."""

    def __init__(self, loop, *, window=None, recorder=None, json_lines=False, fps_window=15):
        self.loop = loop
        self.window = window
        self.recorder = recorder
        self.json_lines = json_lines
        self.times: deque[float] = deque(maxlen=fps_window)
        self.results = []

    def fps(self) -> float | None:
        if len(self.times) < 2:
            return None
        span = self.times[-1] - self.times[0]
        return (len(self.times) - 1) / span if span > 0 else None

    def __call__(self, frame, result) -> str | None:
        from faceunlock.unlock.app.window import draw_overlay

        self.times.append(time.perf_counter())
        self.results.append(result)
        if self.json_lines:
            print(json.dumps(result.to_json()), flush=True)
        if self.window is None and self.recorder is None:
            return None
        image = draw_overlay(frame, result, self.fps(), self.loop.k, self.loop.n)
        if self.recorder is not None:
            self.recorder.write(image)
        if self.window is not None:
            key = self.window.show(image)
            if key in ("q", "\x1b"):
                return "quit"
            if key == "r":
                return "reset"
        return None

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
        if self.window is not None:
            self.window.close()


def open_window(no_window: bool, quiet: bool = False):
    """A Window when a display exists and it is wanted; None (and a note) otherwise."""
    from faceunlock.unlock.app.window import Window, display_available

    if no_window:
        return None
    if not display_available():
        if not quiet:
            log.info("faceunlock: no display found: running headless")
        return None
    return Window()


def load_profiles(
    store, user: str | None, weights_sha256: str, unlock_net_sha256: str | None = None
) -> list:
    """The profiles the loop may unlock for (one user, or everyone enrolled), each checked
    against the networks that will score it."""
    from faceunlock.enroll.profile import require_compatible
    from faceunlock.unlock.errors import FaceUnlockError

    problems: list[str] = []
    profiles = [store.load(user)] if user is not None else store.load_all(problems)
    for problem in problems:
        log.warning("faceunlock: skipped a profile: %s", problem)
    if not profiles:
        raise FaceUnlockError("nobody is enrolled yet: enrol first with `faceunlock enroll NAME`")
    for profile in profiles:
        require_compatible(profile, weights_sha256, unlock_net_sha256)
    return profiles


def refresh_adaptive(store, profiles: list, summary, scorer) -> bool:
    """After an unlock: let the most confident face of the unlocking window join the user's
    adaptive part if the rules of `unlock.app.adaptive` allow, and save the profile. True when
    it was added."""
    from faceunlock.unlock.app.adaptive import adapt

    frame = summary.unlock_frame
    profile = next((p for p in profiles if p.name == summary.user), None)
    if frame is None or frame.best_hit is None or profile is None:
        return False
    p, embedding = frame.best_hit

    def add_entry(current):
        # the profile as it is now (an enrolment may have added to it, or it was removed)
        if current is None or not adapt(current, embedding, float(p), scorer):
            return None
        return current

    return store.update(profile.name, add_entry) is not None


def make_liveness(wanted: bool):
    """A LivenessChecker when liveness is wanted (and the module exists)."""
    if not wanted:
        return None
    from faceunlock.unlock.app.liveness import LivenessChecker

    return LivenessChecker()
