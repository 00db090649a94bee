"""A demand trace rebuilt from the user's recorded window history, for `bhoga simulate` without `--trace`.

What the history holds is how full each window was over time, not the requests themselves, so the trace is an
estimate, and `bhoga simulate` says so:

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
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from bhoga._history import Point
from bhoga._model import ANY_MODEL, ProviderQuota
from bhoga._pace import current_cycle
from bhoga._providers import PROVIDERS, Kind
from bhoga._sim_trace import Metered, Subscription, Trace, Window
from bhoga.errors import BhogaError

__all__ = ["DEMAND_MODEL", "trace_from_history"]

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


def trace_from_history(
    quotas: Sequence[ProviderQuota],
    history: Mapping[tuple[str, str], Sequence[Point]],
    now: datetime,
    days: float,
) -> Trace:
    """The trace of the last `days` days; `BhogaError` when the history has nothing to replay."""
    start = now - timedelta(days=days)
    subs: list[Subscription] = []
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
    if not requests:
        raise BhogaError(
            f"no recorded use in the last {days:g} days to replay; bhoga records window history while bhogad "
            "(or any Router) runs — or pass --trace FILE"
        )
    metered = tuple(
        Metered(q.provider_id, _PRICES.get(q.provider_id, (("*", 0.05),)))
        for q in quotas
        if q.provider_id in PROVIDERS and PROVIDERS[q.provider_id].kind is Kind.METERED and q.credential
    )
    requests.sort()
    return Trace(
        "recorded history",
        start,
        days,
        tuple(subs),
        metered,
        tuple(requests),
        "rebuilt from the window history: demand that went to metered APIs is not in it",
    )
