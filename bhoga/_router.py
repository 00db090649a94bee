"""The Router: a thread-safe shell around the pure routing core, with a state file and a turn worker.

`record_turn` only appends the raw arguments to a bounded queue; one worker thread filters, calibrates and
merges them, so a harness's hot path pays well under a microsecond. Answers are kept per model in a dictionary that
holds only answers still right: a change of state empties it, and so does a clock thread shortly before the first
reset or throttle end, so `best_for` is one lookup with no clock in the common case.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from itertools import islice
from time import monotonic as _monotonic
from time import time as _time

from bhoga import _lazy
from bhoga._merge import combine, from_observation
from bhoga._model import ANY_MODEL, ESTIMATE, Observation, ProviderQuota, QuotaWindow, RouterRecommendation
from bhoga._providers import PROVIDERS, Kind, provider
from bhoga._quickrank import QuickView, QuotaIndex
from bhoga._record import replace
from bhoga._routing import PACED, POLICIES, evaluate, next_change, rank
from bhoga.errors import BhogaError

__all__ = ["Router"]

# Annotations only: importing `typing` at run time would cost `import bhoga` two milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from collections import deque
    from collections.abc import Callable, Collection, Mapping
    from pathlib import Path
    from types import TracebackType
    from typing import Any

    from bhoga._client import DaemonClient
    from bhoga._history import Point
    from bhoga._pace import Pace
    from bhoga._value import Economics

log = _lazy.logger(__name__)

_Turn = tuple[object, object, object, object, object, object, object]


class _Batch:
    """Turns bhogad took from one read of its socket: how many, counted by (pid, model, status_code), and the
    newest of each kind (the only ones the worker would parse), as `record_turn`'s tuples."""

    __slots__ = ("counts", "newest", "total")

    def __init__(self, total: int, counts: list[tuple[str, str, int, int]], newest: list[_Turn]) -> None:
        self.total = total
        self.counts = counts
        self.newest = newest


_SAVE_EVERY = 1.0  # seconds between state writes while turns keep arriving
_BATCH_WINDOW = 0.005
_DAEMON_STALE = 5.0
"""Seconds past its second an answer of the daemon may still be given while a fresh one is fetched."""
_DAEMON_RETRY = 5.0
"""Seconds between looks for a daemon that stopped answering; the local view answers meanwhile."""
_RERANK_MAX = 64
"""Models re-ranked ahead of time after each change (the first asked); any others are ranked on their next
`best_for`. Every change pays for these, so they are kept to what a harness asks about, with room to spare."""
_PACE_TTL = timedelta(seconds=60)
_PACES_TTL = 5.0
_ASKED_MAX = 64
_CACHE_MAX = 4096
"""Models whose answers are kept for the clock check and re-ranking; past this many the dictionary starts over."""
_GUARD = 0.25
"""Seconds before a reset or throttle end at which the clock thread takes the answers it changes out of the
lookup: a thread woken late by that much (a loaded machine) still drops them in time. Until the moment itself,
`best_for` answers from the per-model cache, checking the clock."""
_CLOCK_CHECK = 1.0
"""Longest wait of the clock thread: waits run on the monotonic clock, deadlines on the wall clock, so after a
suspend or a clock step the answers are dropped within this much."""


def _check_pct(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= 100
    ):
        raise ValueError(f"{name} must be a number from 0 to 100, got {value!r}")
    return float(value)


class Router:
    """Picks the provider with the most quota left for a model.

    Args:
        state_path: the state file; default `BHOGA_STATE` or the user cache directory.
        eager: run quota discovery in the background right away.
        reserve: headroom (0-1) below which a subscription is kept for the human and ranked after metered APIs.
        policy: "headroom" (most quota left), "drain-soonest" (the subscription that resets first), "pace"
            (forecasts from the window history: see `bhoga._routing`) or "value" (pace, and each subscription kept
            for the models it saves the most on: see `bhoga._value`).
        prices: policy "value": `{model substring: price}` of a turn on a metered API, over `bhoga._value.PRICES`
            (only ratios matter).
        max_queue: entries kept waiting for the worker (a turn, or one of bhogad's runs of turns: a count and the
            newest of each kind); when full the oldest is dropped and its turns counted in `dropped_turns`.
        daemon: share one view with bhogad: turns and quotas are also sent to it and `best_for` asks it.
            None (default) uses the daemon when its socket answers at start; False never does (bhogad itself).
        owner: whether this Router's discovery may conclude that a credential is absent (DESIGN §8.1). bhogad
            passes True; None (default) means "only while no bhogad answers", so a process that merely lacks a
            key (a shell without OPENAI_API_KEY) never erases the daemon's knowledge that the key exists.
    """

    def __init__(
        self,
        *,
        state_path: Path | str | None = None,
        eager: bool = True,
        daemon: bool | None = None,
        reserve: float = 0.10,
        policy: str = "headroom",
        max_queue: int = 10_000,
        owner: bool | None = None,
        prices: Mapping[str, float] | None = None,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; choose one of: {', '.join(POLICIES)}")
        if not 0 <= reserve < 1:
            raise ValueError(f"reserve must be a fraction from 0 to 1, got {reserve!r}")
        # A Router's edges (the state and history files, its threads) load when one is built, not with
        # `import bhoga`: a harness imports bhoga at start-up, often well before it routes anything.
        import threading  # noqa: PLC0415

        _lazy.import_pathlib()
        from pathlib import Path  # noqa: PLC0415

        from bhoga import _paths  # noqa: PLC0415
        from bhoga._history import HistoryStore, Recorder, history_path  # noqa: PLC0415
        from bhoga._state import StateStore  # noqa: PLC0415
        from bhoga._turncount import TurnCount  # noqa: PLC0415

        self._reserve = reserve
        self._policy = policy
        self._prices = tuple((k.lower(), float(v)) for k, v in (prices or {}).items())
        self._asked: dict[str, None] = {}
        """Models asked about (policy "value" keeps windows only for demand that exists), oldest first, bounded."""
        self._owner = owner
        self._store = StateStore(Path(state_path) if state_path else _paths.state_path())
        self._history = HistoryStore(history_path(self._store.path))
        self._recorder = Recorder()
        self._count = TurnCount()
        """Turns routed since each subscription was last read (guarded by `_lock`): Copilot is read every 15 min."""
        self._history_cache: tuple[float, dict[tuple[str, str], list[Point]]] | None = None
        self._paces_cache: tuple[float, dict[tuple[str, str], Pace]] | None = None
        self._lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._quotas: dict[str, ProviderQuota] = {}
        self._gen = 0
        self._cache: dict[str, tuple[int, float, RouterRecommendation | None]] = {}
        """Per model asked: (generation, valid until (epoch seconds), the answer). Its first models are those a
        change re-ranks; a paced policy's answers are given from it, checked against the clock."""
        self._fast: dict[str, RouterRecommendation | None] = {}
        """Answers right until `_fast_until` at least, from whoever answers now (this Router or bhogad)."""
        self._fast_until = math.inf
        self._fast_epoch = 0
        """Counts emptyings of `_fast`: an answer computed from what was read before one is not put in."""
        self._fast_lock = threading.Lock()
        self._clock = threading.Thread(target=self._tick, name="bhoga-clock", daemon=True)
        """Started with the first answer that must be dropped at some moment (see `_keep`)."""
        self._clock_started = False
        self._clock_wake = threading.Event()
        self._qidx: dict[str, QuotaIndex] = {}
        self._index_snapshot: tuple[int, tuple[QuotaIndex, ...]] = (-1, ())
        self._view: tuple[int, QuickView] | None = None
        self._subscribers: list[Callable[[], None]] = []
        from collections import deque  # noqa: PLC0415 - `collections` (~1.5 ms) loads with a Router, not at import

        self._turns: deque[_Turn | _Batch] = deque(maxlen=max_queue)
        self._maxq = max_queue
        self.dropped_turns = 0
        self._batches_queued = 0  # an upper bound of the _Batch entries in `_turns` (record_turn's fast path)
        self.processed_turns = 0
        """Turns the worker took from the queue (the newest of each kind is parsed: the others say the same)."""
        self._warned: set[str] = set()
        self.save_error: str | None = None
        """Why the last write of the state file failed (one line); None after a successful one."""
        self._wake = threading.Event()
        self._stop = False
        self._dirty = False
        self._last_save = 0.0
        try:
            self._quotas = self._store.load()
        except BhogaError as e:
            log.warning("%s; starting with no saved quota", e)
            self._warned.add(str(e))
        self._recorder.seen(self._quotas.values())
        self._worker = threading.Thread(target=self._work, name="bhoga-turns", daemon=True)
        self._worker.start()
        self._daemon: DaemonClient | None = None
        self._daemon_best: dict[str, tuple[float, RouterRecommendation | None]] = {}
        self._daemon_asks: set[str] = set()
        self._daemon_gone_until = 0.0
        if daemon is not False:
            from bhoga._client import shared_client  # noqa: PLC0415 - sockets only when a daemon may be there

            self._daemon = shared_client()  # one connection per process, whatever the number of Routers
        self._discovery: threading.Thread | None = None
        if eager:
            self._discovery = threading.Thread(target=self.discover, name="bhoga-discovery", daemon=True)
            self._discovery.start()

    @property
    def reserve(self) -> float:
        """Headroom (0-1) kept for the human; changing it invalidates cached rankings."""
        return self._reserve

    @reserve.setter
    def reserve(self, value: float) -> None:
        self._reserve = value
        self._gen += 1
        self._drop_fast()

    @property
    def prices(self) -> dict[str, float]:
        """Policy "value": the user's prices, over `bhoga._value.PRICES`; changing them invalidates rankings."""
        return dict(self._prices)

    @prices.setter
    def prices(self, value: Mapping[str, float]) -> None:
        self._prices = tuple((k.lower(), float(v)) for k, v in value.items())
        self._gen += 1
        self._drop_fast()

    @property
    def policy(self) -> str:
        """ "headroom", "drain-soonest", "pace" or "value"; changing it invalidates cached rankings."""
        return self._policy

    @policy.setter
    def policy(self, value: str) -> None:
        self._policy = value
        self._gen += 1
        self._drop_fast()

    # -- reading ---------------------------------------------------------------------------------------

    def best_for(self, model: str) -> RouterRecommendation | None:
        """The provider to use for `model` now, or None when no provider can serve it."""
        # One lookup, no clock: `_fast` holds only answers that are still right (see `_keep`).
        hit = self._fast.get(model, _MISSING)
        if hit is not _MISSING:
            return hit  # type: ignore[return-value]
        return self._best_local(model) if self._daemon is None else self._best_slow(model)

    def _best_slow(self, model: str) -> RouterRecommendation | None:
        if self._daemon is None or (self._daemon_gone_until and _monotonic() < self._daemon_gone_until):
            return self._best_local(model)
        return self._best_from_daemon(model)

    def _best_from_daemon(self, model: str) -> RouterRecommendation | None:
        # The daemon's answer is the shared view. A harness that calls best_for before every request must not
        # pay a socket round trip (~90 µs) for it: an answer is used for a second, and for a few seconds more
        # while the turn worker fetches a fresh one. When the daemon is gone, the local view answers (a lookup)
        # and the worker looks for the daemon again every few seconds.
        epoch = self._fast_epoch
        hit = self._daemon_best.get(model)
        now = time.monotonic()
        if hit is not None:
            if now >= hit[0]:
                self._ask_later(model)
            elif not self._daemon_gone_until:  # fresh: a lookup until its second is over
                self._keep(((model, hit[1]),), _time() + hit[0] - now, epoch, local=False)
            if now < hit[0] + _DAEMON_STALE:
                return hit[1]
        if self._daemon_gone_until:
            if now >= self._daemon_gone_until:  # time to look again, in the background
                self._daemon_gone_until = now + _DAEMON_RETRY
                self._ask_later(model)
            return self._best_local(model)
        reached, answer = self._ask_daemon(model)
        return answer if reached else self._best_local(model)

    def _ask_later(self, model: str) -> None:
        if model not in self._daemon_asks:
            self._daemon_asks.add(model)
            self._wake.set()

    def _ask_daemon(self, model: str) -> tuple[bool, RouterRecommendation | None]:
        """(True, the daemon's pick for `model`, kept for a second), or (False, None) after noting that the
        daemon is unreachable."""
        assert self._daemon is not None
        from bhoga._client import UNREACHABLE, Unreachable  # noqa: PLC0415

        epoch = self._fast_epoch
        answer = self._daemon.best(model, timeout=0.25)
        now = time.monotonic()
        if answer is UNREACHABLE:
            was_there = not self._daemon_gone_until
            self._daemon_gone_until = now + _DAEMON_RETRY
            self._daemon_best.clear()
            if was_there:
                self._drop_fast()  # its answers out of the lookup: the local view answers now
            return False, None
        assert not isinstance(answer, Unreachable)
        came_back = bool(self._daemon_gone_until)
        self._daemon_gone_until = 0.0
        self._daemon_best[model] = (now + 1.0, answer)
        if came_back:
            self._drop_fast()  # the local answers out: the daemon's view is the shared one
            epoch = self._fast_epoch
        self._keep(((model, answer),), _time() + 1.0, epoch, local=False)
        return True, answer

    def _refresh_daemon_answers(self) -> None:
        """The turn worker's part of `_best_from_daemon`: fetch the answers asked for."""
        while self._daemon_asks and not self._stop:
            if not self._ask_daemon(self._daemon_asks.pop())[0]:
                self._daemon_asks.clear()

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
        if self._policy in PACED or not self._cache:
            return
        epoch = self._fast_epoch
        now = _time()
        gen, view = self._view_at(now)
        # `islice` in C: the first models taken at once (no other thread runs meanwhile), never all of them copied.
        answers = [(model, view.best(model, now)) for model in list(islice(self._cache, _RERANK_MAX))]
        for model, best in answers:
            self._cache[model] = (gen, view.until, best)
        self._keep(answers, view.until - _GUARD, epoch)

    def _view_at(self, now: float) -> tuple[int, QuickView]:
        """The generation and its `QuickView`, valid from `now` until the view's `until`; the indexes are looked
        at only when the view must be rebuilt (`_best_local` makes the same test before it calls)."""
        view = self._view
        if view is None or view[0] != self._gen or now >= view[1].until:
            gen, indexes = self._indexes()
            view = self._view = (gen, QuickView(indexes, now, reserve=self._reserve, policy=self._policy))
        return view

    def _answers_locally(self) -> bool:
        return self._daemon is None or bool(self._daemon_gone_until)

    def _keep(
        self,
        answers: Collection[tuple[str, RouterRecommendation | None]],
        until: float,
        epoch: int,
        *,
        local: bool = True,
    ) -> None:
        """Put `answers` in `best_for`'s lookup, to be taken out by `until` (epoch seconds).

        Nothing is put in once `_fast` was emptied since `epoch` was read (the answers may predate a change of
        state or of who answers), nor an answer of the other side (this Router's own view or bhogad's). No lock:
        `_drop_fast` counts the emptying before it replaces the dictionary, and the dictionary is taken here
        before the count is compared, so an answer put in after an emptying lands in the replaced dictionary.
        """
        if self._daemon is not None:
            gone = self._daemon_gone_until
            if local != bool(gone):
                return
            if local:  # standing in for a daemon that went away: look for it again at the retry
                until = min(until, _time() + gone - _monotonic())
        elif not local:
            return
        if until <= _time() or self._stop:
            return
        fast = self._fast
        if epoch != self._fast_epoch:
            return
        for model, best in answers:
            fast[model] = best
        if until < self._fast_until:
            self._drop_by(fast, until)

    def _drop_by(self, fast: dict[str, RouterRecommendation | None], until: float) -> None:
        """Have the clock thread empty `fast` by `until`, unless it is already gone."""
        with self._fast_lock:
            if fast is not self._fast or until >= self._fast_until:
                return
            self._fast_until = until
            start = not self._clock_started
            self._clock_started = True
        if start:
            self._clock.start()
        else:
            self._clock_wake.set()

    def _drop_fast(self) -> None:
        """Empty `best_for`'s lookup: after a change of state or of who answers, and at its deadline."""
        with self._fast_lock:
            self._fast_epoch += 1  # first: see `_keep`
            self._fast_until = math.inf
            self._fast = {}

    def _tick(self) -> None:
        """The clock thread: empties `best_for`'s lookup when its deadline comes (shortly before a reset or a
        throttle end, or when a daemon answer's second is over)."""
        while not self._stop:
            left = self._fast_until - _time()
            if left <= 0:
                self._drop_fast()
                continue
            self._clock_wake.wait(None if left == math.inf else min(left, _CLOCK_CHECK))
            self._clock_wake.clear()

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
        with self._lock:
            gen, quotas = self._gen, tuple(self._quotas.values())
        now = datetime.now(UTC)
        paces = self._paces_for_policy(quotas, now)
        econ = self.economics(model) if self.policy == "value" else None
        ranked = rank(quotas, model, now, reserve=self.reserve, policy=self.policy, paces=paces, econ=econ)
        change = next_change(quotas, now)
        # A pace moves with time as well as with observations: look again within a minute.
        change = min(change, now + _PACE_TTL) if change else now + _PACE_TTL
        best = ranked[0] if ranked else None
        self._cache[model] = (gen, change.timestamp(), best)
        self._keep(((model, best),), change.timestamp() - _GUARD, epoch)
        return best

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
        each model on each window, the prices, and the models in use (asked about, counted, and `models`)."""
        from bhoga._value import PRICES, Economics  # noqa: PLC0415

        with self._lock:
            for m in models:
                self._asked.pop(m, None)
                self._asked[m] = None
            while len(self._asked) > _ASKED_MAX:
                del self._asked[next(iter(self._asked))]
            costs = self._count.costs()
            asked = tuple(self._asked)
        used = {m for per in costs.values() for m in per}
        return Economics(costs, (*self._prices, *PRICES), frozenset((*asked, *used)))

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

    # -- writing ---------------------------------------------------------------------------------------

    def observe(self, obs: Observation) -> None:
        """Merge one observation (discovery, a header, set_quota) into the quota state."""
        self._merge([obs])
        self._notify()

    def set_quota(
        self, pid: str, pct_remaining: float, *, weekly_pct: float | None = None, model: str = ANY_MODEL
    ) -> None:
        """Tell the Router how much is left, in percent (0-100): the 5-hour window and optionally the weekly one.

        On a metered API this is a budget figure and ranks as one; on Copilot it is the monthly allowance.
        Raises ValueError for an unknown provider id or a percentage outside 0-100.
        """
        prov = provider(pid)
        pct = _check_pct("pct_remaining", pct_remaining)
        weekly = None if weekly_pct is None else _check_pct("weekly_pct", weekly_pct)
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"model must be a model name or '*', got {model!r}")
        scope = ANY_MODEL if model.strip() == ANY_MODEL else model.strip().lower()
        now = datetime.now(UTC)
        names = prov.quota_windows
        windows = [QuotaWindow(names[0], 100.0 - pct, None, 0, scope, now, "set_quota")]
        if weekly is not None:
            windows.append(QuotaWindow(names[1], 100.0 - weekly, None, 0, scope, now, "set_quota"))
        self.observe(Observation(pid, now, tuple(windows), credential=True, source="set_quota"))
        if self._daemon is not None:
            self._daemon.send_set_quota(pid, pct, weekly, model)
            self._daemon_best.clear()
            self._drop_fast()
        self._save()

    def record_turn(
        self,
        pid: str,
        model: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        headers: object = None,
        status_code: int = 200,
        *,
        error: str | None = None,
    ) -> None:
        """Note one finished request; returns at once and never raises (the worker does the parsing).

        `error` is the error message or response body of a failed call: a limit it names (Codex
        `usage_limit_reached`, Anthropic `rate_limit_error`, ...) throttles the provider until the end it gives.
        """
        if len(self._turns) >= self._maxq:
            if self._batches_queued:
                self._drop_oldest()
            else:  # only single turns queued (always, in a harness): the one dropped is one turn
                self.dropped_turns += 1
        self._turns.append((pid, model, input_tokens, output_tokens, headers, status_code, error))
        if not self._wake.is_set():
            self._wake.set()
        if self._daemon is not None:
            self._daemon.send_turn(pid, model, input_tokens, output_tokens, headers, status_code, error)

    def record_turns(self, total: int, counts: list[tuple[str, str, int, int]], newest: list[_Turn]) -> None:
        """Note `total` finished requests at once (bhogad's socket path): `counts` has (pid, model, status_code,
        how many) for all of them, `newest` the newest turn of each kind as `record_turn`'s arguments (an older
        turn of the same provider, status, header names and error would be parsed into nothing newer).

        Processed exactly as `total` calls of `record_turn` would be, as one entry of the bounded queue. Not
        forwarded to a daemon: this is the daemon's own path."""
        if len(self._turns) >= self._maxq:
            self._drop_oldest()
        with self._lock:  # counted before it is queued: never fewer than the batches in the queue
            self._batches_queued += 1
        self._turns.append(_Batch(total, counts, newest))
        if not self._wake.is_set():
            self._wake.set()

    def _drop_oldest(self) -> None:
        """Count the turns of the entry the full queue is about to drop."""
        try:
            head = self._turns[0]
        except IndexError:  # the worker emptied it meanwhile
            return
        self.dropped_turns += head.total if isinstance(head, _Batch) else 1

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback()` (from any thread) whenever the quota state has changed."""
        self._subscribers.append(callback)

    def discover(self, *, force: bool = False) -> None:
        """Run quota discovery now, in this thread, and merge what it finds. Never raises."""
        try:
            from bhoga.discovery import discover_all  # noqa: PLC0415 - discovery pulls in urllib; load late

            found = discover_all(force=force)
            if not self._concludes_absence():
                found = [_no_absence(o) for o in found]
        except Exception:
            log.exception("quota discovery failed")
            return
        if found:
            self._merge(found)
            self._notify()
            self._save()

    def sync(self) -> None:
        """Process every turn queued so far, in this thread, before returning (no file is written).

        A turn being processed by the worker at this moment is waited for, so an answer computed after `sync`
        reflects every turn recorded before it.
        """
        with self._drain_lock:
            self._drain()

    def flush(self) -> None:
        """Process every queued turn and write the state file now."""
        self.sync()
        self._save()

    def close(self) -> None:
        """Stop the worker, process what is queued and save the state."""
        if self._stop:
            return
        self._stop = True
        self._wake.set()
        self._clock_wake.set()
        self._worker.join(timeout=5)
        if self._clock_started:
            self._clock.join(timeout=5)
        self._drop_fast()  # no clock thread any more: a closed Router's answers are checked against the clock
        self.flush()
        if self._daemon is not None:
            self._daemon.flush(timeout=0.5)  # the client is the process's, shared with other Routers: kept open

    def __enter__(self) -> Router:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------------------

    def _concludes_absence(self) -> bool:
        if self._owner is not None:
            return self._owner
        from bhoga import _paths  # noqa: PLC0415
        from bhoga._client import daemon_running  # noqa: PLC0415

        return not daemon_running(_paths.socket_path())

    def _merge(self, observations: Collection[Observation]) -> None:
        with self._lock:
            for obs in observations:
                if obs.windows and obs.source != ESTIMATE:
                    self._count.observed(obs.provider_id, obs.windows)
                self._quotas[obs.provider_id] = combine(self._quotas.get(obs.provider_id), from_observation(obs))
            self._gen += 1
            self._dirty = True
        if self._answers_locally():
            self._drop_fast()
        self._rerank()

    def _notify(self) -> None:
        for cb in tuple(self._subscribers):
            try:
                cb()
            except Exception:
                log.exception("quota-change subscriber failed")

    def _save(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            mine, self._dirty = dict(self._quotas), False
        try:
            merged = self._store.merge_and_save(mine)
        except BhogaError as e:
            self.save_error = str(e)
            if str(e) not in self._warned:  # the same refusal as when the state was loaded: said once
                self._warned.add(str(e))
                log.warning("%s", e)
            return
        # History rides on the (coalesced) state save: a turn's caller never pays for it. Only what this process
        # learned is recorded; what another process saved is marked seen, since that process records it.
        try:
            self._history.append(self._recorder.new_points(mine.values()))
        except BhogaError as e:
            log.warning("%s", e)
        self._recorder.seen(merged.values())
        self._last_save = time.monotonic()
        self.save_error = None
        with self._lock:
            # Keep what other processes wrote; anything merged in meanwhile stays newest-wins.
            for pid, q in merged.items():
                self._quotas[pid] = combine(q, self._quotas[pid]) if pid in self._quotas else q
            self._gen += 1
        if self._answers_locally():
            self._drop_fast()
        self._rerank()

    def _turn_observation(self, turn: _Turn) -> Observation | None:
        pid, model, _tin, _tout, headers, status, error = turn
        if not isinstance(pid, str) or pid not in PROVIDERS:
            if len(self._warned) < 64 and str(pid) not in self._warned:
                self._warned.add(str(pid))
                log.warning(
                    "record_turn: unknown provider %r ignored; choose one of: %s", str(pid)[:64], ", ".join(PROVIDERS)
                )
            return None
        code = status if isinstance(status, int) and not isinstance(status, bool) else 0
        del model  # the windows of a subscription belong to the account, whatever model the turn used
        from bhoga._calibrate import calibrate  # noqa: PLC0415 - loaded with the first turn, not at import

        return calibrate(pid, headers, status_code=code, error=error if isinstance(error, str) else None)

    def _drain(self) -> None:
        items: list[_Turn | _Batch] = []
        while True:
            try:
                items.append(self._turns.popleft())
            except IndexError:
                break
        turns: list[_Turn] = []  # what is parsed (the newest per kind of these), in queue order
        singles: list[_Turn] = []
        counts: list[tuple[str, str, int, int]] = []
        taken = 0
        for item in items:
            if isinstance(item, _Batch):  # a read of bhogad's socket: counted, and its newest turns parsed
                turns.extend(item.newest)
                counts.extend(item.counts)
                taken += item.total
                with self._lock:
                    self._batches_queued -= 1
            else:
                turns.append(item)
                singles.append(item)
        self.processed_turns += taken + len(singles)
        counted = self._count_turns(singles, counts)
        batch: list[Observation] = []
        for turn in _newest_per_kind(turns):
            try:
                if (obs := self._turn_observation(turn)) is not None:
                    batch.append(obs)
            except Exception:
                log.exception("record_turn: a turn could not be processed")
        merged = False
        if counted and batch:
            # The turns' own readings (headers) first: only what no reading covers is then estimated.
            self._merge(batch)
            batch, merged = [], True
        if counted:
            batch = self._estimates(counted)
        if batch:
            self._merge(batch)
            merged = True
        if merged:
            self._notify()

    def _count_turns(self, turns: list[_Turn], counts: list[tuple[str, str, int, int]]) -> set[str]:
        """Count every successful turn on a subscription (all of them: the parse keeps only the newest), the single
        ones in `turns` and the batches' (pid, model, status_code, how many) in `counts`."""
        counted: set[str] = set()
        with self._lock:
            for b_pid, b_model, b_status, n in counts:
                if 200 <= b_status < 300 and (p := PROVIDERS.get(b_pid)) is not None and p.kind is Kind.SUBSCRIPTION:
                    self._count.routed(b_pid, b_model, n)
                    counted.add(b_pid)
            for pid, model, _i, _o, _h, status, _e in turns:
                if (
                    isinstance(pid, str)
                    and isinstance(model, str)
                    and isinstance(status, int)
                    and 200 <= status < 300
                    and (prov := PROVIDERS.get(pid)) is not None
                    and prov.kind is Kind.SUBSCRIPTION
                ):
                    self._count.routed(pid, model)
                    counted.add(pid)
        return counted

    def _estimates(self, pids: set[str]) -> list[Observation]:
        now = datetime.now(UTC)
        with self._lock:
            found = [(pid, self._count.estimate(pid, now)) for pid in sorted(pids) if self._count.pending(pid)]
        return [Observation(pid, now, windows, source=ESTIMATE) for pid, windows in found if windows]

    def _work(self) -> None:
        while not self._stop:
            self._wake.wait(timeout=_SAVE_EVERY if self._dirty else None)
            if len(self._turns) > 1 and not self._stop:
                # Under a flood, gather a few milliseconds of turns first: one larger batch coalesces better and
                # takes the interpreter lock from the producers less often.
                time.sleep(_BATCH_WINDOW)
            self._wake.clear()
            try:
                with self._drain_lock:
                    self._drain()
                if self._dirty and time.monotonic() - self._last_save >= _SAVE_EVERY:
                    self._save()
                if self._daemon_asks and self._daemon is not None:
                    self._refresh_daemon_answers()
            except Exception:
                log.exception("turn worker error (continuing)")


_MISSING = object()


def _newest_per_kind(turns: list[_Turn]) -> list[_Turn]:
    """The turns worth parsing, in order: per (provider, status, header names) only the newest one.

    An older turn of the same kind would produce the same windows and throttle, only older, and per fact the
    newest observation wins; skipping it keeps the worker ahead of a flood of turns.
    """
    last: dict[object, int] = {}
    for i, (pid, _m, _i, _o, headers, status, error) in enumerate(turns):
        try:
            names = tuple(headers) if isinstance(headers, dict) else id(headers)
            last[(pid, status, names, error)] = i
        except TypeError:  # unhashable junk: parse it alone (and let it be logged)
            last[i] = i
    keep = set(last.values())
    return [t for i, t in enumerate(turns) if i in keep]


def _no_absence(obs: Observation) -> Observation:
    """`obs` without its "no credential here" part: absence in this process is no news about the daemon's."""
    if obs.credential is False:
        return replace(obs, credential=None, sources=(), marker="", note="")
    return obs


def _with(q: ProviderQuota, **changes: Any) -> ProviderQuota:
    return replace(q, **changes)
