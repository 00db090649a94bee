"""What bhoga's own routed turns have used of a window since it was last read (pure: no I/O, clock or threads).

Copilot says how much of its monthly allowance is used only when polled (every 15 minutes at most), and one Opus
turn costs it ten premium requests: a busy session can empty it between two polls, and every ranking until the
next poll would still see the old number. Claude Code and Codex send their windows with every response, so for
them a reading follows every turn and nothing is ever estimated.

`TurnCount` keeps, per window, the last reading and the turns routed to its provider since then (by model). It
learns what one turn of a model costs a window (percent per turn) from consecutive readings: the usage gained
over the turns counted in between. A turn of a model it has not learned yet counts as the dearest turn learned
for that window, or more where the provider publishes what its models cost relative to each other (Copilot's
premium-request multipliers, `_MULTIPLIERS`): then it counts as its multiplier times the learned cost of a 1x
turn, so a first Opus turn after Sonnet turns counts ten Sonnet turns; before any turn is learned, a 1x turn
counts as one of the smallest paid plan's premium requests (`_COLD_UNIT`). Either way an estimate errs towards
running out early, never late. `estimate` gives the windows as
they stand with the counted turns added (source "estimate", never recorded as history); the next real reading
replaces them and the count starts again.

Usage that is not bhoga's (the human in another terminal) shows up in the learned cost, which only makes the
estimate more careful.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from bhoga._model import ANY_MODEL, ESTIMATE, QuotaWindow
from bhoga._record import field, record, replace

__all__ = ["ESTIMATE", "TurnCount"]

_SAME_CYCLE = timedelta(minutes=10)
"""Reset times closer than this are the same cycle (providers round them)."""
_MAX_TURNS = 1_000_000
_MAX_MODELS = 32
"""Models whose cost is learned per window at most: model names come from callers."""
_FADE = 0.8
"""Weight of an interval relative to the next one: the fit follows a plan that changes, within a few polls."""
_SWEEPS = 25
_MULTIPLIERS: dict[str, tuple[tuple[str, float], ...]] = {
    "github-copilot": (("opus", 10.0), ("sonnet", 1.0), ("haiku", 0.33), ("gemini", 1.0), ("gpt", 1.0)),
}
"""Premium requests one turn of a model family uses, per provider (first substring of the model name that
matches wins). Copilot's published multipliers (docs.github.com, "Requests in GitHub Copilot", paid plans):
Claude Opus 4 / 4.1 10x (later Opus releases are cheaper: the dearest is kept so the estimate errs early),
Sonnet 1x, Haiku 0.33x, Gemini 2.5 Pro 1x; GPT models are 0x to 1x and count as 1x for the same reason. A
family not listed falls back to the dearest turn learned."""

_COLD_UNIT: dict[str, float] = {"github-copilot": 100 / 300}
"""Percent of the window one 1x turn uses before anything is learned for it: Copilot Pro's 300 premium requests a
month (Business also 300, Pro+ 1,500, Enterprise 1,000), so that the first poll interval's turns already count and
err early; the Free plan's 50 would be 2 %, and the first learned interval replaces it either way."""


@record(frozen=False)
class _Window:
    """One window's last reading and the turns counted since."""

    reading: QuotaWindow
    turns: dict[str, int] = field(default_factory=dict)


class TurnCount:
    """Turns routed to each subscription since its windows were last read, and what a turn costs them."""

    def __init__(self) -> None:
        self._windows: dict[str, dict[str, _Window]] = {}
        self._cost: dict[tuple[str, str, str], float] = {}
        """(provider, window key, model) → percent of the window one turn uses."""
        self._fits: dict[tuple[str, str], _Fit] = {}
        self._learned_at: dict[tuple[str, str], float] = {}
        """(provider, window key) → when a reading last taught its costs (epoch seconds), for `learned`."""
        self._shared: dict[str, set[str]] = {}
        """Provider → its account-wide windows read, for the providers that publish multipliers (`costs`)."""

    def routed(self, pid: str, model: str, turns: int = 1) -> None:
        """`turns` turns of `model` went through on `pid` (successes: a refused turn costs nothing)."""
        for w in self._windows.get(pid, {}).values():
            if w.reading.applies_to(model) and (had := w.turns.get(model, 0)) < _MAX_TURNS:
                w.turns[model] = min(had + turns, _MAX_TURNS)

    def observed(self, pid: str, windows: Iterable[QuotaWindow]) -> None:
        """A reading of `pid`'s windows (a poll or a response's headers): learn from it and count from zero."""
        mine = self._windows.setdefault(pid, {})
        for w in windows:
            if w.source == ESTIMATE:
                continue
            last = mine.get(w.key)
            if last is not None:
                before = last.reading
                if w.observed_at and before.observed_at and w.observed_at < before.observed_at:
                    continue  # older than the reading counted from
                if last.turns and _same_cycle(before, w) and w.pct_used >= before.pct_used:
                    self._learn(pid, w.key, w.pct_used - before.pct_used, last.turns)
                    if (at := w.observed_at or before.observed_at) is not None:
                        self._learned_at[(pid, w.key)] = at.timestamp()
            mine[w.key] = _Window(w)
            if w.scope == ANY_MODEL and pid in _MULTIPLIERS:
                self._shared.setdefault(pid, set()).add(w.key)

    def cost(self, pid: str, key: str, model: str) -> float | None:
        """Percent of window `key` one turn of `model` uses on `pid`; None when nothing is known."""
        own = self._cost.get((pid, key, model))
        if own is not None:
            return own
        # Not learned for this model: count it as the dearest turn learned for the window, or as its published
        # multiplier times the learned cost of a 1x turn when that is dearer (both err towards caution).
        dearest = max((c for (p, k, _m), c in self._cost.items() if p == pid and k == key), default=None)
        prior = self._prior(pid, key, model)
        if prior is None:
            return dearest
        return prior if dearest is None else max(dearest, prior)

    def _prior(self, pid: str, key: str, model: str) -> float | None:
        """`model`'s published multiplier times the cost of a 1x turn on window `key` (`_unit`); None for a
        provider or family with none."""
        mine = _multiplier(pid, model)
        unit = self._unit(pid, key) if mine is not None else None
        return None if mine is None or unit is None else mine * unit

    def _unit(self, pid: str, key: str) -> float | None:
        """The learned cost of a 1x turn on window `key` of `pid` (the dearest, over the models with a published
        multiplier); before anything is learned there, the smallest paid allowance's request."""
        units = [c / x for (p, k, m), c in self._cost.items() if p == pid and k == key and (x := _multiplier(pid, m))]
        if not units and not any(p == pid and k == key for p, k, _m in self._cost) and pid in _COLD_UNIT:
            units = [_COLD_UNIT[pid]]  # nothing learned yet: the smallest paid allowance's request
        return max(units) if units else None

    def costs(self, models: Iterable[str] = ()) -> dict[tuple[str, str], dict[str, float]]:
        """Every learned cost, `{(pid, window key): {model: percent per turn}}` (costs of 0 left out), and for
        each of `models` not learned on an account-wide window of a provider that publishes multipliers, the
        multiplier's cost (`_prior`): so policy "value" knows that an Opus turn is ten Sonnet turns on Copilot
        before Opus has been routed there. Unlike `cost`, no dearest-turn fallback: a density is a best guess,
        not an estimate that must err early."""
        out: dict[tuple[str, str], dict[str, float]] = {}
        for (pid, key, model), c in self._cost.items():
            if c > 0:
                out.setdefault((pid, key), {})[model] = c
        # The multipliers count against the shared allowance, not a per-model quota.
        for pid, keys in self._shared.items():
            for key in sorted(keys):
                if not (unit := self._unit(pid, key)):
                    continue
                for model in models:
                    if (x := _multiplier(pid, model)) and (pid, key, model) not in self._cost:
                        out.setdefault((pid, key), {})[model] = x * unit
        return out

    def learned(self) -> dict[tuple[str, str], tuple[float, dict[str, float]]]:
        """What to keep across a restart: `{(pid, window key): (when last learned, epoch seconds, {model: percent
        per turn})}`, for every window a reading has taught (costs of 0 included: a learned fact)."""
        out: dict[tuple[str, str], tuple[float, dict[str, float]]] = {}
        for (pid, key, model), c in self._cost.items():
            at = self._learned_at.get((pid, key))
            if at is not None:
                out.setdefault((pid, key), (at, {}))[1][model] = c
        return out

    def restore(self, learned: Mapping[tuple[str, str], tuple[float, Mapping[str, float]]]) -> None:
        """Take back what `learned` gave (another process's, or this one's before a restart), for the windows
        this count has learned nothing newer about. The fit starts again from those costs: its past intervals
        are not kept, so the next interval refines the costs rather than replacing them."""
        for (pid, key), (at, costs) in learned.items():
            if self._learned_at.get((pid, key), -1.0) >= at:
                continue
            fresh = dict(list(costs.items())[:_MAX_MODELS])
            for model, c in fresh.items():
                self._cost[(pid, key, model)] = c
            self._fits[(pid, key)] = _Fit(cost=fresh)
            self._learned_at[(pid, key)] = at

    def pending(self, pid: str) -> bool:
        """Whether turns were routed to `pid` since its last reading."""
        return any(w.turns for w in self._windows.get(pid, {}).values())

    def estimate(self, pid: str, now: datetime) -> tuple[QuotaWindow, ...]:
        """`pid`'s windows raised by the turns counted since their reading; () when nothing can be added."""
        out = []
        for key, w in self._windows.get(pid, {}).items():
            if not w.turns or (w.reading.resets_at is not None and w.reading.resets_at <= now):
                continue  # a window that has reset is full again whatever was counted
            added = 0.0
            for model, n in w.turns.items():
                c = self.cost(pid, key, model)
                if c is not None:
                    added += n * c
            if added > 0:
                pct = min(100.0, w.reading.pct_used + added)
                out.append(replace(w.reading, pct_used=pct, observed_at=now, source=ESTIMATE))
        return tuple(out)

    def _learn(self, pid: str, key: str, gained: float, turns: dict[str, int]) -> None:
        """Fit every model's cost to the intervals seen so far (least squares, costs ≥ 0, older ones fading).

        One interval with several models cannot tell them apart; intervals with other mixes can, so the fit
        sharpens as the mix of turns changes.
        """
        fit = self._fits.setdefault((pid, key), _Fit())
        if len(fit.r) + len(turns) > _MAX_MODELS:
            return
        fit.add(turns, gained)
        for m, c in fit.solve().items():
            self._cost[(pid, key, m)] = c


@record(frozen=False)
class _Fit:
    """The normal equations of `gained = Σ turns[m]·cost[m]` over the intervals seen, each older one weighing
    `_FADE` times less."""

    s: dict[tuple[str, str], float] = field(default_factory=dict)
    r: dict[str, float] = field(default_factory=dict)
    cost: dict[str, float] = field(default_factory=dict)

    def add(self, turns: dict[str, int], gained: float) -> None:
        for k in self.s:
            self.s[k] *= _FADE
        for m in self.r:
            self.r[m] *= _FADE
        for m, n in turns.items():
            self.r[m] = self.r.get(m, 0.0) + n * gained
            for m2, n2 in turns.items():
                self.s[(m, m2)] = self.s.get((m, m2), 0.0) + n * n2

    def solve(self) -> dict[str, float]:
        """Non-negative least squares by projected Gauss-Seidel, from the last fit (a handful of models)."""
        models = sorted(self.r)
        c = {m: self.cost.get(m, 0.0) for m in models}
        for _ in range(_SWEEPS):
            for m in models:
                diag = self.s.get((m, m), 0.0)
                if diag <= 0:
                    continue
                off = sum(self.s.get((m, m2), 0.0) * c[m2] for m2 in models if m2 != m)
                c[m] = max(0.0, (self.r[m] - off) / diag)
        self.cost = c
        return c


@functools.lru_cache(maxsize=1024)
def _multiplier(pid: str, model: str) -> float | None:
    """`model`'s published cost on `pid` relative to a 1x turn; None when the provider or family is not listed."""
    low = model.lower()
    return next((x for fam, x in _MULTIPLIERS.get(pid, ()) if fam in low), None)


def _same_cycle(a: QuotaWindow, b: QuotaWindow) -> bool:
    if a.resets_at is None or b.resets_at is None:
        return a.resets_at is b.resets_at
    return abs(a.resets_at - b.resets_at) <= _SAME_CYCLE
