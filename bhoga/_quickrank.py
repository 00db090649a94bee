"""`best_for`'s fast path: only the winner, from per-provider indexes of the windows (pure: the clock is a
parameter).

`rank()` builds a recommendation for every candidate and looks at every window of every provider; `best_for`
needs the winner only, and a provider carrying 2,000 per-model quotas (`set_quota(..., model=...)`) would make
each look cost ~150 µs. A `QuotaIndex` (`bhoga._quota_index`) is built once per provider record: account-wide
windows apart, per-model windows by scope, and the times at which the ranking can change. A `QuickView` holds
one state's indexes with what they share (the next change, the winner per class of models), so a model never
asked before pays only for its own name. The answer is exactly `rank(...)[0]`'s (tests/core/test_quickrank.py
compares them on random states).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from bhoga._candidate import _reason, _recommend, _sort_key
from bhoga._hierarchy import _serving_by_head, serving
from bhoga._model import ProviderStatus, RouterRecommendation
from bhoga._provider_entry import ModelNames
from bhoga._providers import FAMILY_HEAD, PROVIDERS, spell
from bhoga._quota_index import _MEMO_MAX, _finder
from bhoga._routing import evaluate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from bhoga._quota_index import QuotaIndex
    from bhoga._routing import Paces
    from bhoga._value import Economics

__all__ = ["QuickView", "quick_best"]

_MISSING: Any = object()


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
