"""The routing core: which provider should serve a model, and why (pure: no I/O, no clock, no threads).

Theory of operation (DESIGN §3):

1. Candidates are the providers in the model's family hierarchy that have been seen: a metered API needs a
   credential; a subscription needs a credential or a known window. Everything else is not a candidate.
2. A provider's headroom is the tightest of its windows that bind the model (5 h, 7 d, a per-model weekly
   window). A window whose reset has passed counts as full again. No window: headroom unknown (-1.0).
3. Tiers, best first: subscriptions at or above the reserve; metered APIs with a known budget at or above it;
   providers whose quota is unknown (subscriptions first, then by priority); anything below the reserve;
   and last, throttled or exhausted providers, which are thus never chosen while another is usable.
4. Within a tier: headroom, then priority. Policy "drain-soonest" orders the first tier by the reset of the
   binding window instead (use it or lose it). Policy "pace" (DESIGN §8.7) takes each window's forecast
   (`bhoga._pace`): a subscription whose binding window is forecast to run out before its reset counts for
   less (it ranks after those that are not); among the others the binding window that resets first wins. A
   window close to its reset counts for more: the reserve counts only the whole quarters of the window still
   ahead (a 10 % reserve is 7.5 % just after a reset, 2.5 % in a 5 h window's fourth hour, 0 in its last 75 min).
5. Anti-flap: the current provider is kept unless the best one is in a better tier or beats it by a margin,
   or the current one is throttled, exhausted, below the reserve or no longer a candidate. The margin speaks the
   policy's language: headroom points under "headroom"; under "drain-soonest", between two subscriptions above
   the reserve, a share of the current one's time left until its binding window resets; under "pace", away from a
   window running out more than the margin of its length before its reset, and back (by reset time, like
   drain-soonest) only to a window forecast to keep more than the margin unused.
6. Credentials (DESIGN §8.1): a rejected credential (401/403 for the same key or token) is not a candidate; an
   unverified one (a GitHub token Copilot never accepted) ranks after every usable verified candidate.

A metered API's per-minute headers never become windows (see `_calibrate`), so unlike quantities are never
compared; a `set_quota` on it is a budget figure and ranks as one.
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import IntEnum

from bhoga._merge import credential_state
from bhoga._model import ProviderQuota, ProviderStatus, QuotaWindow, RouterRecommendation
from bhoga._providers import PROVIDERS, Kind, Provider, hierarchy, to_hermes_model
from bhoga._record import record, replace
from bhoga._values import human_duration, window_label

# Annotations only: `bhoga._pace` is needed only by callers that compute paces.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping

    from bhoga._pace import Pace
    from bhoga._value import Economics

    Paces = Mapping[tuple[str, str], Pace]

__all__ = [
    "BASELINES",
    "DEFAULT_POLICY",
    "PACED",
    "POLICIES",
    "Tier",
    "decide",
    "evaluate",
    "human_duration",
    "metered_routes",
    "next_change",
    "rank",
    "should_switch",
]

_DAY_MIN = 1440
POLICIES = ("headroom", "drain-soonest", "pace", "value")
DEFAULT_POLICY = "value"
"""The policy used when none is named: the simulator's best on every committed trace (README, "The simulator")."""
PACED = ("pace", "value")
"""Policies that rank from the window history's forecasts (`paces`)."""
BASELINES = ("original", "failover", "round-robin")
"""Rules the simulator compares bhoga's policies with (the original bhoga, Hermes' failover, round-robin).

Never used to route; they live here so the CLI names them without loading the simulator."""


class Tier(IntEnum):
    """Ranking tiers, best first (point 3 above); a candidate in a better tier always ranks ahead."""

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


def _headroom(windows: Iterable[QuotaWindow], model: str, now: datetime) -> tuple[float, QuotaWindow | None]:
    best: tuple[float, QuotaWindow | None] = (-1.0, None)
    for w in windows:
        if not w.applies_to(model):
            continue
        passed = w.resets_at is not None and w.resets_at <= now
        left = 1.0 if passed else min(max(1.0 - w.pct_used / 100.0, 0.0), 1.0)
        if best[1] is None or left < best[0]:
            best = (left, w)
    return best


def _pace_reserve(
    prov: Provider, binding: QuotaWindow | None, pace: Pace | None, now: datetime, reserve: float
) -> float:
    """The reserve policy "pace" keeps on a subscription's binding window."""
    if prov.kind is not Kind.SUBSCRIPTION or binding is None or binding.resets_at is None or binding.resets_at <= now:
        return reserve
    if binding.window_min > 0:
        # The reserve is kept for the rest of the window: near the reset, little of it can still be needed. It
        # shrinks in quarters, not smoothly, so that each release is worth a move (a smooth one flaps).
        left = (binding.resets_at - now).total_seconds() / (binding.window_min * 60)
        return reserve * min(1.0, max(0.0, math.floor(left * 4) / 4))
    return reserve


def evaluate(
    q: ProviderQuota,
    model: str,
    now: datetime,
    reserve: float,
    *,
    policy: str = "headroom",
    paces: Paces | None = None,
    windows: Iterable[QuotaWindow] | None = None,
    econ: Economics | None = None,
) -> _Candidate | None:
    """How provider quota `q` stands for `model` at `now`; None when it is not a candidate.

    `paces` (`{(pid, window_key): Pace}`, see `bhoga._pace.paces`) is used by policy "pace" only. `windows`,
    when given, are the ones of `q.windows` that may bind `model` (an index's answer); by default all of them.
    """
    prov = PROVIDERS.get(q.provider_id)
    if prov is None:
        return None
    metered = prov.kind is Kind.METERED
    if (metered and not q.credential) or (not q.credential and not q.windows and q.throttled_until is None):
        return None
    cred = credential_state(q)
    if cred == "rejected":
        return None
    # An unverified credential (a GitHub token Copilot never accepted) ranks after every usable verified one.
    late = cred == "unverified"
    headroom, binding = _headroom(q.windows if windows is None else windows, model, now)
    reset = binding.resets_at if binding and binding.resets_at and binding.resets_at > now else None
    runs_out = at_reset = None
    if policy in PACED and binding is not None:
        pace = paces.get((q.provider_id, binding.key)) if paces else None
        shrunk = _pace_reserve(prov, binding, pace, now, reserve)
        # Under "value" a window of a day or longer keeps a quarter of the reserve to the end: between two polls
        # (Copilot's monthly one) a turn whose cost is not learned yet (one Opus turn is ten premium requests) must
        # not meet a wall the estimate could not see.
        floor = policy == "value" and binding.window_min >= _DAY_MIN
        reserve = max(shrunk, reserve / 4) if floor else shrunk
        runs_out = pace.runs_out_at if pace is not None and reset is not None else None
        at_reset = pace.pct_at_reset if pace is not None and reset is not None else None
    if q.throttled_until is not None and q.throttled_until > now:
        return _Candidate(prov, headroom, binding, ProviderStatus.THROTTLED, Tier.WALL, q.throttled_until)
    if binding is None:
        return _Candidate(prov, -1.0, None, ProviderStatus.UNKNOWN, Tier.UNVERIFIED if late else Tier.UNKNOWN, None)
    if headroom <= 0.0:
        return _Candidate(prov, 0.0, binding, ProviderStatus.EXHAUSTED, Tier.WALL, reset)
    if headroom < reserve:
        return _Candidate(prov, headroom, binding, ProviderStatus.LOW, Tier.UNVERIFIED if late else Tier.LOW, reset)
    tier = Tier.UNVERIFIED if late else (Tier.METERED if metered else Tier.SUBSCRIPTION)
    kept = None
    soft = False
    contested = projected = None
    if policy == "value" and tier is Tier.SUBSCRIPTION and econ is not None:
        from bhoga._value import cycle_projection, rival  # noqa: PLC0415 - only policy "value" needs it

        projected = cycle_projection(binding, now)
        found = rival(q.provider_id, binding, model, econ, headroom, now)
        if found is not None:
            contested, sole = found
            # The rival's only route: pay rather than take the last of it. Short by the recent pace or by the
            # cycle's average: use it only when no other subscription can. Paying instead was tried: a session's
            # burst looks short and then ends before the reset, leaving the window unused (README, simulator).
            if sole:
                kept, tier = contested, Tier.KEPT
            elif runs_out is not None or (projected is not None and projected > 100.0):
                kept, soft = contested, True
    return _Candidate(
        prov, headroom, binding, ProviderStatus.OK, tier, reset, runs_out, at_reset, kept, soft, contested, projected
    )


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


def _ranked(
    quotas: Iterable[ProviderQuota],
    model: str,
    now: datetime,
    reserve: float,
    policy: str,
    exclude: Collection[str],
    paces: Paces | None = None,
    econ: Economics | None = None,
) -> list[_Candidate]:
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose one of: {', '.join(POLICIES)}")
    allowed = set(hierarchy(model)) - set(exclude)
    if policy == "value" and econ is not None:
        quotas = tuple(quotas)
        econ = _with_metered(econ, quotas)
    cands = [
        c
        for q in quotas
        if q.provider_id in allowed
        if (c := evaluate(q, model, now, reserve, policy=policy, paces=paces, econ=econ)) is not None
    ]
    cands.sort(key=lambda c: _sort_key(c, policy))
    return cands


def _with_metered(econ: Economics, quotas: tuple[ProviderQuota, ...]) -> Economics:
    """`econ` knowing which metered APIs can take a request (a model with none has no price: it is priceless)."""
    usable = metered_routes(quotas)
    # The same set keeps `econ` and what it has worked out (`Economics.memo`); another set starts it anew.
    return econ if usable == econ.metered else replace(econ, metered=usable, memo={})


def metered_routes(quotas: Iterable[ProviderQuota]) -> frozenset[str]:
    """The metered APIs among `quotas` that can take a request: a credential, not rejected."""
    return frozenset(
        q.provider_id
        for q in quotas
        if (p := PROVIDERS.get(q.provider_id)) is not None
        and p.kind is Kind.METERED
        and q.credential
        and credential_state(q) != "rejected"
    )


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


def rank(
    quotas: Iterable[ProviderQuota],
    model: str,
    now: datetime,
    *,
    reserve: float = 0.10,
    policy: str = "headroom",
    exclude: Collection[str] = (),
    paces: Paces | None = None,
    econ: Economics | None = None,
) -> tuple[RouterRecommendation, ...]:
    """Every candidate for `model`, best first; the first one's reason explains the choice.

    `paces` (`{(pid, window_key): Pace}`) feeds policies "pace" and "value"; `econ` (`bhoga._value.Economics`)
    feeds "value"; the other policies ignore them.
    """
    ranked = _ranked(quotas, model, now, reserve, policy, exclude, paces, econ)
    return _recommendations(ranked, model, now, reserve)


def _recommendations(
    ranked: list[_Candidate], model: str, now: datetime, reserve: float
) -> tuple[RouterRecommendation, ...]:
    if not ranked:
        return ()
    first = _recommend(ranked[0], model, _reason(ranked, now, reserve))
    return (first, *(_recommend(c, model, _state(c, now, reserve)) for c in ranked[1:]))


def decide(
    current_pid: str | None,
    quotas: Iterable[ProviderQuota],
    model: str,
    now: datetime,
    *,
    margin: float = 0.10,
    reserve: float = 0.10,
    policy: str = "headroom",
    exclude: Collection[str] = (),
    paces: Paces | None = None,
    econ: Economics | None = None,
) -> tuple[bool, str, tuple[RouterRecommendation, ...]]:
    """`should_switch` and `rank` from one ranking: whether to move, why, and every candidate best first."""
    ranked = _ranked(quotas, model, now, reserve, policy, exclude, paces, econ)
    switch, reason = _switch(current_pid, ranked, model, now, margin, reserve, policy)
    return switch, reason, _recommendations(ranked, model, now, reserve)


def should_switch(
    current_pid: str | None,
    quotas: Iterable[ProviderQuota],
    model: str,
    now: datetime,
    *,
    margin: float = 0.10,
    reserve: float = 0.10,
    policy: str = "headroom",
    exclude: Collection[str] = (),
    paces: Paces | None = None,
    econ: Economics | None = None,
) -> tuple[bool, str]:
    """Whether to move from `current_pid` to the best provider, and a one-line reason either way."""
    ranked = _ranked(quotas, model, now, reserve, policy, exclude, paces, econ)
    return _switch(current_pid, ranked, model, now, margin, reserve, policy)


def _switch(
    current_pid: str | None,
    ranked: list[_Candidate],
    model: str,
    now: datetime,
    margin: float,
    reserve: float,
    policy: str,
) -> tuple[bool, str]:
    if not ranked:
        return False, f"no candidate for {model}"
    best = ranked[0]
    if current_pid == best.provider.id:
        return False, f"{best.provider.id} is still the best ({_state(best, now, reserve)})"
    current = next((c for c in ranked if c.provider.id == current_pid), None)
    to = f"→ {best.provider.id}"
    if current is None:
        why = f"{current_pid} is not a candidate for {model}" if current_pid else f"no provider set for {model}"
        return True, f"{why} {to}"
    if current.status in (ProviderStatus.THROTTLED, ProviderStatus.EXHAUSTED, ProviderStatus.LOW):
        return True, f"{_state(current, now, reserve)} {to}"
    if policy == "value" and _value_stays(best, current, margin):
        return False, f"keeping {current_pid}: {_state(best, now, reserve)} has less than the margin to spare"
    if best.tier < current.tier:
        return True, f"{_state(best, now, reserve)} beats {_state(current, now, reserve)} {to}"
    if policy == "value" and best.tier == current.tier == Tier.SUBSCRIPTION:
        return _drain_switch(best, current, now, margin, reserve)
    if policy == "pace" and best.tier == current.tier == Tier.SUBSCRIPTION:
        # In pace's own terms: leave a window only when it runs out before its reset by more than the margin of
        # its length, and only for one that does not; otherwise stay (moving back and forth costs more).
        if current.runs_out is not None and best.runs_out is None and _short_by(current) >= margin:
            return True, f"{_state(current, now, reserve)}; {_state(best, now, reserve)} {to}"
        if current.runs_out is None and best.runs_out is None:
            if best.at_reset is not None and best.at_reset > 100.0 * (1.0 - margin):
                # Close to running out already at its own pace: moving the current load onto it would tip it.
                return False, f"keeping {current_pid}: {_state(best, now, reserve)} has less than the margin to spare"
            return _drain_switch(best, current, now, margin, reserve)
        return False, f"keeping {current_pid}: {_state(current, now, reserve)}"
    if best.headroom < 0 or current.headroom < 0:
        # No margin can be measured; the ranking (subscription first, then priority) decides, and it is stable.
        if _sort_key(best, policy) < _sort_key(current, policy):
            return True, f"{_state(best, now, reserve)} ranks ahead of {_state(current, now, reserve)} {to}"
        return False, f"keeping {current_pid}: {_state(current, now, reserve)}"
    if policy == "drain-soonest" and best.tier == current.tier == Tier.SUBSCRIPTION:
        return _drain_switch(best, current, now, margin, reserve)
    if best.headroom - current.headroom >= margin:
        return True, (
            f"{best.provider.id} {_pct(best.headroom)} beats {current_pid} {_pct(current.headroom)}"
            f" by ≥ {_pct(margin)} {to}"
        )
    return False, (
        f"keeping {current_pid}: {best.provider.id} {_pct(best.headroom)} is within "
        f"{_pct(margin)} of {_pct(current.headroom)}"
    )


def _value_stays(best: _Candidate, current: _Candidate, margin: float) -> bool:
    """Policy "value"'s anti-flap: stay on a usable route rather than move onto a subscription forecast to end its
    cycle more than `1 - margin` full at its pace, when that window is another model's better use or the current
    route is a subscription too (moving the load onto it would tip it)."""
    if best.tier != Tier.SUBSCRIPTION or best.at_reset is None or best.at_reset <= 100.0 * (1.0 - margin):
        return False
    usable = current.status in (ProviderStatus.OK, ProviderStatus.UNKNOWN)
    return usable and (best.contested is not None or current.tier == Tier.SUBSCRIPTION)


def _drain_switch(
    best: _Candidate, current: _Candidate, now: datetime, margin: float, reserve: float
) -> tuple[bool, str]:
    """Anti-flap in drain-soonest's own measure, the time left until the binding window resets: move when the
    best one resets sooner by more than `margin` of the current one's time left."""
    to = f"→ {best.provider.id}"
    if best.until is None:
        return False, f"keeping {current.provider.id}: {_state(current, now, reserve)}"
    best_left = (best.until - now).total_seconds()
    if current.until is None:
        return True, f"{_state(best, now, reserve)}; {current.provider.id} reset unknown (drain-soonest) {to}"
    current_left = (current.until - now).total_seconds()
    if current_left - best_left > margin * current_left:
        return True, (
            f"{best.provider.id} resets in {human_duration(best_left)}, before {current.provider.id} in "
            f"{human_duration(current_left)} (drain-soonest) {to}"
        )
    return False, (
        f"keeping {current.provider.id}: {best.provider.id} resets in {human_duration(best_left)}, within "
        f"{_pct(margin)} of {current.provider.id}'s {human_duration(current_left)} (drain-soonest)"
    )


def _short_by(c: _Candidate) -> float:
    """How much earlier than its reset a window runs out, as a fraction of its length (1.0 when unknown)."""
    if c.runs_out is None or c.until is None or c.binding is None or c.binding.window_min <= 0:
        return 1.0 if c.runs_out is not None else 0.0
    return (c.until - c.runs_out).total_seconds() / (c.binding.window_min * 60)


def next_change(quotas: Iterable[ProviderQuota], now: datetime) -> datetime | None:
    """The next moment a ranking can change with no new observation (a reset or a throttle's end)."""
    times = [
        t for q in quotas for t in (q.throttled_until, *(w.resets_at for w in q.windows)) if t is not None and t > now
    ]
    return min(times, default=None)
