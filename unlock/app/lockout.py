"""Lockout after repeated failed unlock attempts, kept in the data directory.

Android asks this of strong biometrics: after `attempts` failed attempts in a row (an
attempt that scored a face and did not unlock, however it ended), face unlock refuses to
run for `duration_s`. An attempt is counted as failed on its first scored face, before
its decision is known, and an unlock clears the count: quitting, resetting, a signal or a
killed process cannot take a failure back.
The counter lives in `<data dir>/lockout.json`, written atomically, so restarting the
program does not reset it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable

from faceunlock.models.files import write_private_file
from faceunlock.unlock.errors import FaceUnlockError
from faceunlock.unlock.filelock import exclusive
from faceunlock.unlock.paths import data_dir

LOCKOUT_FILE = "lockout.json"
LOCK_FILE = ".lockout.lock"


class Lockout:
    """The persistent failed-attempt counter and lockout deadline of one data directory."""

    def __init__(
        self,
        home: str | os.PathLike | None = None,
        attempts: int = 5,
        duration_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = data_dir(home) / LOCKOUT_FILE
        self.attempts = attempts
        self.duration_s = duration_s
        self.clock = clock

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
            failures = int(data.get("failures", 0))
            locked_until = float(data.get("locked_until", 0.0))
        except (OSError, ValueError, TypeError, AttributeError):
            # missing or damaged: a damaged file must not grant more attempts than allowed,
            # but it must not lock the owner out for ever either; start a fresh count
            return {"failures": 0, "locked_until": 0.0}
        return {"failures": max(failures, 0), "locked_until": locked_until}

    def _write(self, state: dict) -> None:
        write_private_file(self.path, json.dumps(state).encode())

    def _exclusive(self) -> contextlib.AbstractContextManager[None]:
        """Hold an advisory lock so that concurrent processes never lose a count."""
        return exclusive(self.path.parent / LOCK_FILE)

    @property
    def failures(self) -> int:
        """Failed attempts counted since the last success or lockout."""
        return self._read()["failures"]

    def remaining_s(self) -> float:
        """Seconds left in the current lockout (0 when face unlock may run)."""
        left = self._read()["locked_until"] - self.clock()
        # a deadline further away than one lockout means the clock moved back: cap it
        return float(min(max(left, 0.0), self.duration_s))

    def refuse_if_locked_out(self) -> None:
        """Raise a FaceUnlockError saying how long is left while a lockout holds."""
        left = self.remaining_s()
        if left > 0:
            raise FaceUnlockError(
                f"face unlock is locked out for {left:.0f} s more after failed attempts; "
                "nothing is scored until then"
            )

    def record_failure(self) -> bool:
        """Count a failed attempt; returns True when this one starts a lockout.

        The live loop calls it on an attempt's first scored face (`record_success` clears
        it on an unlock), so the attempt that starts a lockout may still finish: the
        lockout holds for every attempt after it.
        """
        with self._exclusive():
            state = self._read()
            state["failures"] += 1
            started = state["failures"] >= self.attempts
            if started:
                state = {"failures": 0, "locked_until": self.clock() + self.duration_s}
            self._write(state)
        return started

    def record_success(self) -> None:
        """An unlock resets the count."""
        with self._exclusive():
            if self._read() != {"failures": 0, "locked_until": 0.0}:
                self._write({"failures": 0, "locked_until": 0.0})
