"""The offline optimum of a trace: a linear program with full knowledge of the demand.

Model (the simulator's, see `bhoga._sim_trace`): between two resets nothing about capacity changes, so the order
of requests inside such a stretch does not matter. Requests are grouped by (model, the cycle every window is in);
variable x[g, p] is how many requests of group g go to route p, u[g] how many go unserved.

    minimize   Σ price(p, m)·x[g, p]  +  1000·Σ u[g]  -  1e-6·Σ units used in cycles that reset in the trace
    subject to Σ_p x[g, p] + u[g] = demand(g)                               for every group g
               Σ_{g in cycle c, p = owner(c)} cost(p, m)·x[g, p] ≤ capacity(c) for every window cycle c
               x, u ≥ 0

It is solved as a linear program (scipy's HiGHS). Its optimum is a lower bound on the spend of *any* policy,
fractional requests allowed, that respects the capacities; the tiny last term picks, among the cheapest plans,
the one that leaves the least capacity unused at resets, which is how `unused_pct` is then measured. Real
providers let the last request of a window go over its capacity; the simulated policies get that slack, the
optimum does not, so the comparison is, if anything, tilted against the optimum.

`first_stretch` gives the same program's plan for the requests before any window's first reset, with each
request weighted (a forecast's expected requests): `benchmarks.routing_plan` re-plans with it as a trace goes on.

scipy is needed only here and is loaded when the optimum is asked for (`pip install 'bhoga[bench]'`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence

from bhoga._record import record
from bhoga._sim_trace import Trace, Window
from bhoga._simulate import Result, World
from bhoga._value import lookup
from bhoga.errors import BhogaError

__all__ = ["first_stretch", "optimum"]

_BIG = 1000.0
_EPS = 1e-6


def _cycle(first_reset_s: float, minutes: int, t: float) -> int:
    """0 before the first reset, then one more per reset passed (a reset at t belongs to the new cycle)."""
    return 0 if t < first_reset_s else int((t - first_reset_s) // (minutes * 60)) + 1


Caps = Callable[[str, str, int, float], float]
"""`(pid, window key, cycle, units the cycle has) -> units the optimum may use of it` (a diagnostic's what-if)."""


@record
class _Solved:
    """The program of a trace, solved: its window cycles, request groups, columns and their values."""

    world: World
    wins: list[tuple[str, Window]]
    groups: list[tuple[str, tuple[int, ...]]]
    demand: dict[tuple[str, tuple[int, ...]], float]
    cols: list[tuple[int, str | None]]
    x: list[float]


def optimum(trace: Trace, *, caps: Caps | None = None, integral: bool = False) -> Result:
    """The offline optimum of `trace` as a `Result` (policy "optimum"); `BhogaError` without scipy.

    `caps` changes what each window cycle may give (`benchmarks.routing_explain` asks what the optimum would pay
    with only the capacity a policy used); `integral` solves it in whole requests (a mixed-integer program).
    """
    solved = _solve(trace, None, caps, integral)
    world, wins, groups, demand, x = solved.world, solved.wins, solved.groups, solved.demand, solved.x
    end = world.end
    res = Result("optimum", trace.name, requests=round(sum(demand.values())), days=trace.days)
    used: dict[tuple[int, int], float] = defaultdict(float)
    unserved = 0.0
    for j, (gi, p) in enumerate(solved.cols):
        model, cyc = groups[gi]
        if p is None:
            unserved += x[j]
        elif p in world.metered:
            res.spend += x[j] * lookup(world.metered[p].price, model, 0.05)
            res.served_by[p] = res.served_by.get(p, 0) + round(x[j])
        else:
            res.served_by[p] = res.served_by.get(p, 0) + round(x[j])
            cost = lookup(world.subs[p].cost, model, 1.0)
            for wi, (pid, w) in enumerate(wins):
                if pid == p and w.binds(model):
                    used[(wi, cyc[wi])] += cost * x[j]
    left = cap = 0.0
    for wi, (_pid, w) in enumerate(wins):
        first = w.first_reset_min * 60
        k = 0
        while first + k * w.minutes * 60 <= end:
            start_used = w.used if k == 0 else 0.0
            left += max(0.0, w.capacity - start_used - used[(wi, k)])
            cap += w.capacity
            k += 1
    res.unused_pct = 100.0 * left / cap if cap else 0.0
    res.spend = round(res.spend, 4)
    res.unserved = math.floor(unserved + 1e-6)
    return res


def first_stretch(trace: Trace, weights: Sequence[float]) -> dict[str, dict[str, float]]:
    """The optimum's plan for the requests of `trace` before any window's first reset: `{model: {route: requests}}`
    (None is "unserved"), each request `i` counting `weights[i]` (a forecast's expected requests); `BhogaError`
    without scipy. `benchmarks.routing_plan` re-plans with it as a trace goes on."""
    solved = _solve(trace, weights, None, False)
    plan: dict[str, dict[str, float]] = {}
    for j, (gi, p) in enumerate(solved.cols):
        model, cyc = solved.groups[gi]
        if p is not None and not any(cyc):
            per = plan.setdefault(model, {})
            per[p] = per.get(p, 0.0) + solved.x[j]
    return plan


def _solve(trace: Trace, weights: Sequence[float] | None, caps: Caps | None, integral: bool) -> _Solved:
    try:
        from scipy.optimize import Bounds, LinearConstraint, linprog, milp  # noqa: PLC0415 - optional, heavy
        from scipy.sparse import coo_matrix  # noqa: PLC0415
    except ImportError:
        raise BhogaError("the offline optimum needs scipy: pip install 'bhoga[bench]'") from None
    world = World(trace)
    end = world.end
    wins = [(s.pid, w) for s in trace.subscriptions for w in s.windows]
    demand: dict[tuple[str, tuple[int, ...]], float] = defaultdict(float)
    for i, (t, model) in enumerate(trace.requests):
        if t <= end:
            demand[(model, tuple(_cycle(w.first_reset_min * 60, w.minutes, t) for _, w in wins))] += (
                1.0 if weights is None else weights[i]
            )
    groups = sorted(demand)
    cols: list[tuple[int, str | None]] = []  # (group, route or None for unserved)
    for gi, (model, _) in enumerate(groups):
        cols.extend((gi, p) for p in world.candidates(model))
        cols.append((gi, None))
    c = []
    for gi, p in cols:
        model = groups[gi][0]
        if p is None:
            c.append(_BIG)
        elif p in world.metered:
            c.append(lookup(world.metered[p].price, model, 0.05))
        else:
            cost = lookup(world.subs[p].cost, model, 1.0)
            cyc = groups[gi][1]
            resetting = sum(
                1
                for wi, (pid, w) in enumerate(wins)
                if pid == p and w.binds(model) and w.first_reset_min * 60 + cyc[wi] * w.minutes * 60 <= end
            )
            c.append(-_EPS * cost * resetting)
    eq_r: list[int] = []
    eq_c: list[int] = []
    eq_v: list[float] = []
    for j, (gi, _) in enumerate(cols):
        eq_r.append(gi)
        eq_c.append(j)
        eq_v.append(1.0)
    b_eq = [float(demand[g]) for g in groups]
    ub_rows: dict[tuple[int, int], int] = {}
    ub_r: list[int] = []
    ub_c: list[int] = []
    ub_v: list[float] = []
    b_ub: list[float] = []
    for j, (gi, p) in enumerate(cols):
        if p is None or p not in world.subs:
            continue
        model, cyc = groups[gi]
        cost = lookup(world.subs[p].cost, model, 1.0)
        for wi, (pid, w) in enumerate(wins):
            if pid != p or not w.binds(model):
                continue
            row = ub_rows.get((wi, cyc[wi]))
            if row is None:
                row = ub_rows[(wi, cyc[wi])] = len(b_ub)
                has = w.capacity - (w.used if cyc[wi] == 0 else 0.0)
                b_ub.append(caps(pid, w.key, cyc[wi], has) if caps else has)
            ub_r.append(row)
            ub_c.append(j)
            ub_v.append(cost)
    n = len(cols)
    a_eq = coo_matrix((eq_v, (eq_r, eq_c)), shape=(len(groups), n))
    a_ub = coo_matrix((ub_v, (ub_r, ub_c)), shape=(len(b_ub), n)) if b_ub else None
    b_ub = [max(0.0, b) for b in b_ub]
    if integral:
        cons = [LinearConstraint(a_eq, b_eq, b_eq)]
        if a_ub is not None:
            cons.append(LinearConstraint(a_ub, -math.inf, b_ub))
        sol = milp(c, constraints=cons, integrality=[1] * n, bounds=Bounds(0, math.inf))
    else:
        kw: dict[str, object] = {} if a_ub is None else {"A_ub": a_ub, "b_ub": b_ub}
        sol = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs", **kw)
    if not sol.success:
        raise BhogaError(f"the optimum's linear program failed: {sol.message}")
    return _Solved(world, wins, groups, dict(demand), cols, list(sol.x))
