"""Per-provider indexes of the windows for `best_for`'s fast path (`bhoga._quickrank`): pure, no clock.

A `QuotaIndex` is built once per provider record (records are immutable, so the index stays valid as long as the
record): account-wide windows apart, per-model windows by scope, the windows that apply to each model asked
about, and the times at which the ranking can change, sorted. With thousands of per-model scopes, a `_Finder`
tells which occur in a model's name without testing each one.
"""

from __future__ import annotations

from bisect import bisect_right

from bhoga._model import ANY_MODEL, ProviderQuota, QuotaWindow

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

__all__ = ["QuotaIndex"]

_Lookup = tuple[tuple[str, ...], tuple[QuotaWindow, ...]]
_MEMO_MAX = 4096
_SCAN_BELOW = 16
"""With fewer scopes than this, testing each one is quicker than looking up the model's substrings."""
_TAIL = 3
"""Many scopes are found by their last `_TAIL` characters: the name's few substrings of that length pick the
handful worth testing."""
_NEW_END = 4
"""A name's last characters that `_Finder` looks at anew when it knows the rest (the name's head)."""


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
