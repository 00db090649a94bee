"""When the daemon runs discovery: a jittered `schedule` job, and a detector for suspend/resume.

`schedule` runs due jobs synchronously in the caller (here the loop's ticker), merges missed runs into one, and
cancels a job whose exception escapes, so every job is wrapped to catch and log. It follows the naive wall
clock, which is why suspend is detected separately: Python's sleeps use CLOCK_MONOTONIC, which stops while the
machine sleeps, so a gap between wall-clock and monotonic progress means the machine was suspended.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["JITTER", "Periodic", "ResumeDetector"]

log = logging.getLogger(__name__)

JITTER = 0.10
"""Each interval is drawn from the configured one to 10 % more (never less), so daemons don't poll in lockstep."""


class Periodic:
    """One job every `interval` seconds (jittered), driven by `run_pending()` calls from the loop."""

    def __init__(self, interval: float, job: Callable[[], None], *, name: str = "job") -> None:
        import schedule  # noqa: PLC0415 - the daemon's dependency, not the library's

        self._scheduler: Any = schedule.Scheduler()
        self._job = job
        self._name = name
        self.interval = 0.0
        self.set_interval(interval)

    def set_interval(self, interval: float) -> None:
        """Replace the job with one at the new interval (SIGHUP); the next run is one new interval away."""
        if interval == self.interval:
            return
        self.interval = interval
        self._scheduler.clear()
        low = max(1, round(interval))
        high = max(low, round(interval * (1 + JITTER)))
        self._scheduler.every(low).to(high).seconds.do(self._safe)

    def _safe(self) -> None:
        try:
            self._job()
        except Exception as exc:  # an escaping exception would cancel the job for good
            log.error("%s failed: %s: %s", self._name, type(exc).__name__, exc)
            log.debug("%s traceback", self._name, exc_info=True)

    def run_pending(self) -> None:
        """Run the job if it is due."""
        self._scheduler.run_pending()

    def idle_seconds(self) -> float:
        """Seconds until the job is due (0 when overdue)."""
        idle = self._scheduler.idle_seconds
        return max(0.0, float(idle)) if idle is not None else float(self.interval)


class ResumeDetector:
    """Notice that the machine slept: wall time advanced more than monotonic time between two checks."""

    def __init__(
        self,
        threshold: float = 60.0,
        *,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self._wall = wall
        self._mono = mono
        self._last = (wall(), mono())

    def check(self) -> float | None:
        """The seconds spent suspended since the last check, if above the threshold, else None.

        A wall clock stepped backwards (NTP) gives a negative gap, which is not a resume.
        """
        wall, mono = self._wall(), self._mono()
        gap = (wall - self._last[0]) - (mono - self._last[1])
        self._last = (wall, mono)
        return gap if gap > self.threshold else None
