"""What socket requests ask of the daemon: `Daemon`'s part that is the handler's `DaemonView` (bhogad/handler.py)
and the on-demand pass's `PassHost` (bhogad/ondemand.py).

These run on the loop thread, from the handler, and must be quick. What writes Hermes' config (`apply`, and `pin`
/ `unpin`, which wait for a write in progress) runs in a worker thread and is answered when it is done (`Pending`),
as a `pass` is: an editor's save that the write waits out holds up no other client.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from bhoga import __version__
from bhoga._pause import is_paused, set_paused
from bhoga._responses import OK, ApplyAnswer, DaemonInfo, HermesView, LastPass, Response
from bhoga._status import hermes_view
from bhoga.errors import BhogaError

from .dispatch import Pending
from .passes import _HermesPasses
from .tasks import in_thread

if TYPE_CHECKING:
    from .flip import FlipResult
    from .ondemand import OnDemand
    from .tasks import DiscoveryRunner
    from .userword import ApplyResult

log = logging.getLogger(__name__)

T = TypeVar("T")


class _SocketView(_HermesPasses):
    """`Daemon`'s part that answers what the socket handler and an on-demand pass ask."""

    started_at: datetime
    on_demand: OnDemand | None
    discovery: DiscoveryRunner | None
    _after_discovery: int

    # -- socket requests (loop thread; must be quick) -------------------------------------------------

    # The `DaemonView` the handler asks (bhogad/handler.py).

    def routed_models(self) -> list[str]:
        cfg = self.config
        if cfg.models:
            return list(cfg.models)
        last = self.last_pass
        model = self.flipper.routed_model(cfg, last.hermes_model if last else None)
        return [model] if model else []

    def hermes(self) -> HermesView:
        last = self.last_pass
        path = (last.path if last else None) or self.hermes_path
        return hermes_view(
            path,
            last.provider if last else None,
            last.hermes_model if last else None,
            problem=self._problem(),
            last_pass=LastPass(str(last.outcome), last.message) if last else None,
        )

    def _problem(self) -> str | None:
        """Why Hermes' route is not known, in one line; None when it is."""
        last = self.last_pass
        if last is None:
            return "bhogad has not read Hermes' config yet (its first discovery is still running)"
        if last.provider:
            return None
        if last.outcome in ("error", "skipped"):
            return last.message
        return f"{last.path or 'Hermes config'} has no model.provider; run `hermes model` or `bhoga apply MODEL`"

    def info(self) -> DaemonInfo:
        cfg = self.config
        return DaemonInfo(
            pid=os.getpid(),
            version=__version__,
            started_at=self.started_at.isoformat(),
            interval=cfg.interval,
            config=str(cfg.path) if cfg.path else None,
            watching=tuple(self.watcher.watched) if self.watcher else (),
        )

    def set_paused(self, paused: bool) -> None:
        """Create or remove the paused marker (the CLI does the same when no daemon runs)."""
        set_paused(paused)
        if paused:
            log.info("paused: no Hermes writes until resumed")
        else:
            log.info("resumed")
            self.request_flip()
        self.state_changed()

    def apply(self, model: str, *, dry_run: bool, aux: bool) -> Pending:
        """The `apply` op: bhogad is the one writer while it runs (DESIGN §8.2). The write waits out a save of the
        config in progress as `bhoga apply` does alone, in a worker thread; answered when it is done."""
        from .userword import apply_model  # noqa: PLC0415

        def answer(result: ApplyResult) -> Response:
            if not dry_run:
                self.request_flip()  # refresh what `status` shows; the pass keeps what was applied
            return ApplyAnswer(
                changed=result.changed,
                provider=result.provider,
                reason=result.reason,
                path=str(result.path),
                diff=result.diff if dry_run else None,
                route=None if dry_run else result.route,
            )

        write = functools.partial(apply_model, self.flipper, self.config, model, dry_run=dry_run, aux=aux)
        return self._off_loop(write, answer, "bhogad-apply")

    def set_pinned(self, pinned: bool) -> Pending:
        """The `pin` / `unpin` ops, in a worker thread: they wait for a Hermes write in progress (a pass, an
        `apply` waiting out an editor's save)."""
        from .userword import set_pin  # noqa: PLC0415

        def answer(_record: object) -> Response:
            self.request_flip()
            return OK

        return self._off_loop(functools.partial(set_pin, self.flipper, pinned), answer, "bhogad-pin")

    def _off_loop(self, work: Callable[[], T], answer: Callable[[T], Response], name: str) -> Pending:
        """`work()` in a worker thread; the request's answer is `answer(its result)`, made on the loop (its
        exception is answered as the handler's own would be)."""
        loop = asyncio.get_running_loop()
        done = in_thread(loop, work, name)
        reply: asyncio.Future[Response] = loop.create_future()

        def relay(fut: asyncio.Future[T]) -> None:
            if reply.done():
                return
            if fut.cancelled():
                reply.cancel()
            elif (exc := fut.exception()) is not None:
                reply.set_exception(exc)
            else:
                reply.set_result(answer(fut.result()))

        done.add_done_callback(relay)
        return Pending(reply)

    def discovery_errors(self) -> tuple[str, ...]:
        """What discovery last failed at, per provider, until that provider gets through (`KeptFailures`)."""
        return self.discovery.failures.lines() if self.discovery is not None else ()

    def paused(self) -> bool:
        """Whether writes are paused right now."""
        return is_paused(self.config.paused)

    def run_pass(self) -> Pending:
        """The `pass` op: one discovery + Hermes pass now, answered when done (see `bhogad.ondemand`)."""
        if self.on_demand is None or self._stopping is None or self._stopping.is_set():
            raise BhogaError("bhogad is not running passes now (starting or stopping); try again")
        return self.on_demand.request()

    # The `PassHost` an on-demand pass asks (bhogad/ondemand.py).

    def discover_now(self) -> asyncio.Future[tuple[str, ...]]:
        assert self.discovery is not None
        return self.discovery.run_now()

    def pass_after_discovery(self) -> asyncio.Future[FlipResult]:
        assert self._loop is not None
        if self._stopping is None or self._stopping.is_set():
            fut: asyncio.Future[FlipResult] = self._loop.create_future()
            fut.set_exception(BhogaError("bhogad is stopping"))
            return fut
        need = self._after_discovery
        if need == 0:  # no pass was ever asked for (a discovery that failed before the first one)
            self.request_flip()
            need = self.passes.current()
        return self.passes.wait(self._loop, need)
