"""The Router: a thread-safe shell around the pure routing core, with a state file and a turn worker.

`record_turn` only appends the raw arguments to a bounded queue; one worker thread filters, calibrates and
merges them, so a harness's hot path pays well under a microsecond. Answers are kept per model in a dictionary that
holds only answers still right: a change of state empties it, and so does a clock thread shortly before the first
reset or throttle end, so `best_for` is one lookup with no clock in the common case.

This module ties the parts together (construction, settings, `best_for`, closing); the parts are
`bhoga._router_turns` (the queue and its worker), `bhoga._router_state` (merging and saving the state),
`bhoga._router_local` (ranking from it), `bhoga._router_daemon` (asking bhogad) and `bhoga._router_clock`
(emptying `best_for`'s lookup in time).
"""

from __future__ import annotations

import math

from bhoga import _lazy
from bhoga._inuse import by_time
from bhoga._router_state import _StateWrites
from bhoga._router_turns import _Batch, _Turn, _TurnQueue
from bhoga._routing import DEFAULT_POLICY, POLICIES
from bhoga.errors import BhogaError

__all__ = ["Router"]

# Annotations only: importing `typing` at run time would cost `import bhoga` two milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections import deque
    from collections.abc import Callable, Mapping
    from pathlib import Path
    from types import TracebackType

    from bhoga._client import DaemonClient
    from bhoga._history import Point
    from bhoga._model import ProviderQuota, RouterRecommendation
    from bhoga._pace import Pace
    from bhoga._quickrank import QuickView
    from bhoga._quota_index import QuotaIndex
    from bhoga._turnlog_writer import TurnLogWriter
    from bhoga._value import Economics

log = _lazy.logger(__name__)


class Router(_TurnQueue, _StateWrites):
    """Picks the provider with the most quota left for a model.

    Args:
        state_path: the state file; default `BHOGA_STATE` or the user cache directory.
        eager: run quota discovery in the background right away.
        reserve: headroom (0-1) below which a subscription is kept for the human and ranked after metered APIs.
        policy: "value" (the default: pace, and each subscription kept for the models it saves the most on, see
            `bhoga._value`), "headroom" (most quota left), "drain-soonest" (the subscription that resets first) or
            "pace" (forecasts from the window history: see `bhoga._routing`).
        prices: policy "value": `{model substring: price}` of a turn on a metered API, over `bhoga._value.PRICES`
            (only ratios matter).
        max_queue: entries kept waiting for the worker (a turn, or one of bhogad's runs of turns: a count and the
            newest of each kind); when full the oldest is dropped and its turns counted in `dropped_turns`.
        daemon: share one view with bhogad: turns and quotas are also sent to it and `best_for` asks it.
            None (default) uses the daemon when its socket answers at start; False never does (bhogad itself).
        owner: whether this Router's discovery may conclude that a credential is absent (DESIGN §8.1). bhogad
            passes True; None (default) means "only while no bhogad answers", so a process that merely lacks a
            key (a shell without OPENAI_API_KEY) never erases the daemon's knowledge that the key exists.
        log_turns: write each successful turn (time, model, provider) to the turn log beside the state file, for
            `bhoga simulate` (`bhoga._turnlog`). bhogad passes True; it needs `daemon=False`, since a Router that
            forwards its turns to bhogad would log them a second time.
    """

    def __init__(
        self,
        *,
        state_path: Path | str | None = None,
        eager: bool = True,
        daemon: bool | None = None,
        reserve: float = 0.10,
        policy: str = DEFAULT_POLICY,
        max_queue: int = 10_000,
        owner: bool | None = None,
        prices: Mapping[str, float] | None = None,
        log_turns: bool = False,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; choose one of: {', '.join(POLICIES)}")
        if not 0 <= reserve < 1:
            raise ValueError(f"reserve must be a fraction from 0 to 1, got {reserve!r}")
        if log_turns and daemon is not False:
            raise ValueError("log_turns needs daemon=False: bhogad logs the turns a Router forwards to it")
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
        self._asked: dict[str, float] = {}
        """Models in use (policy "value" keeps windows only for demand that exists): those asked about and those
        routed, with when (epoch seconds), least recent first, bounded; kept in the state file (`bhoga._inuse`)."""
        self._econ: tuple[int, Economics] | None = None
        """Policy "value": the last `economics()` and the generation it was made at."""
        self._owner = owner
        self._store = StateStore(Path(state_path) if state_path else _paths.state_path())
        self._history = HistoryStore(history_path(self._store.path))
        self._recorder = Recorder()
        self._turn_log: TurnLogWriter | None = None
        if log_turns:
            from bhoga._turnlog import turnlog_path  # noqa: PLC0415 - bhogad's Router only
            from bhoga._turnlog_writer import TurnLogWriter  # noqa: PLC0415

            self._turn_log = TurnLogWriter(turnlog_path(self._store.path))
        self._last_log = 0.0
        self._count = TurnCount()
        """Turns routed since each subscription was last read (guarded by `_lock`): Copilot is read every 15 min."""
        self._history_cache: tuple[float, dict[tuple[str, str], list[Point]]] | None = None
        self._paces_cache: tuple[float, dict[tuple[str, str], Pace]] | None = None
        self._lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._save_lock = threading.Lock()
        """One write of the state file at a time, whole: `flush` returns after a write the worker had under way."""
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
            self._quotas, in_use = self._store.load_all()
        except BhogaError as e:
            log.warning("%s; starting with no saved quota", e)
            self._warned.add(str(e))
        else:
            # What was in use before a restart (or in another process) still is, until a week without a request.
            self._asked = dict(sorted(in_use.models.items(), key=by_time))
            # Turns count from the last reading saved, at the costs learned before (Copilot is read every 15 min).
            self._count.restore(in_use.costs)
            for q in self._quotas.values():
                self._count.observed(q.provider_id, q.windows)
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

    # -- writing ---------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Process every queued turn and write the state file (and the turn log, if this Router keeps it) now."""
        self.sync()
        self._save()
        self._write_turn_log()

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
        self.sync()
        self._save()
        self._write_turn_log(last=True)  # the turn log's last beat dates the stop
        if self._daemon is not None:
            self._daemon.flush(timeout=0.5)  # the client is the process's, shared with other Routers: kept open

    def __enter__(self) -> Router:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


_MISSING = object()
