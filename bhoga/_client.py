"""A client of bhogad's socket that never blocks its caller and never raises.

`send_turn` and `send_set_quota` only append a tuple to a bounded deque (the oldest event is dropped and
counted when it is full); a background thread encodes, filters headers to the rate-limit allow-list, and
writes batches to the daemon, reconnecting with exponential backoff. `best` is a short synchronous request on
a second connection, bounded by its timeout, that answers `UNREACHABLE` instead of raising.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from bhoga._client_io import (
    UNREACHABLE,
    PumpError,
    Unreachable,
    ask,
    connect,
    daemon_running,
    encode_event,
    pump,
)
from bhoga._model import RouterRecommendation
from bhoga._protocol import encode, recommendation_from_json
from bhoga.errors import ProtocolError

__all__ = ["UNREACHABLE", "DaemonClient", "Unreachable", "ask", "daemon_running"]

log = logging.getLogger(__name__)

_BATCH_BYTES: Final = 64 * 1024
_BACKOFF_MIN: Final = 0.05
_BACKOFF_MAX: Final = 5.0
_IO_TIMEOUT: Final = 2.0


class DaemonClient:
    """Events and questions for the daemon listening on `path`.

    Args:
        path: the daemon's socket (`bhoga._paths.socket_path()`).
        max_pending: events kept while the daemon is slow or down; beyond it the oldest are dropped.
    """

    def __init__(self, path: Path, *, max_pending: int = 10_000) -> None:
        self.path = Path(path)
        self.sent = 0
        self.dropped = 0
        self.failures = 0
        self.connected = False
        """True while the sender holds a connection to the daemon."""
        # maxlen makes the deque itself drop the oldest event (in C); the caller only counts it
        self._pending: collections.deque[tuple[Any, ...]] = collections.deque(maxlen=max_pending)
        self._max = max_pending
        self._wake = threading.Event()
        self._sleeping = False
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()
        self._query_lock = threading.Lock()
        self._query: socket.socket | None = None
        self._query_buf = b""
        self._thread = threading.Thread(target=self._run, name="bhoga-daemon-client", daemon=True)
        self._thread.start()

    # -- caller side: append and return ----------------------------------------------------------------------

    def send_turn(
        self,
        pid: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        headers: object,
        status_code: int,
        error: str | None = None,
    ) -> None:
        """Queue one turn event; `headers` is read later on the sender thread, so don't mutate it afterwards."""
        pending = self._pending
        if len(pending) >= self._max:
            self.dropped += 1
        pending.append(("turn", pid, model, input_tokens, output_tokens, headers, status_code, error))
        if self._sleeping:
            self._wake.set()

    def send_set_quota(self, pid: str, pct_remaining: float, weekly_pct: float | None, model: str) -> None:
        """Queue a set_quota event (the caller has already validated it)."""
        if len(self._pending) >= self._max:
            self.dropped += 1
        self._pending.append(("set_quota", pid, pct_remaining, weekly_pct, model))
        self._wake.set()

    @classmethod
    def if_running(cls, path: Path | None = None) -> DaemonClient | None:
        """A client when a daemon answers on `path` (default: `bhoga._paths.socket_path()`), else None."""
        if path is None:
            from bhoga._paths import socket_path  # noqa: PLC0415

            path = socket_path()
        return cls(path) if daemon_running(path) else None

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until every queued event was written to the daemon (True) or `timeout` passed (False)."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while self._pending or not self._idle.is_set():
            if time.monotonic() >= deadline:
                return False
            self._wake.set()
            time.sleep(0.001)
        return True

    def reachable(self) -> bool:
        """Whether the daemon accepts connections now (a connect, ~30 µs)."""
        return self.connected or daemon_running(self.path)

    def close(self) -> None:
        """Send what is queued (briefly), stop the sender thread and close both connections."""
        if self._closed:
            return
        self.flush(timeout=0.5)
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=2.0)
        with self._query_lock:
            self._close_query()

    # -- synchronous question ---------------------------------------------------------------------------------

    def best(self, model: str, timeout: float = 0.5) -> RouterRecommendation | Unreachable | None:
        """The daemon's pick for `model` (None: no candidate), or `UNREACHABLE`; never raises."""
        response = self.request({"v": 1, "op": "best", "model": model}, timeout)
        if not isinstance(response, dict) or response.get("ok") is not True:
            return UNREACHABLE
        try:
            return recommendation_from_json(response.get("recommendation"))
        except ProtocolError as exc:
            log.debug("daemon answered best with %s", exc)
            return UNREACHABLE

    def request(self, obj: Mapping[str, object], timeout: float = 0.5) -> dict[str, Any] | Unreachable:
        """Send one request and read its answer; `UNREACHABLE` on any failure. Serialised between threads."""
        deadline = time.monotonic() + timeout
        if not self._query_lock.acquire(timeout=timeout):
            return UNREACHABLE
        try:
            for attempt in (0, 1):  # a kept connection may have been closed by a restarted daemon: retry once
                try:
                    if self._query is None:
                        self._query = connect(self.path, max(deadline - time.monotonic(), 0.001))
                        self._query_buf = b""
                    return self._ask(encode(obj), deadline)
                except (OSError, ValueError) as exc:
                    self._close_query()
                    if attempt or time.monotonic() >= deadline or isinstance(exc, TimeoutError):
                        log.debug("daemon request failed: %s", exc)
                        return UNREACHABLE
            return UNREACHABLE
        finally:
            self._query_lock.release()

    def _ask(self, line: bytes, deadline: float) -> dict[str, Any]:
        sock = self._query
        assert sock is not None
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        sock.sendall(line)
        buf = self._query_buf
        while b"\n" not in buf:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionResetError("daemon closed the connection")
            buf += chunk
        answer, _, self._query_buf = buf.partition(b"\n")
        obj = json.loads(answer)
        if not isinstance(obj, dict):
            raise ValueError("answer is not an object")
        return obj

    def _close_query(self) -> None:
        if self._query is not None:
            with contextlib.suppress(OSError):
                self._query.close()
            self._query = None

    # -- sender thread ------------------------------------------------------------------------------------------

    def _run(self) -> None:
        sock: socket.socket | None = None
        backoff = _BACKOFF_MIN
        retry_at = 0.0
        carry: tuple[bytes, int] | None = None
        while True:
            if not self._pending and carry is None:
                self._idle.set()
                if self._closed:
                    break
                self._sleeping = True
                if not self._pending:  # checked after announcing sleep, so a concurrent append always wakes us
                    self._wake.wait(1.0)
                self._sleeping = False
                self._wake.clear()
                continue
            if self._closed and sock is None and time.monotonic() < retry_at:
                break  # shutting down with the daemon unreachable: drop what is left
            self._idle.clear()
            if sock is None:
                now = time.monotonic()
                if now < retry_at:
                    self._wake.wait(min(retry_at - now, 0.5))
                    self._wake.clear()
                    continue
                try:
                    sock = connect(self.path, _IO_TIMEOUT)
                    sock.setblocking(False)
                    self.connected = True
                    backoff = _BACKOFF_MIN
                except OSError:
                    self.failures += 1
                    retry_at = time.monotonic() + backoff
                    backoff = min(backoff * 2, _BACKOFF_MAX)
                    continue
            batch, count = carry if carry is not None else self._take_batch()
            carry = None
            try:
                pump(sock, batch, time.monotonic() + _IO_TIMEOUT)
                self.sent += count
            except PumpError as exc:
                log.debug("lost the daemon connection: %s", exc.__cause__)
                self.failures += 1
                if exc.written == 0:
                    carry = (batch, count)  # e.g. the daemon restarted while we were idle: resend it all
                else:
                    self.dropped += count  # a partial write leaves the count uncertain: count them lost
                with contextlib.suppress(OSError):
                    sock.close()
                sock = None
                self.connected = False
                retry_at = time.monotonic() + backoff
                backoff = min(backoff * 2, _BACKOFF_MAX)
        self.connected = False
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
        self._idle.set()

    def _take_batch(self) -> tuple[bytes, int]:
        parts: list[bytes] = []
        size = 0
        pending = self._pending
        while pending and size < _BATCH_BYTES:
            try:
                event = pending.popleft()
            except IndexError:
                break
            try:
                line = encode_event(event)
            except (TypeError, ValueError, UnicodeError) as exc:  # a caller passed something unencodable
                self.dropped += 1
                log.debug("dropped an event that cannot be encoded: %s", exc)
                continue
            parts.append(line)
            size += len(line)
        return b"".join(parts), len(parts)
