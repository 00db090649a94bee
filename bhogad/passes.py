"""Hermes passes, and telling people what they changed: `Daemon`'s part that runs passes and reacts to each result.

* Passes run one at a time in a worker thread; changes arriving during a pass cause exactly one more pass
  afterwards, `_PASS_GAP` after its start, so bursts coalesce instead of queueing.
* Each result becomes what `status` shows, the log lines (a problem once, not every pass), a notification when
  Hermes was moved or a provider's state changed, a push to `status --watch` subscribers, and the timer that
  passes again when a window resets or a throttle ends.
* A pass that met someone else's write of the config changes none of that and is tried again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bhoga._flips import record_flip
from bhoga._responses_encode import status_event
from bhoga._routing import next_change

from . import sdnotify
from .flip import SETTLE, FlipResult, Outcome
from .notify import ProviderView, detect, flip_event, provider_views
from .tasks import in_thread

if TYPE_CHECKING:
    from bhoga._router import Router

    from .config import DaemonConfig
    from .flip import Flipper
    from .handler import Handler
    from .notify import Notifier
    from .ondemand import PassLedger
    from .server import Server
    from .watch import Watcher

log = logging.getLogger(__name__)

_PASS_GAP = 0.1
"""Seconds from one Hermes pass's start to the next while quota changes keep arriving."""
_PUSH_GAP = 0.25
"""Seconds a status push waits so that a burst of changes (a turn flood) becomes one push."""


class _HermesPasses:
    """`Daemon`'s part that runs Hermes passes and tells people what they changed."""

    config: DaemonConfig
    router: Router
    flipper: Flipper
    handler: Handler
    notifier: Notifier
    watcher: Watcher | None
    last_pass: FlipResult | None
    hermes_path: Path | None
    passes: PassLedger
    _loop: asyncio.AbstractEventLoop | None
    _stopping: asyncio.Event | None
    _flip_task: asyncio.Task[None] | None
    _flip_again: bool
    _change_timer: asyncio.TimerHandle | None
    _errors_logged: set[str]
    _busy_told: bool
    _views: dict[str, ProviderView] | None
    _server: Server | None
    _publish_timer: asyncio.TimerHandle | None

    # -- Hermes passes --------------------------------------------------------------------------------

    def request_flip(self) -> None:
        """Ask for a Hermes pass soon; coalesces with one in progress."""
        if self._stopping is None or self._stopping.is_set() or self._loop is None:
            return
        self.passes.requested()
        if self._flip_task is not None and not self._flip_task.done():
            self._flip_again = True
            return
        self._flip_task = self._loop.create_task(self._flip_loop())

    async def _flip_loop(self) -> None:
        assert self._loop is not None
        while True:
            self._flip_again = False
            number = self.passes.begin()
            started = self._loop.time()
            run = functools.partial(self.flipper.run, self.config)
            try:
                result = await in_thread(self._loop, run, "bhogad-hermes")
            except Exception as exc:
                log.error("Hermes pass failed: %s: %s", type(exc).__name__, exc)
                log.debug("Hermes pass traceback", exc_info=True)
                result = FlipResult(Outcome.ERROR, f"{type(exc).__name__}: {exc}")
            self._note_pass(result)
            self.passes.end(number, result)
            if not self._flip_again or (self._stopping is not None and self._stopping.is_set()):
                return
            # Changes kept coming during the pass (a flood of turns changes the quota state every few ms): the
            # next pass, which sees all of them, waits until _PASS_GAP after this one started.
            await asyncio.sleep(max(0.0, started + _PASS_GAP - self._loop.time()))
            if self._stopping is not None and self._stopping.is_set():
                return

    def _note_pass(self, result: FlipResult) -> None:
        if result.busy:
            # Someone was writing Hermes' config: what it says is not known yet, so `status` keeps showing the last
            # pass. The file's next change runs a pass, and so does this retry, in case that change came while the
            # pass was reading. Said once until a pass gets through: a save taking minutes is one line, not one a
            # second (each retry is a debug line of the pass).
            if not self._busy_told:
                self._busy_told = True
                log.info("Hermes pass put off: %s", result.message)
            if self._loop is not None:
                self._loop.call_later(2 * SETTLE, self.request_flip)
            return
        self._busy_told = False
        self.last_pass = result
        self._arm_change_timer()
        self._notify_after(result)
        self.state_changed()
        if result.path is not None and result.path != self.hermes_path and self.watcher is not None:
            self.watcher.request_rearm()
        if result.outcome in (Outcome.ERROR, Outcome.SKIPPED, Outcome.PAUSED):
            if result.message not in self._errors_logged:
                self._errors_logged.add(result.message)
                level = logging.WARNING if result.outcome is Outcome.ERROR else logging.INFO
                log.log(level, "%s", result.message)
        else:
            self._errors_logged.clear()
            log.debug("Hermes pass: %s: %s", result.outcome, result.message)
        sdnotify.notify(f"STATUS={result.outcome}: {result.message}"[:200])

    # -- what people see: live status pushes and notifications ------------------------------------------

    def state_changed(self) -> None:
        """Push the new status to `status --watch` subscribers soon; bursts of changes become one push."""
        server, loop = self._server, self._loop
        if server is None or loop is None or not server.subscribers or self._publish_timer is not None:
            return
        self._publish_timer = loop.call_later(_PUSH_GAP, self.publish)

    def publish(self) -> None:
        """Push the status to every subscriber now."""
        self._publish_timer = None
        if self._server is not None and self._server.subscribers:
            self._server.publish(status_event(self.handler.status()))

    def _notify_after(self, result: FlipResult) -> None:
        views = provider_views(self.router.quotas().values(), datetime.now(UTC))
        events = detect(self._views, views, pinned=self.pinned_provider())
        self._views = views
        if result.outcome is Outcome.WROTE:
            events.insert(0, flip_event(result.model, self.last_pid, result.message))
            record_flip(result.model, self.last_pid, result.message)
        if events:
            self.notifier.submit(events)

    def pinned_provider(self) -> str | None:
        """The bhoga provider Hermes is pinned to by the user (DESIGN §8.2), None when not pinned."""
        last = self.last_pass
        if last is None or last.outcome is not Outcome.PINNED:
            return None
        return self.last_pid

    @property
    def last_pid(self) -> str | None:
        """The bhoga provider id of Hermes' route after the last pass."""
        from .flip import hermes_provider_to_pid  # noqa: PLC0415

        last = self.last_pass
        return hermes_provider_to_pid(last.provider)[0] if last is not None else None

    def _arm_change_timer(self) -> None:
        """Pass again when a window resets or a throttle ends: the ranking changes with no new observation."""
        if self._change_timer is not None:
            self._change_timer.cancel()
            self._change_timer = None
        now = datetime.now(UTC)
        when = next_change(self.router.snapshot(), now)
        if when is not None and self._loop is not None:
            delay = min((when - now).total_seconds() + 0.05, 24 * 3600.0)
            self._change_timer = self._loop.call_later(delay, self.request_flip)
