"""What socket requests ask of the daemon: `Daemon`'s part that is the handler's `DaemonView` (bhogad/handler.py)
and the on-demand pass's `PassHost` (bhogad/ondemand.py).

These run on the loop thread, from the handler, and must be quick; a `pass` is answered when it is done
(`Pending`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime
from typing import TYPE_CHECKING

from bhoga import __version__
from bhoga._pause import is_paused, set_paused
from bhoga._responses import ApplyAnswer, DaemonInfo, HermesView, LastPass
from bhoga._status import hermes_view
from bhoga.errors import BhogaError

from .passes import _HermesPasses

if TYPE_CHECKING:
    from .dispatch import Pending
    from .flip import FlipResult
    from .ondemand import OnDemand
    from .tasks import DiscoveryRunner

log = logging.getLogger(__name__)


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

    def apply(self, model: str, *, dry_run: bool, aux: bool) -> ApplyAnswer:
        """The `apply` op: bhogad is the one writer while it runs (DESIGN §8.2)."""
        from .userword import apply_model  # noqa: PLC0415

        result = apply_model(self.flipper, self.config, model, dry_run=dry_run, aux=aux)
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

    def set_pinned(self, pinned: bool) -> None:
        """The `pin` / `unpin` ops."""
        from .userword import set_pin  # noqa: PLC0415

        set_pin(self.flipper, pinned)
        self.request_flip()

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
