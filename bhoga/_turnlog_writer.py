"""bhogad's side of the turn log (`bhoga._turnlog`): the turns a Router drains, buffered until its worker writes
them, and the heartbeat that tells an idle bhogad from a stopped one.

`add` costs a dict update in whichever thread drains the turn queue; `write` runs in the Router's worker (at most
once a second while turns arrive, and at least every `TurnLogWriter.WAKE` seconds while idle) or in `flush`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from bhoga._providers import PROVIDERS
from bhoga._turnlog import BEAT_SECONDS, MAX_ENTRIES, LoggedTurn, TurnLogStore, loggable

__all__ = ["TurnLogWriter"]


class TurnLogWriter:
    """A Router's pending turns for the log. Turns of one second, provider and model are one line."""

    WAKE = BEAT_SECONDS / 3
    """How long the worker of a Router that logs turns sleeps at most, so that a beat is never much later than due."""

    def __init__(self, path: Path) -> None:
        self.store = TurnLogStore(path)
        self._pending: dict[tuple[int, str, str], int] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._began: float | None = time.time()
        """When this writer began to log: a log it creates is complete from then on."""
        self._beat = float("-inf")
        """When this writer last wrote a line (a turn or a beat)."""

    def add(self, at: float, pid: str, model: str, n: int = 1) -> None:
        """Note `n` successful turns of `model` on `pid` at `at` (epoch seconds)."""
        key = (int(at), pid, model)
        with self._lock:
            pending = self._pending
            if key in pending or len(pending) < MAX_ENTRIES:  # a log that cannot be written must not grow memory
                pending[key] = pending.get(key, 0) + n

    def add_drained(self, singles: Iterable[Sequence[object]], counts: Iterable[tuple[str, str, int, int]]) -> None:
        """Note the successful turns of a drain of the Router's queue: `record_turn`'s tuples and bhogad's
        (pid, model, status, how many). A 429 retried elsewhere is one request, logged where it was served."""
        now = time.time()
        for b_pid, b_model, b_status, n in counts:
            if 200 <= b_status < 300 and loggable(b_model):
                self.add(now, b_pid, b_model, n)
        for pid, model, _i, _o, _h, status, _e in singles:
            ok = isinstance(status, int) and 200 <= status < 300 and isinstance(pid, str) and pid in PROVIDERS
            if ok and isinstance(pid, str) and isinstance(model, str) and loggable(model):
                self.add(now, pid, model)

    def pending(self) -> bool:
        return bool(self._pending)

    def write(self, *, last: bool = False) -> None:
        """Append what was added since the last write, and a beat when none was written for `BEAT_SECONDS` (or
        when this is the `last` write, so that a stop is dated to the second). Raises `StateError` (what was
        pending is then lost)."""
        with self._write_lock:
            with self._lock:
                pending, self._pending = self._pending, {}
            turns = [LoggedTurn(float(t), pid, model, n) for (t, pid, model), n in sorted(pending.items())]
            now = time.time()
            beats = [now] if last or now - self._beat >= BEAT_SECONDS else []
            if turns or beats:
                self._beat = now
                began, self._began = self._began, None
                self.store.append(turns, since=began, beats=beats)
