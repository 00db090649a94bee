"""A Router's turn queue and worker: `record_turn` appends to a bounded queue, one thread parses and merges.

It exists apart from `bhoga._router` because the queue is the harness's hot path and has rules of its own: what a
full queue drops and counts, bhogad's runs of turns taken as one entry, and only the newest turn of each kind
parsed (the older ones say the same), so the worker keeps ahead of a flood.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from bhoga import _lazy
from bhoga._model import ESTIMATE, Observation
from bhoga._provider_entry import Kind
from bhoga._providers import PROVIDERS
from bhoga.errors import BhogaError

# Annotations only: importing `typing` at run time would cost `import bhoga` two milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from collections import deque
    from collections.abc import Collection, Iterable

    from bhoga._client import DaemonClient
    from bhoga._turncount import TurnCount
    from bhoga._turnlog_writer import TurnLogWriter

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


_SAVE_EVERY = 1.0  # seconds between state (and turn log) writes while turns keep arriving
_BATCH_WINDOW = 0.005


class _TurnQueue:
    """`Router`'s part that takes turns in: `record_turn`, `record_turns`, `sync` and the turn worker."""

    _turns: deque[_Turn | _Batch]
    _maxq: int
    dropped_turns: int
    _batches_queued: int
    processed_turns: int
    _wake: threading.Event
    _stop: bool
    _dirty: bool
    _last_save: float
    _daemon: DaemonClient | None
    _daemon_asks: set[str]
    _lock: threading.Lock
    _drain_lock: threading.Lock
    _warned: set[str]
    _count: TurnCount
    _asked: dict[str, float]
    _gen: int
    _turn_log: TurnLogWriter | None
    _last_log: float

    if TYPE_CHECKING:

        def _merge(self, observations: Collection[Observation]) -> None: ...
        def _notify(self) -> None: ...
        def _save(self) -> None: ...
        def _refresh_daemon_answers(self) -> None: ...
        def _answers_changed(self) -> None: ...
        def _touch(self, models: Iterable[str], now: float) -> tuple[list[str], bool]: ...

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

    def sync(self) -> None:
        """Process every turn queued so far, in this thread, before returning (no file is written).

        A turn being processed by the worker at this moment is waited for, so an answer computed after `sync`
        reflects every turn recorded before it.
        """
        with self._drain_lock:
            self._drain()

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
        if self._turn_log is not None:
            self._turn_log.add_drained(singles, counts)
        counted, in_use_changed = self._count_turns(singles, counts)
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
        elif in_use_changed:
            self._answers_changed()

    def _count_turns(self, turns: list[_Turn], counts: list[tuple[str, str, int, int]]) -> tuple[set[str], bool]:
        """Count every successful turn on a subscription (all of them: the parse keeps only the newest), the single
        ones in `turns` and the batches' (pid, model, status_code, how many) in `counts`: the providers counted on,
        and whether a model routed is new among the models in use (policy "value" must rank again)."""
        routed: list[tuple[str, str, int]] = [
            (b_pid, b_model, n)
            for b_pid, b_model, b_status, n in counts
            if 200 <= b_status < 300 and (p := PROVIDERS.get(b_pid)) is not None and p.kind is Kind.SUBSCRIPTION
        ]
        routed.extend(
            (pid, model, 1)
            for pid, model, _i, _o, _h, status, _e in turns
            if isinstance(pid, str)
            and isinstance(model, str)
            and isinstance(status, int)
            and 200 <= status < 300
            and (prov := PROVIDERS.get(pid)) is not None
            and prov.kind is Kind.SUBSCRIPTION
        )
        if not routed:
            return set(), False
        with self._lock:
            for pid, model, n in routed:
                self._count.routed(pid, model, n)
            # A model routed is in use, as one asked about is (this is the worker: it writes what is due itself).
            new, _wake = self._touch(dict.fromkeys(model for _p, model, _n in routed), time.time())
            if new:
                self._gen += 1  # the models in use changed: policy "value" ranks anew
        return {pid for pid, _m, _n in routed}, bool(new)

    def _write_turn_log(self, *, last: bool = False) -> None:
        if self._turn_log is None:
            return
        self._last_log = time.monotonic()
        try:
            self._turn_log.write(last=last)
        except BhogaError as e:
            if str(e) not in self._warned:  # said once: the same refusal comes at every write
                self._warned.add(str(e))
                log.warning("%s", e)

    def _estimates(self, pids: set[str]) -> list[Observation]:
        now = datetime.now(UTC)
        with self._lock:
            found = [(pid, self._count.estimate(pid, now)) for pid in sorted(pids) if self._count.pending(pid)]
        return [Observation(pid, now, windows, source=ESTIMATE) for pid, windows in found if windows]

    def _work(self) -> None:
        while not self._stop:
            busy = self._dirty or (self._turn_log is not None and self._turn_log.pending())
            # A Router that logs turns wakes now and then even when idle: the log's heartbeat (`bhoga._turnlog`).
            self._wake.wait(timeout=_SAVE_EVERY if busy else None if self._turn_log is None else self._turn_log.WAKE)
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
                if self._turn_log is not None and time.monotonic() - self._last_log >= _SAVE_EVERY:
                    self._write_turn_log()  # batched like the state save: never a file write per turn
                if self._daemon_asks and self._daemon is not None:
                    self._refresh_daemon_answers()
            except Exception:
                log.exception("turn worker error (continuing)")


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
