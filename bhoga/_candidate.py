"""A routing candidate: its tier, its place in the ranking, and the words that explain it (pure: no I/O, no clock).

`bhoga._routing` evaluates each provider into a `_Candidate` and ranks them by `_sort_key` (its "theory of
operation", points 3 and 4); every reason a ranking or a switch gives is built here from the candidates' states,
so a provider's standing reads the same in `best`, `status` and a flip's log line.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum

from bhoga._model import ProviderStatus, QuotaWindow, RouterRecommendation
from bhoga._provider_entry import Kind, Provider
from bhoga._providers import to_hermes_model
from bhoga._record import record
from bhoga._values import human_duration, window_label

__all__ = ["Tier"]


class Tier(IntEnum):
    """Ranking tiers, best first (`bhoga._routing`, point 3); a candidate in a better tier always ranks ahead."""

    SUBSCRIPTION = 0
    """A subscription at or above the reserve."""
    METERED = 1
    """A metered API with a known budget at or above the reserve."""
    UNKNOWN = 2
    """Quota unknown (subscriptions first, then by priority)."""
    KEPT = 3
    """Policy "value": a subscription forecast to run out, kept for models it saves more on."""
    LOW = 4
    """Below the reserve."""
    UNVERIFIED = 5
    """Usable, but the provider never accepted the credential."""
    WALL = 6
    """Throttled or exhausted: never chosen while anything else is usable."""


@record
class _Candidate:
    """How one provider stands for one model at one moment."""

    provider: Provider
    headroom: float
    binding: QuotaWindow | None
    status: ProviderStatus
    tier: Tier
    until: datetime | None
    """When a throttle ends or the binding window resets."""
    runs_out: datetime | None = None
    """Policy "pace" only: when the binding window runs out at its pace, if that is before its reset."""
    at_reset: float | None = None
    """Policy "pace" only: the binding window's percent used at its reset at this pace, None when unknown."""
    kept: str | None = None
    """Policy "value" only: the model in use this (short) window is kept for instead of this one."""
    soft: bool = False
    """Policy "value" only: kept, but still better than paying (ranks after the other subscriptions)."""
    contested: str | None = None
    """Policy "value" only: a model in use this window would rather serve, were it short."""
    projected: float | None = None
    """Policy "value" only: the binding window's percent used at its reset at its average rate this cycle."""


def _sort_key(c: _Candidate, policy: str) -> tuple[object, ...]:
    if c.tier == Tier.WALL:
        return (c.tier, c.until.timestamp() if c.until else float("inf"), c.provider.priority)
    if c.tier == Tier.UNKNOWN:
        return (c.tier, c.provider.kind is not Kind.SUBSCRIPTION, c.provider.priority, 0.0)
    if c.tier == Tier.SUBSCRIPTION and policy == "drain-soonest":
        return (c.tier, 0 if c.until else 1, c.until.timestamp() if c.until else 0.0, -c.headroom, c.provider.priority)
    if c.tier == Tier.SUBSCRIPTION and policy == "pace":
        # Forecast to run out before its reset: it will be used up anyway, so it counts for less.
        return (
            c.tier,
            c.runs_out is not None,
            c.until.timestamp() if c.until else float("inf"),
            -c.headroom,
            c.provider.priority,
        )
    if c.tier == Tier.SUBSCRIPTION and policy == "value":
        # Use it or lose it: the window that resets first; a short window that stays a candidate is the best
        # use of itself (`bhoga._value`), so unlike "pace" it is not put last.
        return (c.tier, c.soft, c.until.timestamp() if c.until else float("inf"), -c.headroom, c.provider.priority)
    return (c.tier, -c.headroom, c.provider.priority)


def _pct(x: float) -> str:
    return f"{round(x * 100)}%"


def _state_text(c: _Candidate, now: datetime, reserve: float) -> str:
    pid = c.provider.id
    label = window_label(c.binding.name, c.binding.scope) if c.binding else ""
    if c.status is ProviderStatus.THROTTLED:
        return (
            f"{pid} throttled for {human_duration((c.until - now).total_seconds())}" if c.until else f"{pid} throttled"
        )
    if c.status is ProviderStatus.EXHAUSTED:
        resets = f", resets in {human_duration((c.until - now).total_seconds())}" if c.until else ""
        return f"{pid} {label} window exhausted{resets}"
    if c.status is ProviderStatus.LOW:
        return f"{pid} {label} window {_pct(c.headroom)} < reserve {_pct(reserve)}"
    if c.status is ProviderStatus.UNKNOWN:
        return f"{pid} quota unknown"
    resets = f", resets in {human_duration((c.until - now).total_seconds())}" if c.until else ""
    if c.runs_out is not None:
        resets = f", runs out in {human_duration((c.runs_out - now).total_seconds())} at this pace{resets}"
    if c.kept is not None:
        return f"{pid} {_pct(c.headroom)} left in {label} window{resets}: kept for {c.kept}"
    return f"{pid} {_pct(c.headroom)} left in {label} window{resets}"


def _state(c: _Candidate, now: datetime, reserve: float) -> str:
    text = _state_text(c, now, reserve)
    return f"{text} (credential not yet accepted by the provider)" if c.tier == Tier.UNVERIFIED else text


def _reason(ranked: list[_Candidate], now: datetime, reserve: float) -> str:
    win = ranked[0]
    # A provider the user would prefer (lower priority number) that lost explains the choice best.
    passed_over = [c for c in ranked[1:] if c.provider.priority < win.provider.priority]
    if passed_over:
        return f"{_state(passed_over[0], now, reserve)} → {win.provider.id}"
    if win.status not in (ProviderStatus.OK, ProviderStatus.UNKNOWN):
        others = " and ".join(_state(c, now, reserve) for c in ranked[1:3])
        tail = f"; {others}" if others else ""
        return f"{_state(win, now, reserve)}{tail}; nothing better → {win.provider.id}"
    if len(ranked) == 1:
        return f"{_state(win, now, reserve)}; only candidate → {win.provider.id}"
    return f"{_state(win, now, reserve)}, ahead of {_state(ranked[1], now, reserve)} → {win.provider.id}"


def _recommend(c: _Candidate, model: str, reason: str) -> RouterRecommendation:
    return RouterRecommendation(
        provider_id=c.provider.id,
        model_id=model,
        quota_pct=round(c.headroom, 4) if c.headroom >= 0 else -1.0,
        status=c.status,
        hermes_model=to_hermes_model(c.provider.id, model),
        priority=c.provider.priority,
        reason=reason,
        binding_window=c.binding.key if c.binding else "",
        resets_at=c.until,
    )


def _recommendations(
    ranked: list[_Candidate], model: str, now: datetime, reserve: float
) -> tuple[RouterRecommendation, ...]:
    if not ranked:
        return ()
    first = _recommend(ranked[0], model, _reason(ranked, now, reserve))
    return (first, *(_recommend(c, model, _state(c, now, reserve)) for c in ranked[1:]))
