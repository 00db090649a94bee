"""A demand trace rebuilt from the user's recorded window history, for `bhoga simulate` without `--trace`.

With bhogad's turn log (`bhoga._turnlog`) covering the period, `trace_from_turns` takes the logged turns as the
requests: the real model mix, turns served by metered APIs included. The windows are rebuilt from the history
either way, and a logged turn costs each subscription what its short window gained over the turns logged on it
(weighted by the learned turn costs of `bhoga._turncount` where known, so an Opus turn still costs more than a
Sonnet one). Without the log, `trace_from_history` estimates the requests from the history alone:

- Unit: one point of each subscription's shortest account-wide window (its capacity is 100 units). Another
  window's capacity is 100 × (points the short window gained) / (points it gained) over the same period, or
  scaled by length when it gained nothing.
- Demand: every point the short window gained between two observations becomes one request, spread evenly
  between them, of a model of the provider's family (Claude Code: Sonnet; Codex: GPT-5; Copilot: Sonnet).
  Demand served by metered APIs leaves no trace in the windows and is not in the trace.
- Resets: from each window's current reset time, stepped back by its length. Metered APIs with a credential
  are offered at list-like prices (Opus $0.40, other Claude $0.08, OpenAI $0.05 a request).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

from bhoga._history import Point
from bhoga._model import ANY_MODEL, ProviderQuota
from bhoga._pace import current_cycle
from bhoga._provider_entry import Kind
from bhoga._providers import PROVIDERS
from bhoga._record import record, replace
from bhoga._sim_trace import Metered, Subscription, Trace, Window
from bhoga._turnlog import LoggedTurn
from bhoga._values import human_duration
from bhoga.errors import BhogaError

# (pid, window key) → (when learned, {model: percent of the window per turn}), as `bhoga._inuse` keeps them.
Costs = Mapping[tuple[str, str], tuple[float, Mapping[str, float]]]

__all__ = ["DEMAND_MODEL", "trace_from_history", "trace_from_turns"]

DEMAND_MODEL = {"claude_code": "claude-sonnet-4-6", "openai-codex": "gpt-5.4", "github-copilot": "claude-sonnet-4-6"}
_PRICES = {
    "anthropic_api": (("opus", 0.40), ("*", 0.08)),
    "openai_api": (("*", 0.05),),
}


def _gained(points: Sequence[Point]) -> float:
    """Points gained over `points`, counting each cycle from its own start (a reset is not negative use)."""
    total = 0.0
    for a, b in itertools.pairwise(points):
        if current_cycle([a, b])[0] is a:  # same cycle
            total += max(0.0, b.pct_used - a.pct_used)
    return total


def _first_reset_min(resets_at: datetime | None, minutes: int, start: datetime) -> float:
    if resets_at is None or minutes <= 0:
        return float(minutes or 300)
    period = timedelta(minutes=minutes)
    offset = (resets_at - start) % period
    return offset.total_seconds() / 60 or float(minutes)


@record
class _Rebuilt:
    """The subscriptions rebuilt from the history, each one's short window and the points it gained, and the
    estimated requests (one a point gained)."""

    subs: tuple[Subscription, ...]
    gained: tuple[tuple[str, str, float], ...]
    estimate: tuple[tuple[float, str], ...]


def _rebuild(
    quotas: Sequence[ProviderQuota], history: Mapping[tuple[str, str], Sequence[Point]], start: datetime
) -> _Rebuilt:
    subs: list[Subscription] = []
    gained: list[tuple[str, str, float]] = []
    requests: list[tuple[float, str]] = []
    for q in quotas:
        prov = PROVIDERS.get(q.provider_id)
        if prov is None or prov.kind is not Kind.SUBSCRIPTION or not q.windows:
            continue
        account = [w for w in q.windows if w.scope == ANY_MODEL and w.window_min > 0] or list(q.windows)
        short = min(account, key=lambda w: w.window_min or 10**9)
        short_pts = [p for p in history.get((q.provider_id, short.key), ()) if p.at >= start]
        if len(short_pts) < 2:
            continue
        s_gain = _gained(short_pts)
        gained.append((q.provider_id, short.key, s_gain))
        windows = []
        for w in q.windows:
            pts = [p for p in history.get((q.provider_id, w.key), ()) if p.at >= start]
            if w is short:
                cap = 100.0
            else:
                gain = _gained(pts)
                ratio = (w.window_min or short.window_min) / max(short.window_min, 1)
                cap = 100.0 * s_gain / gain if gain > 0 and s_gain > 0 else 100.0 * max(ratio, 1.0)
            used = (pts[0].pct_used if pts else w.pct_used) * cap / 100.0
            minutes = w.window_min or short.window_min or 300
            windows.append(Window(w.name, minutes, cap, _first_reset_min(w.resets_at, minutes, start), w.scope, used))
        subs.append(Subscription(q.provider_id, tuple(windows), headers=True, poll_minutes=5.0))
        model = DEMAND_MODEL.get(q.provider_id, "claude-sonnet-4-6")
        for a, b in itertools.pairwise(short_pts):
            if current_cycle([a, b])[0] is not a:
                continue
            n = round(b.pct_used - a.pct_used)
            span = (b.at - a.at).total_seconds()
            base = (a.at - start).total_seconds()
            requests.extend((base + span * (i + 1) / (n + 1), model) for i in range(max(0, n)))
    return _Rebuilt(tuple(subs), tuple(gained), tuple(sorted(requests)))


def _metered(quotas: Sequence[ProviderQuota], served: Collection[str] = ()) -> tuple[Metered, ...]:
    """The metered APIs with a credential now, or that served a logged turn, at list-like prices."""
    pids = [q.provider_id for q in quotas if q.credential] + list(served)
    return tuple(
        Metered(pid, _PRICES.get(pid, (("*", 0.05),)))
        for pid in dict.fromkeys(pids)
        if pid in PROVIDERS and PROVIDERS[pid].kind is Kind.METERED
    )


def trace_from_history(
    quotas: Sequence[ProviderQuota],
    history: Mapping[tuple[str, str], Sequence[Point]],
    now: datetime,
    days: float,
) -> Trace:
    """The trace of the last `days` days, its demand estimated from the history; `BhogaError` when the history
    has nothing to replay."""
    start = now - timedelta(days=days)
    rebuilt = _rebuild(quotas, history, start)
    if not rebuilt.estimate:
        raise BhogaError(
            f"no recorded use in the last {days:g} days to replay; bhoga records window history while bhogad "
            "(or any Router) runs — or pass --trace FILE"
        )
    return Trace(
        "recorded history",
        start,
        days,
        rebuilt.subs,
        _metered(quotas),
        rebuilt.estimate,
        "rebuilt from the window history: demand that went to metered APIs is not in it",
    )


def _costs(
    pid: str, key: str, gain: float, turns: Sequence[LoggedTurn], learned: Costs
) -> tuple[tuple[str, float], ...]:
    """What a turn of each model costs subscription `pid` in units of its short window `key`: the learned costs'
    ratios (1 where unknown), scaled so that the turns logged on it cost what the window gained."""
    weights = {m: c for m, c in learned.get((pid, key), (0.0, {}))[1].items() if c > 0}
    default = sum(weights.values()) / len(weights) if weights else 1.0
    models = {t.model for t in turns}
    mine = sum(t.n * weights.get(t.model, default) for t in turns if t.pid == pid)
    scale = gain / mine if gain > 0 and mine > 0 else 1.0
    table = {m.lower(): weights.get(m, default) * scale for m in models}
    return (("*", default * scale), *sorted(table.items()))


def trace_from_turns(
    quotas: Sequence[ProviderQuota],
    history: Mapping[tuple[str, str], Sequence[Point]],
    turns: Sequence[LoggedTurn],
    since: float,
    now: datetime,
    days: float,
    learned: Costs | None = None,
    gaps: Sequence[tuple[float, float]] = (),
) -> Trace | None:
    """The trace of the last `days` days (or of the part of them the log covers: it is complete from `since`,
    epoch seconds) with the logged `turns` as its requests; None when no turn was logged in it. `gaps` are the
    stretches the log has no record of (`TurnLog.gaps`): they are replayed as idle, and the note says how long."""
    start = max(now - timedelta(days=days), datetime.fromtimestamp(since, now.tzinfo))
    t0 = start.timestamp()
    mine = [t for t in turns if t0 <= t.at <= now.timestamp()]
    if not mine:
        return None
    requests = sorted((t.at - t0 + (i + 0.5) / t.n, t.model) for t in mine for i in range(t.n))
    rebuilt = _rebuild(quotas, history, start)
    subs = tuple(
        replace(s, cost=_costs(pid, key, gain, mine, learned or {}))
        for s in rebuilt.subs
        for pid, key, gain in rebuilt.gained
        if pid == s.pid
    )
    metered = {t.pid for t in mine if PROVIDERS[t.pid].kind is Kind.METERED}
    paid = sum(t.n for t in mine if t.pid in metered)
    covered = (now - start).total_seconds() / 86400
    note = f"demand: {len(requests):,} logged turns" + (f", {paid:,} of them served by metered APIs" if paid else "")
    if covered < days - 1e-6:
        note += f"; the turn log begins {human_duration(now - start)} ago, so only that is replayed"
    dark = sum(max(0.0, min(b, now.timestamp()) - max(a, t0)) for a, b in gaps)
    if dark >= 60:
        note += (
            f"; bhogad was not running (or the machine slept) for {human_duration(timedelta(seconds=dark))} of it:"
            " no turn was logged then, so those hours replay as idle"
        )
    metered_apis = _metered(quotas, sorted(metered))
    return Trace("recorded turns", start, covered, subs, metered_apis, tuple(requests), note, unlogged=dark)
