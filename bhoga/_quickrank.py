"""`best_for`'s fast path: only the winner, from per-provider indexes of the windows (pure: the clock is a
parameter).

`rank()` builds a recommendation for every candidate and looks at every window of every provider; `best_for`
needs the winner only, and a provider carrying 2,000 per-model quotas (`set_quota(..., model=...)`) would make
each look cost ~150 µs. A `QuotaIndex` is built once per provider record (records are immutable, so the index
stays valid as long as the record): account-wide windows apart, per-model windows by scope, the windows that
apply to each model asked about, and the times at which the ranking can change, sorted. The answer is exactly
`rank(...)[0]`'s (tests/test_quickrank.py compares them on random states).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime

from bhoga._model import ANY_MODEL, ProviderQuota, QuotaWindow, RouterRecommendation
from bhoga._providers import hierarchy
from bhoga._routing import _reason, _recommend, _sort_key, evaluate

__all__ = ["QuotaIndex", "quick_best"]

_MEMO_MAX = 4096
_SCAN_BELOW = 16
"""With fewer scopes than this, testing each one is quicker than looking up the model's substrings."""


class QuotaIndex:
    """One provider record with its windows sorted for quick per-model lookups."""

    __slots__ = ("_by_model", "_lengths", "_scoped", "any", "quota", "times")

    def __init__(self, quota: ProviderQuota) -> None:
        self.quota = quota
        scoped: dict[str, list[tuple[int, QuotaWindow]]] = {}
        for pos, w in enumerate(quota.windows):
            if w.scope != ANY_MODEL:
                scoped.setdefault(w.scope, []).append((pos, w))
        self._scoped = scoped
        self._lengths = sorted({len(s) for s in scoped})
        self.any = tuple(w for w in quota.windows if w.scope == ANY_MODEL) if scoped else quota.windows
        """The account-wide windows, in the record's order."""
        self._by_model: dict[str, tuple[QuotaWindow, ...]] = {}
        moments = (quota.throttled_until, *(w.resets_at for w in quota.windows))
        self.times = sorted(t.timestamp() for t in moments if t is not None)
        """Every reset and throttle end, as sorted epoch seconds."""

    def next_after(self, now: float) -> float | None:
        """The first reset or throttle end after `now` (epoch seconds), None when there is none."""
        i = bisect_right(self.times, now)
        return self.times[i] if i < len(self.times) else None

    def windows_for(self, model: str) -> tuple[QuotaWindow, ...]:
        """The windows that bind `model` (`QuotaWindow.applies_to`), in the record's order."""
        if not self._scoped:
            return self.any
        hit = self._by_model.get(model)
        if hit is not None:
            return hit
        scopes = self._scopes_in(model.lower())
        if scopes:
            found = [pw for s in scopes for pw in self._scoped[s]]
            found += ((pos, w) for pos, w in enumerate(self.quota.windows) if w.scope == ANY_MODEL)
            found.sort(key=lambda pw: pw[0])
            windows = tuple(w for _, w in found)
        else:
            windows = self.any
        if len(self._by_model) >= _MEMO_MAX:
            self._by_model.clear()
        self._by_model[model] = windows
        return windows

    def _scopes_in(self, name: str) -> list[str]:
        """The scopes that occur in `name` (a lowercased model name)."""
        if len(self._scoped) < _SCAN_BELOW:
            return [s for s in self._scoped if s in name]
        found: list[str] = []
        n = len(name)
        scoped = self._scoped
        for length in self._lengths:
            if length > n:
                break
            for i in range(n - length + 1):
                part = name[i : i + length]
                if part in scoped and part not in found:
                    found.append(part)
        return found


_allowed_memo: dict[str, frozenset[str]] = {}


def _allowed(model: str) -> frozenset[str]:
    hit = _allowed_memo.get(model)
    if hit is None:
        if len(_allowed_memo) >= _MEMO_MAX:
            _allowed_memo.clear()
        hit = _allowed_memo[model] = frozenset(hierarchy(model))
    return hit


def quick_best(
    indexes: Iterable[QuotaIndex], model: str, now: datetime, *, reserve: float, policy: str
) -> RouterRecommendation | None:
    """`rank(quotas, model, now, reserve=reserve, policy=policy)[0]` (None when empty), for policies other
    than "pace" (which needs the window history)."""
    allowed = _allowed(model)
    cands = []
    for idx in indexes:
        q = idx.quota
        if q.provider_id in allowed:
            c = evaluate(q, model, now, reserve, policy=policy, windows=idx.windows_for(model))
            if c is not None:
                cands.append(c)
    if not cands:
        return None
    if len(cands) > 1:
        cands.sort(key=lambda c: _sort_key(c, policy))
    return _recommend(cands[0], model, _reason(cands, now, reserve))
