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

from collections import deque
from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta

from bhoga._hierarchy import hierarchy
from bhoga._history import Point, Recorder
from bhoga._model import ProviderQuota, QuotaWindow
from bhoga._pace import Pace, paces
from bhoga._providers import PROVIDERS
from bhoga._record import field, record, replace
from bhoga._routing import BASELINES, DEFAULT_POLICY, PACED, POLICIES, evaluate, rank, should_switch
from bhoga._sim_trace import Subscription, Trace
from bhoga._turncount import TurnCount
from bhoga._value import Economics, lookup

__all__ = ["BASELINES", "Result", "World", "fmt_table", "policy_names", "simulate", "verdict"]

_RPM = 50
"""Requests per minute a metered API's rate-limit headers allow (the "original" rule's number)."""
_COOLDOWN = 60.0
"""Seconds Hermes leaves a provider alone after a 429 before trying it first again."""
_KEEP_HISTORY = 26 * 3600.0


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


class _Policy:
    """What every simulated policy offers the engine."""

    def choose(self, model: str, t: float, now: datetime, tried: set[str]) -> str | None:
        raise NotImplementedError

    def observed(self, pid: str, t: float, now: datetime, *, wall: bool, model: str) -> None:
        """A request to `pid` finished (served, or refused with 429 when `wall`)."""


class _Core(_Policy):
    """bhoga's policies, through the real routing core, the way the daemon runs them."""

    def __init__(self, world: World, policy: str, reserve: float, margin: float, models: Collection[str] = ()) -> None:
        self.world, self.policy, self.reserve, self.margin = world, policy, reserve, margin
        self.view = {p: ProviderQuota(p, credential=True, verdict="verified") for p in world.metered}
        self.current: dict[str, str | None] = {}
        self.history: dict[tuple[str, str], list[Point]] = {}
        self.recorder = Recorder()
        self.polled: dict[str, float] = {}
        self.count = TurnCount()
        self.models: set[str] = set(models)
        """The models in use: those known before the trace starts, then each one as it is first requested."""
        # The user's metered prices (bhogad.toml `prices`): the trace's own.
        self.prices = tuple(sorted({kv for m in world.trace.metered for kv in m.price}))
        self._paces: tuple[float, dict[tuple[str, str], Pace]] | None = None

    def _see(self, pid: str, t: float, now: datetime, throttled_until: datetime | None = None) -> None:
        q = self.world.observe(pid, now, t)
        if throttled_until is not None:
            q = replace(q, throttled_until=throttled_until)
        self.view[pid] = q
        self.count.observed(pid, q.windows)
        for p, key, point in self.recorder.new_points([q]):
            pts = self.history.setdefault((p, key), [])
            pts.append(point)
            if pts[0].at < now - timedelta(seconds=_KEEP_HISTORY):
                del pts[: len(pts) // 4]
        self._paces = None

    def _poll(self, t: float, now: datetime) -> None:
        for pid, sub in self.world.subs.items():
            if t - self.polled.get(pid, -1e18) >= sub.poll_minutes * 60:
                self.polled[pid] = t
                self._see(pid, t, now, self.view[pid].throttled_until if pid in self.view else None)

    def _forecast(self, quotas: tuple[ProviderQuota, ...], t: float, now: datetime) -> dict[tuple[str, str], Pace]:
        """Every window's pace, from the recorded history as the Router computes it."""
        return paces(quotas, self.history, now)

    def choose(self, model: str, t: float, now: datetime, tried: set[str]) -> str | None:
        self._poll(t, now)
        quotas = tuple(self.view.values())
        pc = econ = None
        if self.policy in PACED:
            # Like the Router, reuse paces for a while: a rate over ten minutes or more barely moves in one.
            if self._paces is None or t - self._paces[0] >= 60:
                self._paces = (t, self._forecast(quotas, t, now))
            pc = self._paces[1]
        self.models.add(model)
        if self.policy == "value":
            # What the Router knows: learned turn costs, the models asked about so far, the user's prices.
            econ = Economics(self.count.costs(self.models), self.prices, frozenset(self.models))
        cur = self.current.get(model)
        r, p, m = self.reserve, self.policy, self.margin
        kw = {"margin": m, "reserve": r, "policy": p, "exclude": tried, "paces": pc, "econ": econ}
        switch, _ = should_switch(cur, quotas, model, now, **kw)  # type: ignore[arg-type]
        if switch:
            del kw["margin"]
            ranked = rank(quotas, model, now, **kw)  # type: ignore[arg-type]
            cur = ranked[0].provider_id if ranked else None
            self.current[model] = cur
        return cur if cur not in tried else None

    def observed(self, pid: str, t: float, now: datetime, *, wall: bool, model: str) -> None:
        if pid not in self.world.subs:
            return
        if wall:
            # A 429 says when the exhausted window resets (Claude, Codex and Copilot all send a hint).
            resets = [w.next_reset for w in self.world.wins[pid] if w.binds(model) and w.used >= w.capacity]
            until = now + timedelta(seconds=min(resets) - t) if resets else now + timedelta(seconds=_COOLDOWN)
            self._see(pid, t, now, until)
        elif self.world.subs[pid].headers:
            self.count.routed(pid, model)
            self._see(pid, t, now)
        else:
            # Seen only by polls (Copilot): count the turn, as the Router does with `record_turn`.
            self.count.routed(pid, model)
            est = {w.key: w for w in self.count.estimate(pid, now)}
            if est:
                q = self.view[pid]
                self.view[pid] = replace(q, windows=tuple(est.get(w.key, w) for w in q.windows))
                self._paces = None


class _Original(_Core):
    """The first bhoga: one number per provider, a metered API's per-minute headroom against subscription windows."""

    def __init__(self, world: World) -> None:
        super().__init__(world, "headroom", 0.0, 0.0)
        self.recent: dict[str, deque[float]] = {p: deque() for p in world.metered}

    def choose(self, model: str, t: float, now: datetime, tried: set[str]) -> str | None:
        self._poll(t, now)
        best: tuple[float, int, str] | None = None
        for pid in self.world.candidates(model):
            if pid in tried:
                continue
            if pid in self.recent:
                dq = self.recent[pid]
                while dq and dq[0] <= t - 60:
                    dq.popleft()
                number = 1.0 - len(dq) / _RPM
            else:
                c = evaluate(self.view[pid], model, now, 0.0) if pid in self.view else None
                number = -1.0 if c is None or c.status in ("throttled", "exhausted") else c.headroom
            key = (number, -PROVIDERS[pid].priority, pid)
            if number > 0 and (best is None or key > best):
                best = key
        return best[2] if best else None

    def observed(self, pid: str, t: float, now: datetime, *, wall: bool, model: str) -> None:
        if pid in self.recent:
            self.recent[pid].append(t)
        super().observed(pid, t, now, wall=wall, model=model)


class _Failover(_Policy):
    def __init__(self, world: World) -> None:
        self.world = world
        self.cool: dict[str, float] = {}

    def choose(self, model: str, t: float, now: datetime, tried: set[str]) -> str | None:
        chain = [p for p in self.world.candidates(model) if p not in tried]
        ready = [p for p in chain if t >= self.cool.get(p, -1.0)]
        pick = ready or chain
        return pick[0] if pick else None

    def observed(self, pid: str, t: float, now: datetime, *, wall: bool, model: str) -> None:
        if wall:
            self.cool[pid] = t + _COOLDOWN


class _RoundRobin(_Policy):
    def __init__(self, world: World) -> None:
        self.world = world
        self.turn: dict[str, int] = {}

    def choose(self, model: str, t: float, now: datetime, tried: set[str]) -> str | None:
        cands = [p for p in self.world.candidates(model) if p not in tried]
        if not cands:
            return None
        i = self.turn.get(model, 0)
        self.turn[model] = i + 1
        return cands[i % len(cands)]


def _make(policy: str, world: World, reserve: float, margin: float, models: Collection[str]) -> _Policy:
    if policy in POLICIES:
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
