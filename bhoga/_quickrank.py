"""`best_for`'s fast path: only the winner, from per-provider indexes of the windows (pure: the clock is a
parameter).

`rank()` builds a recommendation for every candidate and looks at every window of every provider; `best_for`
needs the winner only, and a provider carrying 2,000 per-model quotas (`set_quota(..., model=...)`) would make
each look cost ~150 µs. A `QuotaIndex` is built once per provider record (records are immutable, so the index
stays valid as long as the record): account-wide windows apart, per-model windows by scope, the windows that
apply to each model asked about, and the times at which the ranking can change, sorted. The answer is exactly
`rank(...)[0]`'s (tests/core/test_quickrank.py compares them on random states).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import UTC, datetime

from bhoga._model import ANY_MODEL, ProviderQuota, QuotaWindow, RouterRecommendation
from bhoga._providers import hierarchy, on_change, to_hermes_model
from bhoga._routing import _reason, _recommend, _sort_key, evaluate

__all__ = ["QuotaIndex", "quick_best"]

_Lookup = tuple[tuple[str, ...], tuple[QuotaWindow, ...]]
_MEMO_MAX = 4096
_SCAN_BELOW = 16
"""With fewer scopes than this, testing each one is quicker than looking up the model's substrings."""


class QuotaIndex:
    """One provider record with its windows sorted for quick per-model lookups."""

    __slots__ = ("_by_model", "_by_scopes", "_lengths", "_none", "_scoped", "any", "quota", "scoped", "times")

    def __init__(self, quota: ProviderQuota) -> None:
        self.quota = quota
        scoped: dict[str, list[tuple[int, QuotaWindow]]] = {}
        for pos, w in enumerate(quota.windows):
            if w.scope != ANY_MODEL:
                scoped.setdefault(w.scope, []).append((pos, w))
        self._scoped = scoped
        self.scoped = bool(scoped)
        """Whether some window binds only some models (`lookup` then depends on the model)."""
        self._lengths = sorted({len(s) for s in scoped})
        self.any = tuple(w for w in quota.windows if w.scope == ANY_MODEL) if scoped else quota.windows
        """The account-wide windows, in the record's order."""
        self._none: _Lookup = ((), self.any)
        self._by_model: dict[str, _Lookup] = {}
        self._by_scopes: dict[tuple[str, ...], _Lookup] = {}
        moments = (quota.throttled_until, *(w.resets_at for w in quota.windows))
        self.times = sorted(t.timestamp() for t in moments if t is not None)
        """Every reset and throttle end, as sorted epoch seconds."""

    def next_after(self, now: float) -> float | None:
        """The first reset or throttle end after `now` (epoch seconds), None when there is none."""
        i = bisect_right(self.times, now)
        return self.times[i] if i < len(self.times) else None

    def windows_for(self, model: str) -> tuple[QuotaWindow, ...]:
        """The windows that bind `model` (`QuotaWindow.applies_to`), in the record's order."""
        return self.lookup(model)[1]

    def lookup(self, model: str) -> _Lookup:
        """(the scopes that occur in `model`, sorted; the windows that bind it): models with the same scopes
        are bound by the same windows."""
        if not self._scoped:
            return self._none
        hit = self._by_model.get(model)
        if hit is not None:
            return hit
        found = self._scopes_in(model.lower())
        scopes = tuple(sorted(found)) if len(found) > 1 else tuple(found)
        hit = self._by_scopes.get(scopes)
        if hit is None:
            if scopes:
                binding = [pw for s in scopes for pw in self._scoped[s]]
                binding += ((pos, w) for pos, w in enumerate(self.quota.windows) if w.scope == ANY_MODEL)
                binding.sort(key=lambda pw: pw[0])
                hit = (scopes, tuple(w for _, w in binding))
            else:
                hit = self._none
            if len(self._by_scopes) >= _MEMO_MAX:
                self._by_scopes.clear()
            self._by_scopes[scopes] = hit
        if len(self._by_model) >= _MEMO_MAX:
            self._by_model.clear()
        self._by_model[model] = hit
        return hit

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
on_change(_allowed_memo.clear)  # a provider registered later joins the hierarchies


def _allowed(model: str) -> frozenset[str]:
    hit = _allowed_memo.get(model)
    if hit is None:
        if len(_allowed_memo) >= _MEMO_MAX:
            _allowed_memo.clear()
        hit = _allowed_memo[model] = frozenset(hierarchy(model))
    return hit


Classes = dict[object, "RouterRecommendation | None"]
"""`quick_best`'s memo: per class of models (the providers that serve them, the scopes in their names), the
winner. Valid for one state and until its next change, so the caller owns and clears it."""


def quick_best(
    indexes: Iterable[QuotaIndex],
    model: str,
    now: datetime | float,
    *,
    reserve: float,
    policy: str,
    classes: Classes | None = None,
) -> RouterRecommendation | None:
    """`rank(quotas, model, now, reserve=reserve, policy=policy)[0]` (None when empty), for policies other
    than "pace" (which needs the window history). `now` is a datetime or epoch seconds.

    A model's ranking depends on its name only through the providers that serve it and the windows that bind
    it, so with `classes` a model never seen before is answered from another of its class (`claude-sonnet-5`
    after `claude-sonnet-4-6`): only its own recommendation is built.
    """
    allowed = _allowed(model)
    key: object = allowed
    if classes is not None:
        scopes = [idx.lookup(model)[0] for idx in indexes if idx.scoped and idx.quota.provider_id in allowed]
        if scopes:
            key = (allowed, *scopes)
        hit = classes.get(key, _MISSING)
        if hit is not _MISSING:
            if hit is None:
                return None
            assert isinstance(hit, RouterRecommendation)
            pid = hit.provider_id
            return RouterRecommendation(
                pid,
                model,
                hit.quota_pct,
                hit.status,
                to_hermes_model(pid, model),
                hit.priority,
                hit.reason,
                hit.binding_window,
                hit.resets_at,
            )
    if not isinstance(now, datetime):
        now = datetime.fromtimestamp(now, UTC)
    cands = []
    for idx in indexes:
        if idx.quota.provider_id in allowed:
            c = evaluate(idx.quota, model, now, reserve, policy=policy, windows=idx.windows_for(model))
            if c is not None:
                cands.append(c)
    best = None
    if cands:
        if len(cands) > 1:
            cands.sort(key=lambda c: _sort_key(c, policy))
        best = _recommend(cands[0], model, _reason(cands, now, reserve))
    if classes is not None:
        if len(classes) >= _MEMO_MAX:
            classes.clear()
        classes[key] = best
    return best


_MISSING = object()
