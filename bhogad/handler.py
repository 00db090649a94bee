"""Answers to socket requests (protocol v1, DESIGN §7), computed on the loop thread from in-memory state.

No file is read here: the Hermes route in `status` is the one the last pass saw (the pass re-reads the file
after every change to it), so answering stays quick enough for the server's one-loop design.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from bhoga import __version__, _pin
from bhoga._protocol import (
    ApplyRequest,
    BestRequest,
    PauseRequest,
    PingRequest,
    PinRequest,
    ResumeRequest,
    SetQuotaRequest,
    StatusRequest,
    TurnRequest,
    quota_to_json,
    recommendation_to_json,
)
from bhoga.errors import ProtocolError

if TYPE_CHECKING:
    from .daemon import Daemon

__all__ = ["handle_request", "status"]


def _routed_models(daemon: Daemon) -> list[str]:
    cfg = daemon.config
    if cfg.models:
        return list(cfg.models)
    last = daemon.last_pass
    model = daemon.flipper.routed_model(cfg, last.hermes_model if last else None)
    return [model] if model else []


def _pin_fields(path: Path | None) -> dict[str, object]:
    record = _pin.load()
    pinned = path is not None and record.config == str(path) and record.pinned
    since = record.pinned_since.isoformat() if pinned and record.pinned_since else None
    return {"pinned": pinned, "pinned_since": since}


def _problem(daemon: Daemon) -> str | None:
    """Why Hermes' route is not known, in one line; None when it is."""
    last = daemon.last_pass
    if last is None:
        return "bhogad has not read Hermes' config yet (its first discovery is still running)"
    if last.provider:
        return None
    if last.outcome in ("error", "skipped"):
        return last.message
    return f"{last.path or 'Hermes config'} has no model.provider; run `hermes model` or `bhoga apply MODEL`"


def status(daemon: Daemon) -> dict[str, object]:
    """The `status` response: protocol v1 fields plus the daemon's own."""
    router = daemon.router
    last = daemon.last_pass
    routes: list[dict[str, object]] = []
    for model in _routed_models(daemon):
        ranked = router.ranked(model)
        routes.append(
            {
                "model": model,
                "recommendation": recommendation_to_json(ranked[0] if ranked else None),
                "ranked": [recommendation_to_json(r) for r in ranked],
            }
        )
    path = (last.path if last else None) or daemon.hermes_path
    paces = router.paces()
    return {
        "ok": True,
        "quotas": [quota_to_json(q, paces) for q in router.quotas().values()],
        "hermes": {
            "path": str(path) if path else None,
            "provider": last.provider if last else None,
            "model": last.hermes_model if last else None,
            "last_pass": {"outcome": str(last.outcome), "message": last.message} if last else None,
            **_pin_fields(path),
            "problem": _problem(daemon),
        },
        "routes": routes,
        "paused": daemon.paused(),
        "daemon": {
            "pid": os.getpid(),
            "version": __version__,
            "started_at": daemon.started_at.isoformat(),
            "interval": daemon.config.interval,
            "config": str(daemon.config.path) if daemon.config.path else None,
            "watching": list(daemon.watcher.watched) if daemon.watcher else [],
            "dropped_turns": router.dropped_turns,
            "turns_by_source": dict(daemon.turns_by_source),
            "last_turn_at": dict(daemon.last_turn_at),
            "received_turns": daemon.received_turns,
            "processed_turns": router.processed_turns,
        },
    }


def handle_request(daemon: Daemon, request: object) -> dict[str, object]:
    """Answer one parsed request; a `BhogaError` becomes `{"ok": false, "error": ...}` in the server."""
    router = daemon.router
    match request:
        case TurnRequest():
            daemon.received_turns += 1
            router.record_turn(
                request.pid,
                request.model,
                request.input_tokens,
                request.output_tokens,
                request.headers,
                request.status_code,
                error=request.error,
            )
            daemon.count_turn(request.source)
            return {"ok": True}
        case PingRequest():
            return {"ok": True, "pid": os.getpid(), "version": __version__}
        case SetQuotaRequest():
            try:
                router.set_quota(request.pid, request.pct_remaining, weekly_pct=request.weekly_pct, model=request.model)
            except ValueError as exc:
                raise ProtocolError(str(exc)) from None
            return {"ok": True}
        case BestRequest():
            # Every turn sent before this request on this connection is in the queue: count it first.
            router.sync()
            ranked = router.ranked(request.model)
            return {
                "ok": True,
                "recommendation": recommendation_to_json(ranked[0] if ranked else None),
                # Every candidate, best first: the winner is ranked[0] (the same as `bhoga best --json`).
                "ranked": [recommendation_to_json(r) for r in ranked],
            }
        case StatusRequest():
            router.sync()
            return status(daemon)
        case PauseRequest():
            daemon.set_paused(True)
            return {"ok": True, "paused": True}
        case ResumeRequest():
            daemon.set_paused(False)
            return {"ok": True, "paused": daemon.paused()}
        case ApplyRequest():
            router.sync()
            return daemon.apply(request.model, dry_run=request.dry_run, aux=request.aux)
        case PinRequest():
            daemon.set_pinned(request.pinned)
            return {"ok": True}
    raise ProtocolError(f"unsupported request {type(request).__name__}")
