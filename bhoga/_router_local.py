"""A Router's own answers: ranking from the quota state it holds, kept cheap by indexes and a per-model cache,
and the reading side of its API (`ranked`, `quotas`, `paces`, ...).

It exists apart from `bhoga._router` because this is the part that ranks: the rest of the Router brings turns and
observations in, and bhogad's answers and the clock thread decide how long an answer may be kept.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from itertools import islice
from time import time as _time

from bhoga import _lazy
from bhoga._model import ANY_MODEL, ProviderQuota, RouterRecommendation
from bhoga._quickrank import QuickView, QuotaIndex
from bhoga._record import replace
from bhoga._router_clock import _GUARD
from bhoga._router_daemon import _DaemonAnswers
from bhoga._routing import PACED, evaluate, first, metered_routes, next_change, rank
from bhoga.errors import BhogaError

# Annotations only: importing `typing` at run time would cost `import bhoga` two milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from collections.abc import Collection
    from typing import Any

    from bhoga._history import HistoryStore, Point
    from bhoga._pace import Pace
    from bhoga._turncount import TurnCount
    from bhoga._value import Economics

log = _lazy.logger(__name__)

_RERANK_MAX = 64
"""Models re-ranked ahead of time after each change (the first asked); any others are ranked on their next
`best_for`. Every change pays for these, so they are kept to what a harness asks about, with room to spare."""
_PACE_TTL = timedelta(seconds=60)
_PACES_TTL = 5.0
_ASKED_MAX = 64
_CACHE_MAX = 4096
"""Models whose answers are kept for the clock check and re-ranking; past this many the dictionary starts over."""


class _LocalAnswers(_DaemonAnswers):
    """`Router`'s part that ranks: `best_for` without a daemon (or while it is gone), and the reading methods."""

    _gen: int
    _lock: threading.Lock
    _quotas: dict[str, ProviderQuota]
    _cache: dict[str, tuple[int, float, RouterRecommendation | None]]
    _view: tuple[int, QuickView] | None
    _qidx: dict[str, QuotaIndex]
    _index_snapshot: tuple[int, tuple[QuotaIndex, ...]]
    _reserve: float
    _policy: str
    _prices: tuple[tuple[str, float], ...]
    _asked: dict[str, None]
    _econ: tuple[int, Economics] | None
    _count: TurnCount
    _history: HistoryStore
    _history_cache: tuple[float, dict[tuple[str, str], list[Point]]] | None
    _paces_cache: tuple[float, dict[tuple[str, str], Pace]] | None

    if TYPE_CHECKING:

        @property
        def reserve(self) -> float: ...

        @property
        def policy(self) -> str: ...

    def _best_local(self, model: str) -> RouterRecommendation | None:
        epoch = self._fast_epoch  # read before the state: see `_keep`
        now = _time()
        # A model never asked about before (the state's changes re-rank the others, see `_rerank`), or one whose
        # answer the clock thread took out shortly before a reset: answered from another model of its class when
        # there is one, else only the winner is built, from indexes kept beside the records. A view of this
        # generation exists only for a policy it ranks (a change of policy is a new generation).
        view = self._view
        if view is None or view[0] != self._gen or now >= view[1].until:
            if self._policy in PACED:  # ranked from forecasts by `rank`, not by the quick index
                return self._best_paced(model, epoch)
            view = self._view_at(now)
        gen, qv = view
        best = qv.best(model, now)
        until = qv.until
        cache = self._cache
        if len(cache) >= _CACHE_MAX:  # a caller inventing names must not grow it without end
            cache.clear()
        cache[model] = (gen, until, best)
        until -= _GUARD
        if self._daemon is not None:
            self._keep(((model, best),), until, epoch)
        elif now < until and not self._stop:  # `_keep`, for this Router's own answer, inlined
            fast = self._fast
            if epoch == self._fast_epoch:
                fast[model] = best
                if until < self._fast_until:
                    self._drop_by(fast, until)
        return best

    def _rerank(self) -> None:
        """After a change, rank again the models callers asked about, so that `best_for` stays a lookup.

        Runs in the thread that changed the state (the turn worker, discovery, `set_quota`'s caller).
        """
        if not self._cache:
            return
        epoch = self._fast_epoch
        if self._policy in PACED:
            gen, until, answers = self._paced(list(islice(self._cache, _RERANK_MAX)))
        else:
            now = _time()
            gen, view = self._view_at(now)
            until = view.until
            # `islice` in C: the first models taken at once (no other thread runs meanwhile), never all copied.
            answers = [(model, view.best(model, now)) for model in list(islice(self._cache, _RERANK_MAX))]
        for model, best in answers:
            self._cache[model] = (gen, until, best)
        self._keep(answers, until - _GUARD, epoch)

    def _view_at(self, now: float) -> tuple[int, QuickView]:
        """The generation and its `QuickView`, valid from `now` until the view's `until`; the indexes are looked
        at only when the view must be rebuilt (`_best_local` makes the same test before it calls)."""
        view = self._view
        if view is None or view[0] != self._gen or now >= view[1].until:
            gen, indexes = self._indexes()
            view = self._view = (gen, QuickView(indexes, now, reserve=self._reserve, policy=self._policy))
        return view

    def _indexes(self) -> tuple[int, tuple[QuotaIndex, ...]]:
        """The generation and an index per provider record, rebuilt only for records that changed."""
        snap = self._index_snapshot
        if snap[0] == self._gen:
            return snap
        with self._lock:
            gen = self._gen
            indexes = []
            for pid, q in self._quotas.items():
                idx = self._qidx.get(pid)
                if idx is None or idx.quota is not q:
                    idx = self._qidx[pid] = QuotaIndex(q, idx)
                indexes.append(idx)
            snap = self._index_snapshot = (gen, tuple(indexes))
        return snap

    def _best_paced(self, model: str, epoch: int) -> RouterRecommendation | None:
        hit = self._cache.get(model)
        if hit is not None and hit[0] == self._gen and _time() < hit[1]:  # until its pace may have moved
            self._keep(((model, hit[2]),), hit[1] - _GUARD, epoch)
            return hit[2]
        gen, until, ((_, best),) = self._paced((model,))
        self._cache[model] = (gen, until, best)
        self._keep(((model, best),), until - _GUARD, epoch)
        return best

    def _paced(self, models: Collection[str]) -> tuple[int, float, list[tuple[str, RouterRecommendation | None]]]:
        """The generation, how long answers under a paced policy hold (epoch seconds), and the best provider
        for each of `models`, ranked from forecasts by `rank`'s core instead of the quick index."""
        with self._lock:
            gen, quotas = self._gen, tuple(self._quotas.values())
        now = datetime.now(UTC)
        paces = self._paces_for_policy(quotas, now)
        econ = self.economics(*models) if self._policy == "value" else None
        r, p = self._reserve, self._policy
        answers = [(m, first(quotas, m, now, reserve=r, policy=p, paces=paces, econ=econ)) for m in models]
        change = next_change(quotas, now)
        # A pace moves with time as well as with observations: look again within a minute.
        change = min(change, now + _PACE_TTL) if change else now + _PACE_TTL
        return gen, change.timestamp(), answers

    def ranked(self, model: str, *, exclude: Collection[str] = ()) -> tuple[RouterRecommendation, ...]:
        """Every candidate for `model`, best first, leaving out the providers in `exclude`."""
        with self._lock:
            quotas = tuple(self._quotas.values())
        now = datetime.now(UTC)
        paces = self._paces_for_policy(quotas, now)
        econ = self.economics(model) if self.policy == "value" else None
        r, p = self.reserve, self.policy
        return rank(quotas, model, now, reserve=r, policy=p, exclude=exclude, paces=paces, econ=econ)

    def economics(self, *models: str) -> Economics:
        """What policy "value" knows beyond the windows (`bhoga._value.Economics`): the learned cost of a turn of
        each model on each window, the prices, the metered APIs that can take a request, and the models in use
        (asked about, counted, and `models`) that can claim a window from another: those with a learned cost, and
        those with no metered route. The same one while the state and those models stay the same, so that what it
        has worked out (`Economics.memo`) is reused: a harness asking about a new model does not start it anew."""
        from bhoga._value import PRICES, Economics, price_of  # noqa: PLC0415

        with self._lock:
            kept = self._econ[1] if self._econ is not None and self._econ[0] == self._gen else None
            for m in models:
                # A model with a metered route and no learned cost is no other model's rival (`bhoga._value`).
                if self._asked.pop(m, 0) is not None and kept is not None and m not in kept.models:
                    kept = None if price_of(m, kept) == math.inf else kept
                self._asked[m] = None
            while len(self._asked) > _ASKED_MAX:
                gone = next(iter(self._asked))
                del self._asked[gone]
                kept = None if kept is not None and gone in kept.models else kept
            if kept is not None:
                return kept
            gen = self._gen
            costs = self._count.costs()
            asked = tuple(self._asked)
            metered = metered_routes(self._quotas.values())
        econ = Economics(costs, (*self._prices, *PRICES), frozenset(), metered)
        used = {m for per in costs.values() for m in per}
        econ = replace(econ, models=frozenset((*used, *(m for m in asked if price_of(m, econ) == math.inf))))
        self._econ = (gen, econ)
        return econ

    def _paces_for_policy(self, quotas: tuple[ProviderQuota, ...], now: datetime) -> dict[tuple[str, str], Pace] | None:
        """The paces policies "pace" and "value" need (None for the other policies).

        A rate spans ten minutes or more, so paces a few seconds old rank the same: they are reused for
        `_PACES_TTL` seconds while turns keep changing the quotas (history is re-read at most once a minute).
        """
        if self.policy not in PACED:
            return None
        hit = self._paces_cache
        if hit is not None and time.monotonic() - hit[0] < _PACES_TTL:
            return hit[1]
        from bhoga._pace import paces  # noqa: PLC0415

        fresh = paces(quotas, self._recent_history(), now)
        self._paces_cache = (time.monotonic(), fresh)
        return fresh

    def history(self) -> dict[tuple[str, str], list[Point]]:
        """The recorded history of every window, `{(pid, window_key): [Point, ...]}` (empty when unreadable)."""
        try:
            return self._history.load()
        except BhogaError as e:
            log.warning("%s", e)
            return {}

    def paces(self) -> dict[tuple[str, str], Pace]:
        """The pace of every known window, `{(pid, window_key): Pace}` (see `bhoga._pace`).

        The history file is re-read at most once a minute; the current value of each window is always counted.
        """
        from bhoga._pace import paces  # noqa: PLC0415

        return paces(self.snapshot(), self._recent_history(), datetime.now(UTC))

    def _recent_history(self) -> dict[tuple[str, str], list[Point]]:
        if self._history_cache is None or time.monotonic() - self._history_cache[0] > _PACE_TTL.total_seconds():
            self._history_cache = (time.monotonic(), self.history())
        return self._history_cache[1]

    def snapshot(self) -> tuple[ProviderQuota, ...]:
        """The raw per-provider records, for the anti-flap check and for display."""
        with self._lock:
            return tuple(self._quotas.values())

    def quotas(self) -> dict[str, ProviderQuota]:
        """What is known per provider, keyed "pid:*", plus "pid:<scope>" for per-model windows (e.g. opus)."""
        now = datetime.now(UTC)
        out: dict[str, ProviderQuota] = {}
        for q in self.snapshot():
            scopes = [ANY_MODEL, *sorted({w.scope for w in q.windows} - {ANY_MODEL})]
            for scope in scopes:
                c = evaluate(q, scope, now, self.reserve)
                view = (
                    q
                    if scope == ANY_MODEL
                    else ProviderQuota(
                        q.provider_id,
                        scope,
                        tuple(w for w in q.windows if w.scope == scope),
                        q.throttled_until,
                        q.credential,
                        q.updated_at,
                        q.note,
                        q.extra,
                    )
                )
                if c is not None:
                    view = _with(view, model=scope, quota_pct=round(c.headroom, 4), status=c.status)
                out[f"{q.provider_id}:{scope}"] = view
        return out


def _with(q: ProviderQuota, **changes: Any) -> ProviderQuota:
    return replace(q, **changes)
