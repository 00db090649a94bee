"""The optimum's own plan, made again and again as a trace goes on: `python -m benchmarks.routing_plan`.

A diagnostic, not a policy (it needs scipy, and reads the true state of every window). Every 15 minutes of the
trace it solves the optimum's linear program (`bhoga._sim_optimum.first_stretch`) from the windows as they stand
over the next 7 days, and routes each request as that plan says for the stretch until the next reset of any
window: a route the plan gives the request's model requests on (the model's current route first, so it does not
move for nothing), else, past the plan, `value` as usual. It runs with two kinds of demand:

- **demand known**: the trace's own requests for the next 7 days (it reads the future);
- **next 5 h known**: the trace's requests of the next 5 hours, the forecast below after them;
- **demand forecast**: what an online policy could know: each model's average requests per weekday and per
  weekend day over the whole days seen so far, spread evenly over 8:00-19:00 of each coming day (the hours of
  the traces' sessions, which only flatters it); `value` routes until a whole day has been seen.

If the first comes near the optimum and the second does not, what an online policy lacks is the demand, not a
better rule for a known demand.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar
from unittest import mock

import bhoga._simulate as sim
from bhoga._sim_optimum import first_stretch, optimum
from bhoga._sim_trace import Subscription, Trace, Window, load_trace

from .routing_explain import TRACES

HORIZON_DAYS = 7
_EVERY = 900.0
"""Seconds of the trace between two plans."""
_DAY = 86400.0
_WORK = (8, 19)
"""The working hours the forecast spreads a day's requests over."""

Demand = Callable[["_PlanCore", float], list[tuple[float, str, float]] | None]
"""`(policy, t) -> [(seconds, model, expected requests), ...]` for the next `HORIZON_DAYS`, None when unknown."""


class _PlanCore(sim._Core):
    """`value`, routing by the optimum's plan made from `demand` wherever that plan has room."""

    demand: ClassVar[Demand]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.seen: list[tuple[float, str]] = []
        self.planned_at = -1e18
        self.plan: dict[str, dict[str, float]] | None = None

    def choose(self, model: str, t: float, now: datetime, tried: set[str]) -> str | None:
        if not tried:
            self.seen.append((t, model))
        if t - self.planned_at >= _EVERY:
            self.planned_at = t
            self.plan = self._replan(t)
        pid = self._planned(model, tried, now)
        if pid is None:
            return super().choose(model, t, now, tried)
        self._poll(t, now)
        self.models.add(model)
        self.current[model] = pid
        self.plan[model][pid] -= 1.0  # type: ignore[index]
        return pid

    def _planned(self, model: str, tried: set[str], now: datetime) -> str | None:
        room = {
            p: n
            for p, n in (self.plan or {}).get(model, {}).items()
            if n >= 0.5 and p not in tried and not self._full(p, model, now)
        }
        if not room:
            return None
        cur = self.current.get(model)
        if cur in room:
            return cur
        return max(room, key=lambda p: (p in self.world.subs, room[p]))

    def _full(self, pid: str, model: str, now: datetime) -> bool:
        """Whether what this policy has seen of subscription `pid` shows it cannot take `model` now."""
        q = self.view.get(pid)
        if q is None or pid not in self.world.subs:
            return False
        if q.throttled_until is not None and q.throttled_until > now:
            return True
        return any(w.pct_used >= 100 for w in q.windows if w.applies_to(model))

    def _replan(self, t: float) -> dict[str, dict[str, float]] | None:
        demand = type(self).demand(self, t)
        if demand is None:
            return None
        trace = _from_now(self.world, t, demand)
        return first_stretch(trace, [w for _, _, w in demand])


def _from_now(world: sim.World, t: float, demand: list[tuple[float, str, float]]) -> Trace:
    """The next `HORIZON_DAYS` as a trace: every window as it stands at `t`, and `demand`'s requests."""
    subs = tuple(
        Subscription(
            s.pid,
            tuple(
                Window(w.name, w.minutes, w.capacity, (w.next_reset - t) / 60, w.scope, w.used)
                for w in world.wins[s.pid]
            ),
            s.headers,
            s.poll_minutes,
            s.cost,
        )
        for s in world.trace.subscriptions
    )
    reqs = tuple((at - t, m) for at, m, _ in demand)
    start = world.trace.start + timedelta(seconds=t)
    return Trace("plan", start, HORIZON_DAYS, subs, world.trace.metered, reqs)


def known(core: _PlanCore, t: float) -> list[tuple[float, str, float]]:
    """The trace's own requests of the next `HORIZON_DAYS` (the future)."""
    end = t + HORIZON_DAYS * _DAY
    return [(at, m, 1.0) for at, m in core.world.trace.requests if t <= at < end]


def forecast(core: _PlanCore, t: float) -> list[tuple[float, str, float]] | None:
    """Each model's average requests per weekday / weekend day so far, spread over the coming working hours."""
    today = int(t // _DAY)
    if today < 1:
        return None
    first = core.world.trace.start.weekday()

    def weekend(day: int) -> bool:
        return (first + day) % 7 >= 5

    days = {False: 0, True: 0}
    for d in range(today):
        days[weekend(d)] += 1
    per_day: dict[tuple[bool, str], float] = {}
    for at, m in core.seen:
        d = int(at // _DAY)
        if d < today:
            per_day[(weekend(d), m)] = per_day.get((weekend(d), m), 0.0) + 1.0
    out: list[tuple[float, str, float]] = []
    hours = _WORK[1] - _WORK[0]
    for h in range(int(t // 3600), int((t + HORIZON_DAYS * _DAY) // 3600)):
        day, hour = divmod(h, 24)
        if not _WORK[0] <= hour < _WORK[1]:
            continue
        kind = weekend(day) if days[weekend(day)] else not weekend(day)
        at = max(t, (h + 0.5) * 3600)
        for (w, m), n in per_day.items():
            if w == kind:
                out.append((at, m, n / days[kind] / hours))
    return out


def next_hours(core: _PlanCore, t: float) -> list[tuple[float, str, float]]:
    """The trace's requests of the next 5 hours, then the forecast (none before a whole day is seen)."""
    end = t + 5 * 3600
    soon = [(at, m, 1.0) for at, m in core.world.trace.requests if t <= at < end]
    return soon + [r for r in forecast(core, t) or () if r[0] >= end]


@dataclass(frozen=True, slots=True)
class Row:
    trace: str
    optimum: float
    value: sim.Result
    known: sim.Result
    soon: sim.Result
    forecast: sim.Result


def run(trace: Trace, demand: Demand) -> sim.Result:
    """`value` routing by plans made from `demand` over `trace`."""
    _PlanCore.demand = staticmethod(demand)
    with mock.patch.object(sim, "_Core", _PlanCore):
        return sim.simulate(trace, "value")


def row(trace: Trace) -> Row:
    return Row(
        trace.name,
        optimum(trace).spend,
        sim.simulate(trace, "value"),
        run(trace, known),
        run(trace, next_hours),
        run(trace, forecast),
    )


def table(rows: list[Row]) -> str:
    lines = [
        "`value` routing by the optimum's plan, made every 15 minutes over the next 7 days (dollars, and % over the "
        "optimum's spend)",
        "",
        "| trace | optimum | value | plan, demand known | plan, next 5 h known | plan, demand forecast |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:

        def cell(res: sim.Result, o: float = r.optimum) -> str:
            pct = f"{(res.spend - o) / o * 100:+.1f} %" if o else "—"
            extra = f", {res.unserved} unserved" if res.unserved else ""
            walls = f", {res.avoidable_walls} avoidable walls" if res.avoidable_walls else ""
            return f"${res.spend:.2f} ({pct}{extra}{walls}; max {res.max_flips_hour} flips/h)"

        cells = " | ".join(cell(res) for res in (r.value, r.known, r.soon, r.forecast))
        lines.append(f"| {r.trace} | ${r.optimum:.2f} | {cells} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    names = set(argv)
    paths = [p for p in sorted(TRACES.glob("*.json")) if not names or p.stem in names]
    print(table([row(load_trace(p)) for p in paths]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
