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
import selectors
import socket
import threading
import time
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any, Final

from bhoga._model import RouterRecommendation
from bhoga._protocol import encode, recommendation_from_json
from bhoga.errors import ProtocolError

__all__ = ["UNREACHABLE", "DaemonClient", "Unreachable", "daemon_running"]

log = logging.getLogger(__name__)

_BATCH_BYTES: Final = 64 * 1024
_BACKOFF_MIN: Final = 0.05
_BACKOFF_MAX: Final = 5.0
_IO_TIMEOUT: Final = 2.0


class Unreachable(Enum):
    """The daemon did not answer (no socket, refused, timed out, or a malformed answer)."""

    UNREACHABLE = "unreachable"


UNREACHABLE: Final = Unreachable.UNREACHABLE


def daemon_running(path: Path, timeout: float = 0.2) -> bool:
    """Whether something accepts connections on the socket at `path` right now (a connect, nothing sent)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except OSError:
        return False
    finally:
        sock.close()
    return True


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
        self._pending: collections.deque[tuple[Any, ...]] = collections.deque()
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
        headers: Mapping[str, str] | None,
        status_code: int,
    ) -> None:
        """Queue one turn event; `headers` is read later on the sender thread, so don't mutate it afterwards."""
        pending = self._pending
        if len(pending) >= self._max:
            self._drop()
        pending.append(("turn", pid, model, input_tokens, output_tokens, headers, status_code))
        if self._sleeping:
            self._wake.set()

    def send_set_quota(self, pid: str, pct_remaining: float, weekly_pct: float | None, model: str) -> None:
        """Queue a set_quota event (the caller has already validated it)."""
        if len(self._pending) >= self._max:
            self._drop()
        self._pending.append(("set_quota", pid, pct_remaining, weekly_pct, model))
        self._wake.set()

    def _drop(self) -> None:
        with contextlib.suppress(IndexError):
            self._pending.popleft()
            self.dropped += 1

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
                        self._query = _connect(self.path, max(deadline - time.monotonic(), 0.001))
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
                    sock = _connect(self.path, _IO_TIMEOUT)
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
                _pump(sock, batch, time.monotonic() + _IO_TIMEOUT)
                self.sent += count
            except _PumpError as exc:
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
                line = _encode_event(event)
            except (TypeError, ValueError, UnicodeError) as exc:  # a caller passed something unencodable
                self.dropped += 1
                log.debug("dropped an event that cannot be encoded: %s", exc)
                continue
            parts.append(line)
            size += len(line)
        return b"".join(parts), len(parts)


def _encode_event(event: tuple[Any, ...]) -> bytes:
    if event[0] == "turn":
        _, pid, model, input_tokens, output_tokens, headers, status_code = event
        from bhoga._calibrate import filter_headers  # noqa: PLC0415 - sender thread only

        return encode(
            {
                "v": 1,
                "op": "turn",
                "pid": pid,
                "model": model,
                "input_tokens": int(input_tokens or 0),
                "output_tokens": int(output_tokens or 0),
                "status_code": int(status_code or 200),
                "headers": filter_headers(headers) if headers else {},
            }
        )
    _, pid, pct, weekly, model = event
    body: dict[str, object] = {"v": 1, "op": "set_quota", "pid": pid, "pct_remaining": pct, "model": model}
    if weekly is not None:
        body["weekly_pct"] = weekly
    return encode(body)


def _connect(path: Path, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        raise
    return sock


class _PumpError(Exception):
    def __init__(self, written: int) -> None:
        super().__init__(written)
        self.written = written


def _pump(sock: socket.socket, data: bytes, deadline: float) -> None:
    """Write `data` while reading (and discarding) the daemon's answers, so neither side's buffer fills up.

    `_PumpError` (its cause the `OSError`) says how many bytes were written before the failure.
    """
    written = 0
    try:
        _discard_answers(sock)  # notices a daemon that closed the connection while we were idle
        with selectors.DefaultSelector() as sel:
            sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            view = memoryview(data)
            while written < len(data):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("daemon did not read within the timeout")
                for _key, mask in sel.select(remaining):
                    if mask & selectors.EVENT_READ:
                        _discard_answers(sock)
                    if mask & selectors.EVENT_WRITE and written < len(data):
                        with contextlib.suppress(BlockingIOError):
                            written += sock.send(view[written:])
        _discard_answers(sock)
    except OSError as exc:
        raise _PumpError(written) from exc


def _discard_answers(sock: socket.socket) -> None:
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        if not chunk:
            raise ConnectionResetError("daemon closed the connection")
        if b'"ok":false' in chunk:
            log.debug("daemon refused an event: %s", chunk[:200])
