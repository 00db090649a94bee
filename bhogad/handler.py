"""Answers to socket requests (protocol v1, DESIGN §7), computed on the loop thread from in-memory state.

The handler knows the Router and a small `DaemonView` (what only the daemon knows: Hermes' route as its last
pass saw it, the pause marker, `apply`, `pin` and `pass`), not the daemon itself, so socket tests run this very handler
over any view. It counts the turns it takes, by source, so `status` can show that none were lost.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from bhoga import __version__
from bhoga._protocol import (
    ApplyRequest,
    BestRequest,
    PassRequest,
    PauseRequest,
    PingRequest,
    PinRequest,
    Request,
    ResumeRequest,
    SetQuotaRequest,
    StatusRequest,
    TurnRequest,
)
from bhoga._record import replace
from bhoga._responses import (
    OK,
    BestAnswer,
    DaemonInfo,
    HermesView,
    PausedAnswer,
    PingAnswer,
    Response,
    StatusAnswer,
)
from bhoga._router import Router
from bhoga._status import build_status
from bhoga.errors import ProtocolError

if TYPE_CHECKING:
    from bhoga._protocol_fast import TurnBatch

    from .dispatch import Pending

__all__ = ["DaemonView", "Handler"]

_MAX_SOURCES = 64


class DaemonView(Protocol):
    """What the handler asks of the daemon; quick, no I/O beyond a marker file, or answered later (`Pending`)."""

    def routed_models(self) -> list[str]:
        """The models `status` ranks."""
        ...

    def hermes(self) -> HermesView:
        """Hermes' route as the last pass saw it."""
        ...

    def info(self) -> DaemonInfo:
        """The daemon's own facts (the handler fills in the turn counters)."""
        ...

    def paused(self) -> bool: ...

    def discovery_errors(self) -> tuple[str, ...]:
        """What discovery last failed at, `discovery failed: <pid>: <why>` each (empty before the first run)."""
        ...

    def set_paused(self, paused: bool) -> None: ...

    def apply(self, model: str, *, dry_run: bool, aux: bool) -> Pending:
        """Route Hermes for `model` now; answered when the write is done (it may wait out an editor's save)."""
        ...

    def set_pinned(self, pinned: bool) -> Pending:
        """Pin or unpin Hermes' route; answered when done (after any Hermes write in progress)."""
        ...

    def run_pass(self) -> Pending:
        """One discovery + Hermes pass now; its answer comes when it is done (joined when one is running)."""
        ...


class Handler:
    """The Server's handler: one typed answer per parsed request."""

    def __init__(self, router: Router, view: DaemonView) -> None:
        self.router = router
        self.view = view
        self.received_turns = 0
        """Turn requests taken (with `router.dropped_turns` and `processed_turns`: none lost)."""
        self.turns_by_source: dict[str, int] = {}
        self._last_turn: dict[str, float] = {}

    def _count_turn(self, source: str | None, n: int = 1, at: float | None = None) -> None:
        """`n` turns from `source` arrived at `at` (now by default)."""
        # `bhoga hermes-plugin status` shows from this whether Hermes' turns arrive.
        key = source or "unknown"
        counts = self.turns_by_source
        if key not in counts and len(counts) >= _MAX_SOURCES:
            key = "other"  # anyone may name any source: keep the table small
        counts[key] = counts.get(key, 0) + n
        self._last_turn[key] = time.time() if at is None else at  # a float; formatted only when someone asks

    def record_batch(self, batch: TurnBatch) -> None:
        """Take a run of turns the server decoded at once: counted exactly as one call per turn would."""
        self.received_turns += batch.total
        now = time.time()
        routed: dict[tuple[str, str, int], int] = {}
        for (pid, model, status, source), n in batch.counts.items():
            self._count_turn(source, n, now)
            routed[pid, model, status] = routed.get((pid, model, status), 0) + n
        self.router.record_turns(
            batch.total,
            [(pid, model, status, n) for (pid, model, status), n in routed.items()],
            [
                (r.pid, r.model, r.input_tokens, r.output_tokens, r.headers, r.status_code, r.error)
                for r in batch.newest
            ],
        )

    def last_turn_at(self) -> dict[str, str]:
        """When the last turn of each source arrived (ISO 8601, UTC, milliseconds)."""
        return {
            k: datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds") for k, t in self._last_turn.items()
        }

    def status(self) -> StatusAnswer:
        """The `status` answer (also what is pushed to `subscribe`d connections)."""
        view, router = self.view, self.router
        info = replace(
            view.info(),
            dropped_turns=router.dropped_turns,
            turns_by_source=dict(self.turns_by_source),
            last_turn_at=self.last_turn_at(),
            received_turns=self.received_turns,
            processed_turns=router.processed_turns,
        )
        models, hermes, errors = view.routed_models(), view.hermes(), view.discovery_errors()
        return build_status(router, models, hermes, paused=view.paused(), daemon=info, errors=errors)

    def __call__(self, request: Request) -> Response | Pending:
        """Answer one parsed request; a `BhogaError` becomes `{"ok": false, "error": ...}` in the server."""
        router = self.router
        if type(request) is TurnRequest:  # the hot path: checked first, without the match machinery
            self.received_turns += 1
            router.record_turn(
                request.pid,
                request.model,
                request.input_tokens,
                request.output_tokens,
                request.headers,
                request.status_code,
                error=request.error,
            )
            self._count_turn(request.source)
            return OK
        match request:
            case PingRequest():
                return PingAnswer(os.getpid(), __version__)
            case SetQuotaRequest():
                try:
                    router.set_quota(
                        request.pid, request.pct_remaining, weekly_pct=request.weekly_pct, model=request.model
                    )
                except ValueError as exc:
                    raise ProtocolError(str(exc)) from None
                return OK
            case BestRequest():
                # Every turn sent before this request on this connection is in the queue: count it first.
                router.sync()
                ranked = tuple(router.ranked(request.model))
                return BestAnswer(ranked[0] if ranked else None, ranked, self.view.discovery_errors())
            case StatusRequest():
                router.sync()
                return self.status()
            case PauseRequest():
                self.view.set_paused(True)
                return PausedAnswer(True)
            case ResumeRequest():
                self.view.set_paused(False)
                return PausedAnswer(self.view.paused())
            case ApplyRequest():
                router.sync()
                return self.view.apply(request.model, dry_run=request.dry_run, aux=request.aux)
            case PinRequest():
                return self.view.set_pinned(request.pinned)
            case PassRequest():
                return self.view.run_pass()
        raise ProtocolError(f"unsupported request {type(request).__name__}")
