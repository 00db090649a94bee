"""Blocking work for the loop: short-lived daemon threads, and the discovery runner built on them.

Daemon threads rather than an executor: interpreter exit joins executor threads, so a discovery stuck in an
HTTP timeout would hold up SIGTERM, and a service manager gives bhogad 2 seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from bhoga._discovery_failures import DiscoveryReport, KeptFailures
from bhoga._router import Router

from .config import MIN_INTERVAL

__all__ = ["DiscoveryRunner", "in_thread"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def in_thread(loop: asyncio.AbstractEventLoop, fn: Callable[[], T], name: str) -> asyncio.Future[T]:
    """Run `fn` in a new daemon thread; the future resolves on the loop."""
    fut: asyncio.Future[T] = loop.create_future()

    def settle(value: T | None, exc: BaseException | None) -> None:
        if fut.done():
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)  # type: ignore[arg-type]

    def target() -> None:
        try:
            value, exc = fn(), None
        except BaseException as e:  # handed to the loop, which decides
            value, exc = None, e
        with contextlib.suppress(RuntimeError):  # the loop closed while we worked
            loop.call_soon_threadsafe(settle, value, exc)

    threading.Thread(target=target, name=name, daemon=True).start()
    return fut


class DiscoveryRunner:
    """Runs `router.discover` off the loop: one run at a time, requests during a run merged into one more.

    `force` (skip discovery's shared "too soon" gate) is granted at most once per `MIN_INTERVAL`, so no
    burst of file events or resumes can poll a usage endpoint more than once a minute. What each run failed at is
    kept per provider (`failures`) for `status` and `best`; `on_done(changed)` says whether that changed.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, router: Router, on_done: Callable[[bool], None]) -> None:
        self._loop = loop
        self._router = router
        self._on_done = on_done
        self.failures = KeptFailures()
        self._running = False
        self._again: bool | None = None
        self._last_forced = loop.time() - MIN_INTERVAL
        self._waiters: list[asyncio.Future[tuple[str, ...]]] = []
        self.closed = False

    def run_now(self) -> asyncio.Future[tuple[str, ...]]:
        """Discover now, or join the run in progress; never forced, so every endpoint's minimum interval holds.

        The future gives what failed in that run, one line per failed source; empty when every source went through.
        """
        fut: asyncio.Future[tuple[str, ...]] = self._loop.create_future()
        if self.closed:
            fut.set_result(("bhogad is stopping",))
            return fut
        self._waiters.append(fut)
        if not self._running:
            self.request(force=False, why="pass requested")
        return fut

    def request(self, *, force: bool, why: str) -> None:
        """Discover now (or right after the run in progress)."""
        if self.closed:
            return
        if self._running:
            self._again = bool(self._again) or force
            return
        now = self._loop.time()
        if force and now - self._last_forced < MIN_INTERVAL:
            force = False
        if force:
            self._last_forced = now
        log.debug("discovery (%s%s)", why, ", forced" if force else "")
        self._running = True
        fut = in_thread(self._loop, lambda: self._router.discover_report(force=force), "bhogad-discovery")
        fut.add_done_callback(self._done)

    def _done(self, fut: asyncio.Future[DiscoveryReport]) -> None:
        self._running = False
        failures: tuple[str, ...]
        changed = False
        if fut.cancelled():
            failures = ("discovery was cancelled",)
        else:
            if (exc := fut.exception()) is not None:  # `Router.discover_report` never raises: a bug, in one line
                log.error("discovery failed: %s: %s", type(exc).__name__, exc)
                report = DiscoveryReport(error=type(exc).__name__)
            else:
                # Each failed source was logged as it failed; the scheduled runs carry on with what was found.
                report = fut.result()
            failures = report.lines()
            changed = self.failures.record(report)
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(failures)
        if self.closed:
            return
        self._on_done(changed)
        again, self._again = self._again, None
        if again is not None:
            self.request(force=again, why="changes during discovery")
