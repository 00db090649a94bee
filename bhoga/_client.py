"""A client of bhogad's socket that never blocks its caller and never raises.

`send_turn` and `send_set_quota` only append a tuple to a bounded deque (the oldest event is dropped and
counted when it is full); a background thread encodes, filters headers to the rate-limit allow-list, and
writes batches to the daemon, reconnecting with exponential backoff. `best` is a short synchronous request,
bounded by its timeout, that answers `UNREACHABLE` instead of raising.

Events and questions share one connection, opened lazily: answers come back in order, so a question skips the
answers still owed to events sent before it. The `Router`s of a process share one client (`shared_client`),
so a harness with many Routers holds one connection to the daemon, not two per Router (DESIGN §8.5). A
connection left unused for `_IDLE_CLOSE` seconds is closed by us before the daemon's 60 s idle limit, so a
write never races the daemon hanging up.
"""

from __future__ import annotations

import _thread
import atexit
import collections
import contextlib
import os
import socket
import time
from pathlib import Path

from bhoga import _lazy
from bhoga._client_io import (
    UNREACHABLE,
    PumpError,
    Unreachable,
    ask,
    connect,
    daemon_running,
    encode_event,
    pump,
    read_answer,
)
from bhoga._model import RouterRecommendation
from bhoga._protocol import BestRequest, Request, encode_request
from bhoga._responses import BestAnswer, Response
from bhoga._responses_decode import decode_response
from bhoga.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["UNREACHABLE", "DaemonClient", "Unreachable", "ask", "daemon_running", "shared_client"]

log = _lazy.logger(__name__)

_BATCH_BYTES: Final = 64 * 1024
_BACKOFF_MIN: Final = 0.05
_BACKOFF_MAX: Final = 5.0
_IO_TIMEOUT: Final = 2.0
_IDLE_CLOSE: Final = 30.0  # seconds; the daemon closes connections idle for 60 s


class DaemonClient:
    """Events and questions for the daemon listening on `path`.

    Args:
        path: the daemon's socket (`bhoga._paths.socket_path()`).
        max_pending: events kept while the daemon is slow or down; beyond it the oldest are dropped.
    """

    def __init__(self, path: Path, *, max_pending: int = 10_000) -> None:
        import threading  # noqa: PLC0415 - only a sender needs it: `bhoga status` and `bhoga best` never load it

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
        self._io = threading.Lock()
        """Guards the one connection: `_sock`, `_owed`, `_used_at`."""
        self._sock: socket.socket | None = None
        self._owed = 0
        """Answers the daemon still owes on `_sock` (lines sent minus answer lines read)."""
        self._used_at = 0.0
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

    @property
    def closed(self) -> bool:
        return self._closed

    def reachable(self) -> bool:
        """Whether the daemon accepts connections now (a connect, ~30 µs)."""
        return self.connected or daemon_running(self.path)

    def close(self) -> None:
        """Send what is queued (briefly), stop the sender thread and close the connection."""
        if self._closed:
            return
        self.flush(timeout=0.5)
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=2.0)
        with self._io:
            self._drop()

    # -- the one connection (callers hold `_io`) ----------------------------------------------------------

    def _connection(self, timeout: float) -> socket.socket:
        sock = self._sock
        if sock is not None and time.monotonic() - self._used_at > _IDLE_CLOSE:
            self._drop()  # the daemon would soon close it: never race that with a write
            sock = None
        if sock is None:
            sock = connect(self.path, timeout)
            self._sock = sock
            self._owed = 0
            self._used_at = time.monotonic()
            self.connected = True
        return sock

    def _drop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        self._owed = 0
        self.connected = False

    # -- synchronous question ---------------------------------------------------------------------------------

    def best(self, model: str, timeout: float = 0.5) -> RouterRecommendation | Unreachable | None:
        """The daemon's pick for `model` (None: no candidate), or `UNREACHABLE`; never raises."""
        answer = self.request(BestRequest(model), timeout)
        return answer.recommendation if isinstance(answer, BestAnswer) else UNREACHABLE

    def request(self, request: Request, timeout: float = 0.5) -> Response | Unreachable:
        """Send one request and read its answer; `UNREACHABLE` on any failure. Serialised between threads."""
        deadline = time.monotonic() + timeout
        if not self._io.acquire(timeout=timeout):
            return UNREACHABLE
        try:
            for attempt in (0, 1):  # a kept connection may have been closed by a restarted daemon: retry once
                try:
                    sock = self._connection(max(deadline - time.monotonic(), 0.001))
                    return self._ask(sock, request, deadline)
                except (OSError, ProtocolError) as exc:
                    self._drop()
                    if attempt or time.monotonic() >= deadline or isinstance(exc, TimeoutError):
                        log.debug("daemon request failed: %s", exc)
                        return UNREACHABLE
            return UNREACHABLE
        finally:
            self._io.release()

    def _ask(self, sock: socket.socket, request: Request, deadline: float) -> Response:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        sock.sendall(encode_request(request))
        self._owed += 1
        # Answers to events sent before this question come first.
        line, _ = read_answer(sock, deadline, skip=self._owed - 1)
        self._owed = 0
        self._used_at = time.monotonic()
        return decode_response(request, line)

    # -- sender thread ------------------------------------------------------------------------------------------

    def _run(self) -> None:
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
            if self._closed and self._sock is None and time.monotonic() < retry_at:
                break  # shutting down with the daemon unreachable: drop what is left
            self._idle.clear()
            now = time.monotonic()
            if self._sock is None and now < retry_at:
                self._wake.wait(min(retry_at - now, 0.5))
                self._wake.clear()
                continue
            batch, count = carry if carry is not None else self._take_batch()
            carry = None
            with self._io:
                try:
                    sock = self._connection(_IO_TIMEOUT)
                except OSError:
                    self.failures += 1
                    carry = (batch, count)
                    retry_at = time.monotonic() + backoff
                    backoff = min(backoff * 2, _BACKOFF_MAX)
                    continue
                try:
                    sock.setblocking(False)
                    answers = pump(sock, batch, time.monotonic() + _IO_TIMEOUT)
                    self._owed = max(0, self._owed + count - answers)
                    self._used_at = time.monotonic()
                    self.sent += count
                    backoff = _BACKOFF_MIN
                except PumpError as exc:
                    log.debug("lost the daemon connection: %s", exc.__cause__)
                    self.failures += 1
                    if exc.written == 0:
                        carry = (batch, count)  # e.g. the daemon restarted while we were idle: resend it all
                    else:
                        self.dropped += count  # a partial write leaves the count uncertain: count them lost
                    self._drop()
                    retry_at = time.monotonic() + backoff
                    backoff = min(backoff * 2, _BACKOFF_MAX)
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


_shared: dict[Path, DaemonClient] = {}
_shared_lock = _thread.allocate_lock()


def shared_client(path: Path | None = None) -> DaemonClient | None:
    """This process's one client for the daemon on `path` (default: `bhoga._paths.socket_path()`).

    Created the first time a daemon answers there (None until then); afterwards it stays, reconnecting lazily
    when the daemon restarts. Thread-safe. Events still queued when the process exits get half a second.
    """
    if path is None:
        from bhoga._paths import socket_path  # noqa: PLC0415

        path = socket_path()
    with _shared_lock:
        client = _shared.get(path)
    if client is not None and not client.closed:
        return client
    if not daemon_running(path):
        return None
    with _shared_lock:
        client = _shared.get(path)
        if client is None or client.closed:
            if not _shared:
                atexit.register(_flush_shared)
            client = _shared[path] = DaemonClient(path)
        return client


def _flush_shared() -> None:
    for client in list(_shared.values()):
        client.flush(timeout=0.5)


def _forget_shared() -> None:
    # A forked child has no sender thread: it makes its own client on first use.
    global _shared_lock  # the parent's lock may have been held at the fork
    _shared_lock = _thread.allocate_lock()
    _shared.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_shared)
