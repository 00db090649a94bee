"""The `status` answer, built in one place for bhogad's handler and for the CLI when no daemon answers.

Both pass what only they know (the Hermes route they read, why it may be unknown, the daemon's own facts)
and the Router whose quotas and rankings the answer shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bhoga import _pin
from bhoga._protocol_json import quota_to_json
from bhoga._responses import DaemonInfo, HermesView, LastPass, RouteView, StatusAnswer

# Annotations only: the Router is the caller's.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from bhoga._router import Router

__all__ = ["build_status", "hermes_view"]


def hermes_view(
    path: Path | None,
    provider: str | None,
    model: str | None,
    *,
    problem: str | None,
    last_pass: LastPass | None = None,
) -> HermesView:
    """Hermes' route at `path` with the pin recorded for that config (`bhoga pin`, DESIGN §8.2)."""
    record = _pin.load()
    pinned = path is not None and record.config == str(path) and record.pinned
    since = record.pinned_since.isoformat() if pinned and record.pinned_since else None
    return HermesView(
        path=str(path) if path else None,
        provider=provider,
        model=model,
        pinned=pinned,
        pinned_since=since,
        problem=problem,
        last_pass=last_pass,
    )


def build_status(
    router: Router,
    models: Iterable[str],
    hermes: HermesView,
    *,
    paused: bool,
    daemon: DaemonInfo | None,
    errors: tuple[str, ...] = (),
) -> StatusAnswer:
    """The `status` answer: `router`'s quotas (with paces) and its ranking for each routed model; `errors` the
    discovery failures the answerer knows (`discovery failed: <pid>: <why>`)."""
    routes = tuple(RouteView(model, tuple(router.ranked(model))) for model in models)
    paces = router.paces()
    return StatusAnswer(
        quotas=tuple(quota_to_json(q, paces) for q in router.quotas().values()),
        hermes=hermes,
        routes=routes,
        paused=paused,
        daemon=daemon,
        policy=router.policy,
        errors=errors,
    )
