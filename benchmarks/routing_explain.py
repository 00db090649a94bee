"""Where a policy's extra spend over the offline optimum comes from: `python -m benchmarks.routing_explain [POLICY]`.

A diagnostic, not a policy: it uses what no online policy has (the trace's future). For each committed trace it
splits `spend(policy) - spend(optimum)` exactly into three parts, each one a linear program over the same trace
(`bhoga._sim_optimum.optimum` with the capacity of every window cycle changed):

- **mix**: `spend(policy) - LP(each window cycle gives only what the policy used of it)`: what the same use of
  every window would have saved had it served the models (and hours) the optimum picks — e.g. Sonnet served from a
  5 h window that later ran out for Opus.
- **unused at resets**: `LP(what the policy used) - LP(cycles that reset inside the trace full, the last open
  cycle of each window as the policy left it)`: capacity the policy let reset unused (its reserve, its caution).
- **past the end**: `LP(... open cycles as the policy left them) - optimum`: the optimum also empties the cycles
  that reset after the trace ends (Copilot's month, the weekly windows), which an online policy keeps for days the
  trace does not show.

Beside them, other runs that are not parts of the sum: the policy with an **oracle forecast** (every window's
pace replaced by the trace's true demand until its reset for the models routed to it), the policy with
**foresight protection** (it pays for a request rather than take a short window's room that models saving more
per unit of it will ask for before its reset, as the trace says), the policy with **no reserve**, and the
**integer optimum** (whole requests, a mixed-integer program) against the fractional one.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar
from unittest import mock

import bhoga._simulate as sim
import bhoga._value as value_mod
from bhoga._model import ProviderQuota
from bhoga._pace import Pace
from bhoga._sim_optimum import Caps, optimum
from bhoga._sim_trace import Trace, load_trace
from bhoga._value import lookup

TRACES = Path(__file__).parent / "data" / "traces"
_DAY_MIN = 1440


class _OracleCore(sim._Core):
    """A bhoga policy whose forecasts are the truth: each window's use at its reset if the models routed to it
    now keep coming as the trace says (a diagnostic: it reads the future)."""

    times: ClassVar[dict[str, list[float]]] = {}
    """Every request's time, by model (the trace's future)."""

    def _forecast(self, quotas: tuple[ProviderQuota, ...], t: float, now: datetime) -> dict[tuple[str, str], Pace]:
        out: dict[tuple[str, str], Pace] = {}
        routed = {m for m, p in self.current.items() if p is not None}
        for pid, wins in self.world.wins.items():
            sub = self.world.subs[pid]
            for w in wins:
                end = min(w.next_reset, self.world.end)
                stream = []
                for m in routed:
                    if self.current[m] == pid and w.binds(m):
                        ts = self.times[m]
                        cost = lookup(sub.cost, m, 1.0)
                        stream += [(at, cost) for at in ts[bisect.bisect_right(ts, t) : bisect.bisect_right(ts, end)]]
                stream.sort()
                used, runs_out = w.used, None
                for at, cost in stream:
                    if used < w.capacity <= used + cost and runs_out is None:
                        runs_out = now + timedelta(seconds=at - t)
                    used += cost
                hours = max((w.next_reset - t) / 3600, 1e-6)
                out[(pid, w.key)] = Pace((used - w.used) / w.capacity * 100 / hours, runs_out, used / w.capacity * 100)
        return out


class _ForesightCore(sim._Core):
    """A bhoga policy that knows the next hours: before it gives a request room on a window shorter than a day, it
    counts the units that models saving more per unit of that subscription will ask of it before its reset (as
    the trace says; those the subscription's other windows would still let through), and routes the request
    elsewhere when they do not fit beside it (a diagnostic: it reads the future)."""

    times: ClassVar[dict[str, list[float]]] = {}

    def choose(self, model: str, t: float, now: datetime, tried: set[str]) -> str | None:
        pid = super().choose(model, t, now, tried)
        if pid is None or pid not in self.world.subs or not self._crowds_out(pid, model, t):
            return pid
        other = super().choose(model, t, now, tried | {pid})
        self.current[model] = pid  # the route stays; this one request goes elsewhere
        return other

    def _crowds_out(self, pid: str, model: str, t: float) -> bool:
        sub, wins = self.world.subs[pid], self.world.wins[pid]
        mine = lookup(sub.cost, model, 1.0)
        density = lookup(self.prices, model, 0.05) / mine
        for w in wins:
            if not w.binds(model) or w.minutes >= _DAY_MIN:
                continue
            need = 0.0
            for other, ts in self.times.items():
                cost = lookup(sub.cost, other, 1.0)
                if other == model or not w.binds(other) or lookup(self.prices, other, 0.05) / cost <= density:
                    continue
                if any(v.used + cost > v.capacity for v in wins if v is not w and v.binds(other)):
                    continue
                need += cost * (bisect.bisect_left(ts, w.next_reset) - bisect.bisect_right(ts, t))
            if w.capacity - w.used - mine < need:
                return True
        return False


def _future(trace: Trace) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    for at, model in trace.requests:
        times.setdefault(model, []).append(at)
    return times


@contextmanager
def _foresight(trace: Trace) -> Iterator[None]:
    _ForesightCore.times.clear()
    _ForesightCore.times.update(_future(trace))
    with mock.patch.object(sim, "_Core", _ForesightCore):
        yield


@contextmanager
def _oracle(trace: Trace) -> Iterator[None]:
    _OracleCore.times.clear()
    _OracleCore.times.update(_future(trace))
    # The cycle's average is a forecast too: with the truth known it adds nothing.
    with mock.patch.object(sim, "_Core", _OracleCore), mock.patch.object(value_mod, "cycle_projection", _none):
        yield


def _none(*_: object) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Split:
    trace: str
    spend: float
    optimum: float
    mix: float
    unused_short: float
    unused_long: float
    past_end: float
    integer: float
    oracle: sim.Result
    foresight: sim.Result
    no_reserve: sim.Result
    result: sim.Result


def explain(trace: Trace, policy: str = "value") -> Split:
    """The split of `policy`'s extra spend on `trace` (see the module docstring)."""
    r = sim.simulate(trace, policy)
    capacity = {(s.pid, w.key): w.capacity for s in trace.subscriptions for w in s.windows}
    minutes = {(s.pid, w.key): w.minutes for s in trace.subscriptions for w in s.windows}

    def used(pid: str, key: str, k: int, has: float) -> float:
        return has - (capacity[(pid, key)] - r.cycle_use[(pid, key)][k])

    def closed_full(short_only: bool) -> Caps:
        def caps(pid: str, key: str, k: int, has: float) -> float:
            closed = k < len(r.cycle_use[(pid, key)]) - 1
            if closed and (not short_only or minutes[(pid, key)] < _DAY_MIN):
                return max(has, used(pid, key, k, has))
            return used(pid, key, k, has)

        return caps

    opt = optimum(trace).spend
    at_use = optimum(trace, caps=used).spend
    at_short = optimum(trace, caps=closed_full(True)).spend
    at_closed = optimum(trace, caps=closed_full(False)).spend
    with _oracle(trace):
        oracle = sim.simulate(trace, policy)
    with _foresight(trace):
        foresight = sim.simulate(trace, policy)
    return Split(
        trace.name,
        r.spend,
        opt,
        r.spend - at_use,
        at_use - at_short,
        at_short - at_closed,
        at_closed - opt,
        optimum(trace, integral=True).spend,
        oracle,
        foresight,
        sim.simulate(trace, policy, reserve=0.0),
        r,
    )


def _pct(x: float, base: float) -> str:
    return f"{x / base * 100:+.1f} %" if base else "—"


def table(splits: list[Split], policy: str) -> str:
    lines = [
        f"Where `{policy}`'s extra spend over the optimum comes from (dollars, and % of the optimum's spend)",
        "",
        f"| trace | optimum | {policy} | gap | mix | left at resets, < 1 day windows | left at resets, longer windows"
        " | past the end | integer optimum | oracle forecast | foresight protection | no reserve |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in splits:
        o = s.optimum
        gap = s.spend - o

        def cell(x: float, o: float = o) -> str:
            return f"${x:.2f} ({_pct(x, o)})"

        def run(res: sim.Result, o: float = o) -> str:
            extra = f", {res.unserved} unserved" if res.unserved else ""
            n = res.avoidable_walls
            walls = f", {n} avoidable wall{'s' if n > 1 else ''}" if n else ""
            return f"${res.spend:.2f} ({_pct(res.spend - o, o)}{extra}{walls})"

        unserved = f", {s.result.unserved} unserved" if s.result.unserved else ""
        lines.append(
            f"| {s.trace} | ${o:.2f} | ${s.spend:.2f}{unserved} | {cell(gap)} | {cell(s.mix)} | {cell(s.unused_short)} "
            f"| {cell(s.unused_long)} "
            f"| {cell(s.past_end)} | ${s.integer:.2f} ({_pct(s.integer - o, o)}) | {run(s.oracle)} "
            f"| {run(s.foresight)} | {run(s.no_reserve)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    policy = argv[0] if argv else "value"
    paths = sorted(TRACES.glob("*.json"))
    splits = [explain(load_trace(p), policy) for p in paths]
    print(table(splits, policy))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
