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
from bhoga._hierarchy import serving
from bhoga._inuse import MAX_MODELS, renewed
from bhoga._model import ANY_MODEL, ProviderQuota, RouterRecommendation
from bhoga._quickrank import QuickView
from bhoga._quota_index import QuotaIndex
from bhoga._record import replace
from bhoga._router_clock import _GUARD
from bhoga._router_daemon import _DaemonAnswers
from bhoga._routing import PACED, evaluate, metered_routes, rank
from bhoga.errors import BhogaError

# Annotations only: importing `typing` at run time would cost `import bhoga` two milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from collections.abc import Collection, Iterable
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
_ASKED_MAX = MAX_MODELS
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
    _asked: dict[str, float]
    _dirty: bool
    _wake: threading.Event
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
            view = self._view_at(now)
        gen, qv = view
        if qv.econ is not None and model not in self._asked and self.economics(model) is not qv.econ:
            # Policy "value": a model asked about for the first time is in use from now on, and this one can
            # claim a window from another (it has no metered route): every model is ranked anew.
            gen, qv = self._view_at(now, stale=view)
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

    def _after_deadline(self) -> None:
        """Under a paced policy the lookup's deadline is mostly the minute a forecast is good for: the clock thread
        ranks the asked models again itself, so that no `best_for` caller pays for the forecasts (a week of
        history: ~0.1 ms, and ~1 ms once a minute when what was appended to the history file is read)."""
        if self._policy in PACED and self._answers_locally():
            try:
                self._rerank(renew=True)
            except Exception:  # the clock thread must go on emptying the lookup, whatever happens here
                log.exception("re-ranking at the forecasts' deadline failed")

    def _rerank(self, *, renew: bool = False) -> None:
        """After a change, rank again the models callers asked about, so that `best_for` stays a lookup.

        Runs in the thread that changed the state (the turn worker, discovery, `set_quota`'s caller), or in the
        clock thread at a paced view's deadline, which `renew`s the view (the one about to end is not reused).
        Answers whose view ends within `_GUARD` (a reset or throttle end) are not kept: `best_for` ranks then.
        """
        if not self._cache:
            return
        epoch = self._fast_epoch
        now = _time()
        gen, view = self._view_at(now, stale=self._view if renew else None)
        # `islice` in C: the first models taken at once (no other thread runs meanwhile), never all of them copied.
        answers = [(model, view.best(model, now)) for model in list(islice(self._cache, _RERANK_MAX))]
        for model, best in answers:
            self._cache[model] = (gen, view.until, best)
        self._keep(answers, view.until - _GUARD, epoch)

    def _view_at(self, now: float, *, stale: tuple[int, QuickView] | None = None) -> tuple[int, QuickView]:
        """The generation and its `QuickView`, valid from `now` until the view's `until`; the indexes are looked
        at only when the view must be rebuilt (`_best_local` makes the same test before it calls), or when the
        view is `stale` (the models in use changed)."""
        view = self._view
        if view is None or view[0] != self._gen or now >= view[1].until or view is stale:
            gen, indexes = self._indexes()
            paces = econ = None
            until = math.inf
            if self._policy in PACED:  # forecasts, read again at most every few seconds, and what a turn saves
                at = datetime.fromtimestamp(now, UTC)
                paces = self._paces_for_policy(tuple(idx.quota for idx in indexes), at)
                econ = self.economics() if self._policy == "value" else None
                until = now + _PACE_TTL.total_seconds()  # a pace moves with time as well as with observations
            qv = QuickView(
                indexes, now, reserve=self._reserve, policy=self._policy, paces=paces, econ=econ, until=until
            )
            view = self._view = (gen, qv)
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
        (asked about, routed, and `models`, within the last week: `bhoga._inuse`) that can claim a window from
        another: those with a learned cost or a published one (Copilot's multipliers), and those with no metered
        route. The same one while the state and those models stay the same, so that what it has worked out
        (`Economics.memo`) is reused: a harness asking about a new model does not start it anew. `models` are asked
        about now."""
        with self._lock:
            kept = self._econ[1] if self._econ is not None and self._econ[0] == self._gen else None
            new, wake = self._touch(models, _time())
            # A model with a metered route claims no window before its costs, learned or published, count: from the
            # next change of the state (`bhoga._value`), which re-ranks the models asked about. So asking about it
            # keeps what was worked out, and a never-asked model stays a lookup.
            if kept is not None:
                for m in new:
                    if m not in kept.models and not _routed(m, kept.metered):
                        kept = None
                        break
            if kept is not None:
                econ = kept
            else:
                gen = self._gen
                asked = tuple(self._asked)
                costs = self._count.costs(asked)
                metered = metered_routes(self._quotas.values())
        if wake:
            self._wake.set()
        if kept is not None:
            return econ
        from bhoga._value import PRICES, Economics  # noqa: PLC0415

        # A model whose cost was learned counts while it is in use: not asked about nor routed for a week, it is not.
        used = {m for per in costs.values() for m in per}.intersection(asked)
        models_in_use = frozenset((*used, *(m for m in asked if not _routed(m, metered))))
        econ = Economics(costs, (*self._prices, *PRICES), models_in_use, metered)
        self._econ = (gen, econ)
        return econ

    def _touch(self, models: Iterable[str], now: float) -> tuple[list[str], bool]:
        """Under the lock: `models` were asked about or routed at `now`, so they are in use (`bhoga._inuse`), the
        least recent leaving past `_ASKED_MAX` (a ranking that still counts one was right a moment ago, and the
        next change of the state leaves it out). The models new among them, and whether the worker must be woken
        to write the state file for them: a save already due carries them whenever it is written."""
        asked = self._asked
        new: list[str] = []
        news = False
        for m in models:
            old = asked.pop(m, None)
            asked[m] = now
            if old is None:
                new.append(m)
                news = True
            elif not news:
                news = renewed(old, now)
        while len(asked) > _ASKED_MAX:
            del asked[next(iter(asked))]
        if not news:
            return new, False
        wake, self._dirty = not self._dirty, True
        return new, wake

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


def _routed(model: str, metered: frozenset[str]) -> bool:
    """Whether one of the metered APIs `metered` can serve `model` (`bhoga._value.price_of` is finite)."""
    return not metered.isdisjoint(serving(model))


def _with(q: ProviderQuota, **changes: Any) -> ProviderQuota:
    return replace(q, **changes)
