"""The `pass` op (DESIGN §8.2): one discovery + Hermes pass now, for whoever asks on the socket.

While bhogad runs it is the only writer of Hermes' config, so `bhogad --once` hands its pass to the daemon
instead of writing itself, and prints the answer built here: the quotas after the discovery, how the Hermes pass
ended, and what failed. A client that asks again and again gets nothing the daemon would not do anyway:

* one on-demand pass at a time: a request arriving while one runs joins it and gets the same answer;
* its discovery is never forced, so the per-endpoint minimum intervals hold (Claude and Codex usage endpoints
  at most once per 5 min, Copilot's once per 15), and a discovery already running is joined, not doubled;
* its Hermes pass is the daemon's ordinary one (one at a time, bursts coalesced), waited for, never run beside it;
* nothing runs on the loop thread but bookkeeping: the socket keeps answering everyone else meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime
from typing import Protocol

from bhoga._record import replace
from bhoga._responses import Discovered, PassAnswer, Response
from bhoga._router import Router

from .dispatch import Pending
from .flip import FlipResult, Outcome

__all__ = ["OnDemand", "PassHost", "PassLedger"]

log = logging.getLogger(__name__)


class PassLedger:
    """Numbers the daemon's Hermes passes, so that a request can wait for the one that sees what it asked about.

    The daemon's passes run one at a time and coalesce: a change during a pass queues exactly one more. So the pass
    that sees every change asked for so far is the queued one if there is one, else the one running, else the
    last one (`current`).
    """

    def __init__(self) -> None:
        self.started = 0
        self.done = 0
        self.queued = False
        """A pass was asked for that has not started yet."""
        self.last: FlipResult | None = None
        self._waiters: list[tuple[int, asyncio.Future[FlipResult]]] = []

    def requested(self) -> None:
        self.queued = True

    def begin(self) -> int:
        """A pass starts (it sees everything asked for until now); its number."""
        self.queued = False
        self.started += 1
        return self.started

    def end(self, number: int, result: FlipResult) -> None:
        self.done, self.last = number, result
        waiting = []
        for need, fut in self._waiters:
            if need > number:
                waiting.append((need, fut))
            elif not fut.done():
                fut.set_result(result)
        self._waiters = waiting

    def current(self) -> int:
        """The number of the pass that sees every change asked for so far (0: none ever asked for)."""
        return self.started + 1 if self.queued else self.started

    def wait(self, loop: asyncio.AbstractEventLoop, number: int) -> asyncio.Future[FlipResult]:
        """The result of pass `number` (or of a later one, when it is already over)."""
        fut: asyncio.Future[FlipResult] = loop.create_future()
        if self.done >= number and self.last is not None:
            fut.set_result(self.last)
        else:
            self._waiters.append((number, fut))
        return fut

    def fail_all(self, exc: Exception) -> None:
        """Shutdown: nobody waits for a pass that will not run."""
        waiters, self._waiters = self._waiters, []
        for _need, fut in waiters:
            if not fut.done():
                fut.set_exception(exc)


class PassHost(Protocol):
    """What an on-demand pass needs of the daemon."""

    router: Router

    def discover_now(self) -> asyncio.Future[tuple[str, ...]]:
        """Discovery now, or the one running (never forced); what failed, one line per source."""
        ...

    def pass_after_discovery(self) -> asyncio.Future[FlipResult]:
        """The result of the Hermes pass that sees what the discovery just awaited found."""
        ...


class OnDemand:
    """Runs `pass` requests on the daemon's loop: one at a time, later requests joining the one running."""

    def __init__(self, loop: asyncio.AbstractEventLoop, host: PassHost) -> None:
        self._loop = loop
        self._host = host
        self._task: asyncio.Task[PassAnswer] | None = None

    def request(self) -> Pending:
        """The answer to a `pass` request, when the pass it starts (or joins) is done."""
        task = self._task
        joined = task is not None and not task.done()
        if task is None or not joined:
            task = self._task = self._loop.create_task(self._run())
        answer: asyncio.Future[Response] = self._loop.create_future()

        def relay(done: asyncio.Task[PassAnswer]) -> None:
            if answer.done():
                return
            if done.cancelled():
                answer.cancel()
            elif (exc := done.exception()) is not None:
                answer.set_exception(exc)
            else:
                answer.set_result(replace(done.result(), joined=joined))

        task.add_done_callback(relay)
        return Pending(answer)

    def close(self) -> None:
        """Stop the pass in progress (shutdown): its waiting connections are answered by the server's hang-up."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _run(self) -> PassAnswer:
        started = datetime.now(UTC)
        log.debug("pass requested on the socket: discovery, then a Hermes pass")
        errors: list[str] = []
        # One line per source that failed ("claude_code: Claude usage endpoint: HTTP 500"): the asker learns what
        # the log says, while the scheduled discoveries only log it and carry on.
        errors.extend(f"discovery failed: {line}" for line in await self._host.discover_now())
        result = await self._host.pass_after_discovery()
        if result.outcome is Outcome.ERROR:
            errors.append(result.message)
        quotas = self._host.router.quotas()
        return PassAnswer(
            pid=os.getpid(),
            joined=False,
            started_at=started.isoformat(timespec="seconds"),
            discovered=tuple(
                Discovered(q.provider_id, q.model, q.quota_pct, str(q.status), q.note)
                for _key, q in sorted(quotas.items())
            ),
            outcome=str(result.outcome),
            changed=result.outcome is Outcome.WROTE,
            message=result.message,
            path=str(result.path) if result.path else None,
            provider=result.provider,
            model=result.hermes_model,
            errors=tuple(errors),
        )
