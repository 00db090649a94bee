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

from bhoga._antiflap import _switch
from bhoga._candidate import Tier, _Candidate, _recommendations, _sort_key
from bhoga._hierarchy import hierarchy
from bhoga._merge import credential_state
from bhoga._model import ProviderQuota, ProviderStatus, QuotaWindow, RouterRecommendation
from bhoga._provider_entry import Kind, Provider
from bhoga._providers import PROVIDERS
from bhoga._record import replace

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
    "decide",
    "evaluate",
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


def next_change(quotas: Iterable[ProviderQuota], now: datetime) -> datetime | None:
    """The next moment a ranking can change with no new observation (a reset or a throttle's end)."""
    times = [
        t for q in quotas for t in (q.throttled_until, *(w.resets_at for w in q.windows)) if t is not None and t > now
    ]
    return min(times, default=None)
