"""The routing simulator: replay a demand trace under a policy and measure what it costs (DESIGN §8.7).

bhoga's own policies ("headroom", "drain-soonest", "pace") are driven through the real routing core
(`bhoga._routing.rank` / `should_switch`, with `bhoga._pace` forecasts from a history kept by the real
`bhoga._history.Recorder`), exactly as the daemon does: one current route per model, moved only when
`should_switch` says so. The baselines are small re-implementations of what other tools do:

- "original": the first bhoga's rule, one number per provider: a subscription's headroom against a metered API's
  per-minute rate-limit headroom (`1 - requests in the last minute / 50`), highest wins.
- "failover": Hermes' `fallback_providers`: try the family's first provider every turn; after a 429 fall back to
  the next one, and leave a provider that answered 429 alone for 60 s.
- "round-robin": every request to the next candidate in turn, quota unseen.

Metrics per policy (`Result`): requests that hit a wall (429) while another route had quota ("avoidable"),
subscription capacity left unused at resets (all units left at every reset in the trace over all capacity that
reset, in percent), metered spend, and flips (the provider serving a model changed: each model is one harness's
route) per day over all models, and the most for one model in one clock hour.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta

from bhoga._hierarchy import hierarchy
from bhoga._model import ProviderQuota, QuotaWindow
from bhoga._providers import PROVIDERS
from bhoga._record import field, record
from bhoga._routing import BASELINES, DEFAULT_POLICY, POLICIES
from bhoga._sim_policies import _Core, _Failover, _Original, _Policy, _RoundRobin
from bhoga._sim_trace import Subscription, Trace
from bhoga._value import lookup

__all__ = ["BASELINES", "Result", "World", "fmt_table", "policy_names", "simulate", "verdict"]


def policy_names() -> tuple[str, ...]:
    """Every policy `simulate` knows, bhoga's first."""
    return (*POLICIES, *BASELINES)


@record(frozen=False)
class _Win:
    """One simulated window's capacity and use while a policy is replayed."""

    pid: str
    key: str
    name: str
    scope: str
    minutes: int
    capacity: float
    used: float
    next_reset: float

    def pct(self) -> float:
        return min(100.0, self.used / self.capacity * 100.0)

    def binds(self, model: str) -> bool:
        return self.scope == "*" or self.scope in model.lower()


class World:
    """The true state of every window; the policies only see what headers and polls show them."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.subs: dict[str, Subscription] = {s.pid: s for s in trace.subscriptions}
        self.wins: dict[str, list[_Win]] = {
            s.pid: [
                _Win(s.pid, w.key, w.name, w.scope, w.minutes, w.capacity, w.used, w.first_reset_min * 60)
                for w in s.windows
            ]
            for s in trace.subscriptions
        }
        self.metered = {m.pid: m for m in trace.metered}
        self.end = trace.days * 86400
        self.left_at_resets = 0.0
        self.capacity_reset = 0.0
        self.resets: list[tuple[str, str, float, float]] = []
        """(pid, window key, seconds, units left) for every reset inside the trace."""
        self.cycle_use: dict[tuple[str, str], list[float]] = {}
        """Units used in each cycle of each window, in order (the first counts what was used before the trace)."""

    def advance(self, t: float) -> None:
        """Apply every reset up to `t` seconds, counting what was left unused."""
        for wins in self.wins.values():
            for w in wins:
                while w.next_reset <= t:
                    if w.next_reset <= self.end:
                        left = max(0.0, w.capacity - w.used)
                        self.left_at_resets += left
                        self.capacity_reset += w.capacity
                        self.resets.append((w.pid, w.key, w.next_reset, left))
                        self.cycle_use.setdefault((w.pid, w.key), []).append(w.used)
                    w.used = 0.0
                    w.next_reset += w.minutes * 60

    def candidates(self, model: str) -> list[str]:
        """The routes that exist for `model`, in priority order."""
        return [p for p in hierarchy(model) if p in self.subs or p in self.metered]

    def can_serve(self, pid: str, model: str) -> bool:
        if pid in self.metered:
            return True
        return all(w.used < w.capacity for w in self.wins[pid] if w.binds(model))

    def serve(self, pid: str, model: str) -> float:
        """Serve one request; the dollars it cost (0 on a subscription)."""
        if pid in self.metered:
            return lookup(self.metered[pid].price, model, 0.05)
        cost = lookup(self.subs[pid].cost, model, 1.0)
        for w in self.wins[pid]:
            if w.binds(model):
                w.used += cost
        return 0.0

    def observe(self, pid: str, now: datetime, t: float) -> ProviderQuota:
        """What a header or a poll shows of subscription `pid` at `t` seconds."""
        windows = tuple(
            QuotaWindow(
                w.name, w.pct(), now + timedelta(seconds=w.next_reset - t), w.minutes, w.scope, now, "simulated"
            )
            for w in self.wins[pid]
        )
        return ProviderQuota(pid, windows=windows, credential=True, updated_at=now, verdict="verified")


@record(frozen=False)
class Result:
    """What one policy did on one trace."""

    policy: str
    trace: str
    requests: int = 0
    walls: int = 0
    avoidable_walls: int = 0
    unserved: int = 0
    unused_pct: float = 0.0
    spend: float = 0.0
    flips: int = 0
    days: float = 1.0
    max_flips_hour: int = 0
    served_by: dict[str, int] = field(default_factory=dict)
    cycle_use: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    """Units used in every cycle of every window, the cycle still open at the end last (`World.cycle_use`)."""

    @property
    def flips_per_day(self) -> float:
        return self.flips / self.days if self.days else 0.0


def _make(policy: str, world: World, reserve: float, margin: float, models: Collection[str]) -> _Policy:
    if policy in POLICIES:
        # `_Core` as this module names it: benchmarks/routing_explain.py swaps in its own by patching it here.
        return _Core(world, policy, reserve, margin, models)
    makers: dict[str, Callable[[World], _Policy]] = {
        "original": _Original,
        "failover": _Failover,
        "round-robin": _RoundRobin,
    }
    if policy not in makers:
        raise ValueError(f"unknown policy {policy!r}; choose from: {', '.join(policy_names())}")
    return makers[policy](world)


def simulate(
    trace: Trace, policy: str, *, reserve: float = 0.10, margin: float = 0.10, models: Collection[str] = ()
) -> Result:
    """Replay `trace` under `policy` and measure it.

    `models`: the models in use before the first request (bhogad.toml `models`, or what a daemon that ran the
    week before remembers); by default each model is in use from its first request on."""
    world = World(trace)
    pol = _make(policy, world, reserve, margin, models)
    res = Result(policy, trace.name, days=trace.days)
    last: dict[str, str] = {}
    per_hour: dict[tuple[str, int], int] = {}
    for t, model in trace.requests:
        if t > world.end:
            break
        world.advance(t)
        now = trace.start + timedelta(seconds=t)
        res.requests += 1
        tried: set[str] = set()
        served = None
        for _ in range(len(PROVIDERS) + 1):
            pid = pol.choose(model, t, now, tried)
            if pid is None or pid in tried or pid not in world.candidates(model):
                break
            tried.add(pid)
            if world.can_serve(pid, model):
                res.spend += world.serve(pid, model)
                pol.observed(pid, t, now, wall=False, model=model)
                served = pid
                break
            res.walls += 1
            if any(world.can_serve(p, model) for p in world.candidates(model) if p != pid):
                res.avoidable_walls += 1
            pol.observed(pid, t, now, wall=True, model=model)
        if served is None:
            res.unserved += 1
            continue
        res.served_by[served] = res.served_by.get(served, 0) + 1
        if last.get(model, served) != served:
            res.flips += 1
            hour = (model, int(t // 3600))
            per_hour[hour] = per_hour.get(hour, 0) + 1
        last[model] = served
    world.advance(world.end)
    for wins in world.wins.values():
        for w in wins:
            world.cycle_use.setdefault((w.pid, w.key), []).append(w.used)
    res.cycle_use = world.cycle_use
    res.unused_pct = 100.0 * world.left_at_resets / world.capacity_reset if world.capacity_reset else 0.0
    res.max_flips_hour = max(per_hour.values(), default=0)
    res.spend = round(res.spend, 4)
    return res


def fmt_table(results: Iterable[Result], mine: str | None = None) -> str:
    """A plain-text table of results, one policy a line; the policy `mine` (the user's) marked with `*`."""
    head = f"{'policy':<15} {'requests':>8} {'avoidable':>9} {'walls':>6} {'unserved':>8} {'unused %':>8}"
    head += f" {'spend $':>9} {'flips/day':>9} {'max/h':>5}"
    lines = [head]
    for r in results:
        flips = "—" if r.policy == "optimum" else f"{r.flips_per_day:9.1f}"
        maxh = "—" if r.policy == "optimum" else str(r.max_flips_hour)
        name = f"{r.policy} *" if r.policy == mine else r.policy
        lines.append(
            f"{name:<15} {r.requests:>8} {r.avoidable_walls:>9} {r.walls:>6} {r.unserved:>8.0f} "
            f"{r.unused_pct:>8.1f} {r.spend:>9.2f} {flips:>9} {maxh:>5}"
        )
    return "\n".join(lines) + "\n"


def verdict(results: Iterable[Result], mine: str) -> list[str]:
    """What the table means for the user whose policy is `mine`, in a line or two (none when it was not run).

    Another of bhoga's policies is named only when it would have done clearly better: fewer requests unserved, as
    many and fewer avoidable walls, or at least 5 % and $0.50 less spend with no more of either."""
    by = {r.policy: r for r in results}
    yours = by.get(mine)
    if yours is None:
        return []
    served = "every request served" if not yours.unserved else f"{yours.unserved} requests with no route left"
    walls = "no avoidable wall" if not yours.avoidable_walls else f"{yours.avoidable_walls} avoidable walls"
    out = [f"* your policy, {mine}: ${yours.spend:.2f} on metered APIs, {walls}, {served}"]
    if (opt := by.get("optimum")) is not None:
        out.append(f"  the optimum, knowing the whole trace ahead: ${opt.spend:.2f}")

    def key(r: Result) -> tuple[int, int]:
        return (r.unserved, r.avoidable_walls)

    better = [
        r
        for r in results
        if r.policy in POLICIES
        and r.policy != mine
        and (key(r) < key(yours) or (key(r) == key(yours) and yours.spend - r.spend >= max(0.5, 0.05 * yours.spend)))
    ]
    if better:
        b = min(better, key=lambda r: (*key(r), r.spend, r.policy != DEFAULT_POLICY))
        out.append(
            f"  {b.policy} would have done better here (${b.spend:.2f}, {b.avoidable_walls} avoidable walls, "
            f'{b.unserved} unserved): policy = "{b.policy}" in bhogad.toml (one trace is a small sample)'
        )
    return out
