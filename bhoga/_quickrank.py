"""`best_for`'s fast path: only the winner, from per-provider indexes of the windows (pure: the clock is a
parameter).

`rank()` builds a recommendation for every candidate and looks at every window of every provider; `best_for`
needs the winner only, and a provider carrying 2,000 per-model quotas (`set_quota(..., model=...)`) would make
each look cost ~150 µs. A `QuotaIndex` is built once per provider record (records are immutable, so the index
stays valid as long as the record): account-wide windows apart, per-model windows by scope, the windows that
apply to each model asked about, and the times at which the ranking can change, sorted. A `QuickView` holds
one state's indexes with what they share (the next change, the winner per class of models), so a model never
asked before pays only for its own name. The answer is exactly `rank(...)[0]`'s (tests/core/test_quickrank.py
compares them on random states).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from datetime import UTC, datetime

from bhoga._candidate import _reason, _recommend, _sort_key
from bhoga._hierarchy import _serving_by_head, serving
from bhoga._model import ANY_MODEL, ProviderQuota, ProviderStatus, QuotaWindow, RouterRecommendation
from bhoga._provider_entry import ModelNames
from bhoga._providers import FAMILY_HEAD, PROVIDERS, spell
from bhoga._routing import evaluate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Iterable
    from typing import Any

    from bhoga._routing import Paces
    from bhoga._value import Economics

__all__ = ["QuickView", "QuotaIndex", "quick_best"]

_Lookup = tuple[tuple[str, ...], tuple[QuotaWindow, ...]]
_MEMO_MAX = 4096
_SCAN_BELOW = 16
"""With fewer scopes than this, testing each one is quicker than looking up the model's substrings."""
_TAIL = 3
"""Many scopes are found by their last `_TAIL` characters: the name's few substrings of that length pick the
handful worth testing."""
_NEW_END = 4
"""A name's last characters that `_Finder` looks at anew when it knows the rest (the name's head)."""
_MISSING: Any = object()


class QuotaIndex:
    """One provider record with its windows sorted for quick per-model lookups.

    `previous`, the index of the provider's former record, lends its scope set when the scopes are the same (a
    new reading of the account-wide windows leaves the per-model ones as they were), so what was derived from the
    scopes (`_finder`) is found again instead of rebuilt.
    """

    __slots__ = ("_any", "_by_model", "_by_scopes", "_none", "_scoped", "any", "quota", "scope_set", "scoped", "times")

    def __init__(self, quota: ProviderQuota, previous: QuotaIndex | None = None) -> None:
        self.quota = quota
        scoped: dict[str, list[tuple[int, QuotaWindow]]] = {}
        anywhere: list[tuple[int, QuotaWindow]] = []
        for pos, w in enumerate(quota.windows):
            if w.scope == ANY_MODEL:
                anywhere.append((pos, w))
            else:
                scoped.setdefault(w.scope, []).append((pos, w))
        self._scoped = scoped
        self._any = anywhere
        self.scoped = bool(scoped)
        """Whether some window binds only some models (`lookup` then depends on the model)."""
        self.scope_set: frozenset[str] = frozenset(scoped) if scoped else frozenset()
        """The scopes of the per-model windows."""
        if previous is not None and previous.scope_set == self.scope_set:
            self.scope_set = previous.scope_set
        self.any = tuple(w for _, w in anywhere) if scoped else quota.windows
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

    def windows_for(self, model: str, found: Iterable[str] | None = None) -> tuple[QuotaWindow, ...]:
        """The windows that bind `model` (`QuotaWindow.applies_to`), in the record's order."""
        return self.lookup(model, found)[1]

    def lookup(self, model: str, found: Iterable[str] | None = None) -> _Lookup:
        """(the scopes that occur in `model`, sorted; the windows that bind it): models with the same scopes
        are bound by the same windows. `found`, when given, holds at least every scope of this index that occurs
        in the model's name (a `_Finder`'s answer over several indexes)."""
        if not self._scoped:
            return self._none
        hit = self._by_model.get(model)
        if hit is not None:
            return hit
        if found is None:
            found = _finder((self.scope_set,)).find(model.lower())
        mine = [s for s in found if s in self._scoped]
        scopes = tuple(sorted(mine)) if len(mine) > 1 else tuple(mine)
        hit = self._by_scopes.get(scopes)
        if hit is None:
            if scopes:
                binding = [pw for s in scopes for pw in self._scoped[s]]
                binding += self._any
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


class _Finder:
    """Finds which of many scopes occur in a model's name without testing each one."""

    __slots__ = ("_memo", "_short", "_tails")

    def __init__(self, scopes: Iterable[str]) -> None:
        every = set(scopes)
        self._tails: dict[str, list[str]] = {}
        """With many scopes, those of `_TAIL` characters or more by their last `_TAIL` (else empty)."""
        self._short = list(every)
        """The scopes tested one by one: all of them, or with many only the shorter ones."""
        if len(every) >= _SCAN_BELOW:
            self._short = [s for s in every if len(s) < _TAIL]
            for s in every:
                if len(s) >= _TAIL:
                    self._tails.setdefault(s[-_TAIL:], []).append(s)
        self._memo: dict[str, tuple[str, ...]] = {}
        """Per name (or name's head, see `find`) looked at before: the scopes in it."""

    def find(self, name: str) -> tuple[str, ...]:
        """The scopes that occur in `name` (a lowercased model name), each once, sorted."""
        memo = self._memo
        hit = memo.get(name)
        if hit is not None:
            return hit
        cut = len(name) - _NEW_END
        if not self._tails or cut < _TAIL:
            hit = _sorted(self._scan(name, name))
        else:
            # A name never seen is mostly a sibling of one that was (`claude-sonnet-4-7`, `claude-sonnet-4-6`):
            # the scopes within its head are remembered, and only those ending in its last `_NEW_END`
            # characters are looked for (their last `_TAIL` characters lie within the name's last ones).
            head = name[:cut]
            hit = memo.get(head)
            if hit is None:
                hit = self._keep(head, _sorted(self._scan(head, head)))
            found = self._scan(name[cut - _TAIL + 1 :], name)
            if found:
                hit = _sorted({*hit, *found})
        return self._keep(name, hit)

    def _scan(self, part: str, name: str) -> list[str]:
        """The scopes that occur in `name` and end within `part`, its end (or all of it)."""
        found = [s for s in self._short if s in part] if self._short else []
        tails = self._tails
        if tails:
            # A scope in the name ends with one of the name's substrings of `_TAIL` characters: a lookup per
            # position leaves a few candidates among thousands of scopes.
            for i in range(len(part) - _TAIL + 1):
                some = tails.get(part[i : i + _TAIL])
                if some is not None:
                    for s in some:
                        if s in name:
                            found.append(s)
        return found

    def _keep(self, name: str, found: tuple[str, ...]) -> tuple[str, ...]:
        if len(self._memo) >= _MEMO_MAX:
            self._memo.clear()
        self._memo[name] = found
        return found


def _sorted(found: Collection[str]) -> tuple[str, ...]:
    return tuple(sorted(found)) if len(found) > 1 else tuple(found)


_finders: dict[tuple[frozenset[str], ...], _Finder] = {}


def _finder(sets: tuple[frozenset[str], ...]) -> _Finder:
    """The finder of the union of `sets`, built once while the same sets are in use (each set's hash is cached,
    and an index whose scopes did not change keeps its set: see `QuotaIndex`)."""
    hit = _finders.get(sets)
    if hit is None:
        if len(_finders) >= 64:
            _finders.clear()
        hit = _finders[sets] = _Finder(s for scopes in sets for s in scopes)
    return hit


class _Draft:
    """A `RouterRecommendation` being filled in: the same slots, writable, so that each is set by one plain
    assignment; it then becomes a RouterRecommendation (`__class__` assignment between classes of one layout).
    A record built by its `__init__` costs three times as much: `best_for` builds one per model never asked."""

    __slots__ = RouterRecommendation.__match_args__  # its fields, which are its slots
    provider_id: str
    model_id: str
    quota_pct: float
    status: ProviderStatus
    hermes_model: str
    priority: int
    reason: str
    binding_window: str
    resets_at: datetime | None


if tuple(_Draft.__annotations__) != RouterRecommendation.__match_args__:  # caught by any test, never silently wrong
    raise TypeError("bhoga._quickrank._renamed must set every field of RouterRecommendation, in its order")


def _renamed(rec: RouterRecommendation, model: str, hermes_model: str) -> RouterRecommendation:
    """`rec` for another model of its class: the same provider, figures and reason, the model's name and its
    Hermes spelling."""
    new = _Draft()
    new.provider_id = rec.provider_id
    new.model_id = model
    new.quota_pct = rec.quota_pct
    new.status = rec.status
    new.hermes_model = hermes_model
    new.priority = rec.priority
    new.reason = rec.reason
    new.binding_window = rec.binding_window
    new.resets_at = rec.resets_at
    new.__class__ = RouterRecommendation  # type: ignore[assignment]
    return new  # type: ignore[return-value]


Classes = dict[object, "tuple[RouterRecommendation, ModelNames] | None"]
"""The winner per class of models (the providers that serve them, the scopes in their names), with how its
provider spells model names. Valid for one state and until its next change."""


class QuickView:
    """One state's indexes, ready to answer for any model at moments before `until` (its next change).

    What does not depend on the model is done once here; the winner of each class of models is remembered, so a
    model never asked before costs its own name only: its family, the scopes in it, and its Hermes spelling.
    """

    __slots__ = ("_find", "_own", "classes", "econ", "indexes", "paces", "policy", "reserve", "until")

    def __init__(
        self,
        indexes: Iterable[QuotaIndex],
        now: float,
        *,
        reserve: float,
        policy: str,
        classes: Classes | None = None,
        paces: Paces | None = None,
        econ: Economics | None = None,
        until: float = math.inf,
    ) -> None:
        self.indexes = tuple(indexes)
        self.reserve = reserve
        self.policy = policy
        self.paces = paces
        self.econ = econ
        # Policy "value": what a model with a cost (learned or published) saves per unit of each window is its
        # own, so it is ranked with the models of its class that have the same price and the same costs (Sonnet
        # releases alike on Copilot); any other is ranked like its classmates.
        self._own = _profiles(econ) if econ is not None and econ.costs else {}
        self.classes: Classes = {} if classes is None else classes
        sets = tuple(idx.scope_set for idx in self.indexes if idx.scoped)
        self._find = _finder(sets).find if sets else None
        first = min((t for idx in self.indexes if (t := idx.next_after(now)) is not None), default=math.inf)
        self.until = min(first, until)
        """The first reset or throttle end after `now` (epoch seconds), or `until` if sooner (a pace moves with
        time as well); inf when there is neither."""

    def best(self, model: str, now: datetime | float) -> RouterRecommendation | None:
        """`rank(quotas, model, now, reserve=..., policy=...)[0]`, None when there is no candidate; `now` (a
        datetime or epoch seconds) must be before `until`."""
        # `serving`, its lookup by the name's head inlined: a model never asked before costs its own name only.
        allowed = _serving_by_head.get(model.lstrip()[:FAMILY_HEAD]) if "/" not in model else None
        if allowed is None:
            allowed = serving(model)
        key: object = allowed
        found = None
        if self._find is not None:
            # The windows that bind a model follow from the scopes in its name: same scopes, same ranking.
            found = self._find(model.lower())
            if found:
                key = (allowed, found)
        if self._own and (own := self._own.get(model)) is not None:
            key = (key, own)
        hit = self.classes.get(key, _MISSING)
        if hit is not _MISSING:
            if hit is None:
                return None
            # The class's winner under this model's name: only the name and its Hermes spelling differ.
            return _renamed(hit[0], model, spell(hit[1], model))
        if not isinstance(now, datetime):
            now = datetime.fromtimestamp(now, UTC)
        reserve, policy, paces, econ = self.reserve, self.policy, self.paces, self.econ
        cands = []
        for idx in self.indexes:
            if idx.quota.provider_id in allowed:
                windows = idx.windows_for(model, found)
                c = evaluate(idx.quota, model, now, reserve, policy=policy, paces=paces, windows=windows, econ=econ)
                if c is not None:
                    cands.append(c)
        best = None
        if cands:
            if len(cands) > 1:
                cands.sort(key=lambda c: _sort_key(c, policy))
            best = _recommend(cands[0], model, _reason(cands, now, reserve))
        if len(self.classes) >= _MEMO_MAX:
            self.classes.clear()
        self.classes[key] = None if best is None else (best, PROVIDERS[best.provider_id].names)
        return best


def _profiles(econ: Economics) -> dict[str, object]:
    """Per model with a cost in `econ`: its price and its cost on every window (what `bhoga._value` weighs)."""
    from bhoga._value import price_of  # noqa: PLC0415 - policy "value" only, and loaded with its Economics

    costs: dict[str, list[tuple[tuple[str, str], float]]] = {}
    for window, per in sorted(econ.costs.items()):
        for model, cost in per.items():
            costs.setdefault(model, []).append((window, cost))
    return {m: (price_of(m, econ), tuple(c)) for m, c in costs.items()}


def quick_best(
    indexes: Iterable[QuotaIndex],
    model: str,
    now: datetime | float,
    *,
    reserve: float,
    policy: str,
    classes: Classes | None = None,
    paces: Paces | None = None,
    econ: Economics | None = None,
) -> RouterRecommendation | None:
    """`rank(quotas, model, now, reserve=reserve, policy=policy, paces=paces, econ=econ)[0]` (None when empty),
    `econ` knowing the metered routes of these quotas (`bhoga._routing.metered_routes`). `now` is a datetime or
    epoch seconds.

    A model's ranking depends on its name only through the providers that serve it and the windows that bind
    it, so with `classes` (one state's, before its next change) a model never seen before is answered from
    another of its class (`claude-sonnet-5` after `claude-sonnet-4-6`): only its own recommendation is built.
    """
    at = now.timestamp() if isinstance(now, datetime) else now
    view = QuickView(indexes, at, reserve=reserve, policy=policy, classes=classes, paces=paces, econ=econ)
    return view.best(model, now)
