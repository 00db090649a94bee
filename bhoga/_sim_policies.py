"""The simulator's policies: what each rule the simulator replays does on a request and on its outcome (DESIGN §8.7).

`_Core` drives bhoga's own policies through the real routing core, as the daemon does; `_Original`, `_Failover`
and `_RoundRobin` are the baselines (`bhoga._simulate`'s docstring says what each re-implements). A policy sees
only what headers and polls show of the `World`, never its true state.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from datetime import datetime, timedelta

from bhoga._history import Point, Recorder
from bhoga._model import ProviderQuota
from bhoga._pace import Pace, paces
from bhoga._providers import PROVIDERS
from bhoga._record import replace
from bhoga._routing import PACED, evaluate, rank, should_switch
from bhoga._turncount import TurnCount
from bhoga._value import Economics

TYPE_CHECKING = False
if TYPE_CHECKING:
    from bhoga._simulate import World

__all__: list[str] = []

_RPM = 50
"""Requests per minute a metered API's rate-limit headers allow (the "original" rule's number)."""
_COOLDOWN = 60.0
"""Seconds Hermes leaves a provider alone after a 429 before trying it first again."""
_KEEP_HISTORY = 26 * 3600.0


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
