"""The daemon's Unix socket server: protocol v1 over NDJSON, many clients, one asyncio loop.

Each connection is an `asyncio.Protocol` that splits whatever arrives into lines in bulk and answers them in
chunks; a run of pipelined `turn` lines (up to `MAX_LINE` bytes) is decoded, counted and answered at once when
every line in it is a valid turn (`Server.handle_run`), and line by line otherwise, each with its own answer.
Nothing a client does can take more than its share (DESIGN §8.5):

* memory: an unfinished line may grow to `MAX_LINE`; once more than `UNSENT_MAX` bytes of answers wait unsent,
  the connection is neither read nor answered until its client reads (backpressure);
* time: a connection answers for at most `_SLICE` seconds before the loop serves the others;
* descriptors: the number of connections is capped below the process's descriptor limit, and at the cap a new
  connection closes the longest-idle one, so the `bhoga` CLI always gets through; idle connections (no
  complete request for `idle` seconds) are closed, and refused ones (another uid) are closed at once;
* deadlines: a line left unfinished, or answers left unread, for longer than `deadline` seconds closes that
  connection, so a slow or half-open client never holds anything another client needs.

An answer the handler cannot give at once (a `pass`, which runs discovery and a Hermes pass in threads) is
`Pending`: its connection reads and answers nothing more until that answer is written, so answers stay in order,
while every other connection is served as usual.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import logging
import math
import os
import socket
import stat
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from bhoga._protocol import (
    MAX_LINE,
    PingRequest,
    Request,
    SubscribeRequest,
    error_line,
    fast_decoders,
    op_of,
    parse_request,
)
from bhoga._record import record
from bhoga._responses import OK_LINE, Ok, Response, Subscribed, encode_response
from bhoga.errors import BhogaError, ProtocolError

if TYPE_CHECKING:
    from bhoga._protocol_fast import TurnBatch

__all__ = ["UNSENT_MAX", "Handler", "Pending", "Server", "SocketInUse", "connection_limit", "peer_uid"]

log = logging.getLogger(__name__)


@record
class Pending:
    """An answer that comes later: the handler's future, resolved on the loop with the `Response` (or an exception,
    answered like the handler's own)."""

    answer: asyncio.Future[Response]


Handler = Callable[[Request], "Response | Pending"]
UNSENT_MAX: Final = 1024 * 1024
"""Bytes of unsent answers beyond which a connection is not read until its client reads."""
_CHUNK: Final = 64 * 1024  # answers are handed to the transport in chunks of about this size
_SLICE: Final = 0.001  # seconds one connection may answer before the next one gets its turn
_ROUND: Final = 0.002  # seconds of queued (bulk) answering per turn of the loop, whatever the number of clients
_LIGHT: Final = 4096  # a read this small (a CLI, a ping) is answered at once instead of queueing behind bulk
_MAX_CONNECTIONS: Final = 512
_ACCEPT_BATCH: Final = 64  # connections accepted in one turn of the loop
_LISTEN_QUEUE: Final = 512  # connections the kernel holds for us meanwhile; a full queue fails connect()
_SPARE_FDS: Final = 64  # descriptors kept for everything else the daemon opens (state, watches, logs)
_ACCEPT_PAUSE: Final = 0.1  # seconds accepting rests when the process is out of descriptors
_LINGER: Final = 1.0  # seconds a finished connection may keep sending before it is cut off


class SocketInUse(BhogaError):  # noqa: N818 - the name the daemon and tests use
    """Another daemon already answers on the socket path."""


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a connected Unix socket, None when the OS won't say."""
    try:
        if sys.platform.startswith("linux"):
            _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            return int(uid)
        # macOS / BSD: LOCAL_PEERCRED (1) at level SOL_LOCAL (0) fills a struct xucred.
        raw = sock.getsockopt(0, 1, struct.calcsize("=IIh2x16I"))
        return int(struct.unpack_from("=II", raw)[1])
    except (OSError, struct.error):
        return None


def connection_limit() -> int:
    """How many connections to keep: 512, or fewer when the descriptor limit leaves less room.

    Accepted connections are only looked at a loop turn or two after they were opened, a batch of
    `_ACCEPT_BATCH` a turn; three batches and a reserve for the daemon's own files must fit beside the
    connections, or accepting pauses on EMFILE.
    """
    try:
        import resource  # noqa: PLC0415 - Unix only

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return _MAX_CONNECTIONS
    if soft == resource.RLIM_INFINITY:
        return _MAX_CONNECTIONS
    return max(8, min(_MAX_CONNECTIONS, int(soft) - 3 * _ACCEPT_BATCH - _SPARE_FDS))


class _Connection(asyncio.Protocol):
    __slots__ = (
        "_backlog",
        "_blocked",
        "_buf",
        "_eof",
        "_finishing",
        "_pending",
        "_pos",
        "_server",
        "_transport",
        "_waiting",
        "active_at",
        "partial_since",
        "queued",
        "stalled_since",
    )

    def __init__(self, server: Server) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        """An unfinished line, waiting for the rest of it."""
        self._pending = b""
        self._pos = 0
        """Received data whose complete lines from `_pos` on are not answered yet (the backlog)."""
        self._backlog = False
        self._blocked = False
        """More than `UNSENT_MAX` bytes of answers wait unsent: nothing is read or answered until they go."""
        self._finishing = False
        self._eof = False
        self._waiting = False
        """An answer is `Pending`: nothing after its request is read or answered until it is written."""
        self.queued = False
        """Waiting in the server's queue for a turn to answer its backlog."""
        self.active_at = server.loop_time()
        """Loop time of the last complete request (or of the connect): what idleness and eviction go by."""
        self.partial_since: float | None = None
        """Loop time when an unfinished line started waiting for the rest of it."""
        self.stalled_since: float | None = None
        """Loop time when the client stopped reading its answers (we paused reading)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        srv = self._server
        sock = transport.get_extra_info("socket")
        uid = peer_uid(sock) if sock is not None else None
        if uid != srv.uid:
            srv.refused += 1
            log.warning("refused a connection from uid %s (only uid %d may connect)", uid, srv.uid)
            self._refuse(sock, error_line(f"permission denied: only uid {srv.uid} may connect"))
            return
        if len(srv.connections) >= srv.max_connections:
            srv.make_room()
        transport.set_write_buffer_limits(high=UNSENT_MAX)
        srv.connections.add(self)

    def _refuse(self, sock: socket.socket | None, last: bytes) -> None:
        """Answer once and close now: a refused peer holds no descriptor past this turn of the loop."""
        assert self._transport is not None
        self._finishing = True
        # What the peer already sent is read first: closing over unread input resets the connection, and the
        # peer might then not see why.
        if sock is not None:
            with contextlib.suppress(OSError):
                for _ in range(16):
                    if not os.read(sock.fileno(), 65536):
                        break
        self._transport.write(last)
        self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._server.subscribers.discard(self)
        self._buf.clear()
        self._pending = b""
        self._backlog = False

    def pause_writing(self) -> None:
        # More than UNSENT_MAX bytes of answers are not read: stop reading and answering until they are.
        self._blocked = True
        if self.stalled_since is None:
            self.stalled_since = self._server.loop_time()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._blocked = False
        self.stalled_since = None
        if self._backlog:
            self._server.queue(self)
        else:
            self._resume_reading()

    def _resume_reading(self) -> None:
        t = self._transport
        if t is not None and not (self._blocked or self._backlog or self._finishing or self._waiting or t.is_closing()):
            t.resume_reading()

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or self._finishing or transport.is_closing():
            return  # after the last answer, input is read and dropped until the client hangs up
        buf = self._buf
        if buf or b"\n" not in data:
            if b"\n" not in data:
                # Appending to a bytearray keeps a client that dribbles one byte at a time linear, not quadratic.
                buf += data
                self._hold()
                return
            data = b"".join((buf, data))  # the unfinished line and what completes it, copied once
            buf.clear()
        self._pending = data
        self._pos = 0
        if len(data) <= _LIGHT:
            self._serve(time.monotonic() + _SLICE)  # a request or two (a CLI, a ping): answered at once
        else:
            self._backlog = True  # bulk waits for its turn in the queue
            transport.pause_reading()
            self._server.queue(self)

    def take_turn(self, until: float) -> None:
        """Answer backlog until `until` (monotonic) unless the client stopped reading or we are closing."""
        self.queued = False
        t = self._transport
        if (
            self._backlog
            and not (self._blocked or self._finishing or self._waiting)
            and t is not None
            and not t.is_closing()
        ):
            self._serve(until)

    def _serve(self, until: float) -> None:
        """Answer complete lines of `_pending` from `_pos` on: at least one, then until `until`.

        Answers go out in chunks; when the client stops reading them (`pause_writing`) or the time is up, the
        rest waits as backlog with reading paused, so memory stays bounded and every other connection gets
        its turn.
        """
        transport = self._transport
        assert transport is not None
        srv = self._server
        handle = srv.handle_line
        data = self._pending
        pos = self._pos
        end = data.rfind(b"\n")
        clock = time.monotonic
        out: list[bytes] = []
        size = 0
        runs = srv.runs
        single_until = -1  # lines before this position are answered one by one (their run was not all turns)

        def sent(answer: bytes) -> bool:
            """Queue `answer`, writing a full chunk; True when this turn ends (client not reading, time up)."""
            nonlocal size
            out.append(answer)
            size += len(answer)
            if size >= _CHUNK:
                transport.write(b"".join(out))
                out.clear()
                size = 0
                if self._blocked:
                    return True
            return clock() >= until

        while pos <= end:
            if runs and pos > single_until:
                # A run of lines of at most MAX_LINE bytes in all (so no line in it is too long), taken at once
                # when every one of them is a valid turn; otherwise its lines are answered one by one.
                cut = data.rfind(b"\n", pos, pos + MAX_LINE + 1)
                if cut > pos and (answer := srv.handle_run(data[pos:cut])) is not None:
                    pos = cut + 1
                    if sent(answer):
                        break
                    continue
                single_until = max(cut, pos)
            nl = data.find(b"\n", pos)
            line = data[pos:nl]
            pos = nl + 1
            if len(line) > MAX_LINE:
                out.append(error_line(f"line longer than {MAX_LINE} bytes; closing"))
                srv.errors += 1
                self.finish(b"".join(out))
                return
            answer = handle(line, self)
            if self._waiting:
                break  # its answer comes later; the lines after it wait for it
            if sent(answer):
                break
        if out:
            transport.write(b"".join(out))
        self.active_at = srv.loop_time()
        if self._finishing or transport.is_closing():
            return
        if self._waiting:
            self._pending = data
            self._pos = pos
            if not self._backlog:
                self._backlog = True
                self.partial_since = None
                transport.pause_reading()
            return  # `_answered` queues the rest once the answer is written
        if pos > end:  # every complete line is answered
            self._pending = b""
            self._pos = 0
            self._backlog = False
            self._buf[:] = data[end + 1 :]
            self._hold()
            self._resume_reading()
            return
        self._pending = data
        self._pos = pos
        if not self._backlog:
            self._backlog = True
            self.partial_since = None
            transport.pause_reading()
        if not self._blocked:
            srv.queue(self)  # resume_writing queues it once the client has read

    def wait_for(self, pending: Pending) -> None:
        """Answer nothing more until `pending` resolves; then write its answer and go on with the backlog."""
        self._waiting = True
        pending.answer.add_done_callback(self._answered)

    def _answered(self, fut: asyncio.Future[Response]) -> None:
        self._waiting = False
        line = self._server.settle(fut)
        transport = self._transport
        if transport is None or self._finishing or transport.is_closing():
            return  # closed meanwhile (shutdown, eviction): its last word was said then
        transport.write(line)
        self.active_at = self._server.loop_time()
        if self._eof:
            # The request was the last line, unfinished at EOF (`eof_received`): nothing follows it.
            self._backlog = False
            self._pending = b""
            transport.close()
        elif self._backlog:
            self._server.queue(self)  # the lines after the request, or reading again when there are none

    def _hold(self) -> None:
        """Keep the unfinished line in `_buf` for the next read, unless it is already too long."""
        if len(self._buf) > MAX_LINE:
            self._server.errors += 1
            self.finish(error_line(f"line longer than {MAX_LINE} bytes; closing"))
            return
        if not self._buf:
            self.partial_since = None
        elif self.partial_since is None:
            self.partial_since = self._server.loop_time()

    def eof_received(self) -> bool:
        # The client is done sending; a last line it did not end with a newline is still a request.
        t = self._transport
        if self._buf and not (self._finishing or self._backlog) and t is not None and not t.is_closing():
            self._pending = bytes(self._buf) + b"\n"
            self._pos = 0
            self._buf.clear()
            self._serve(time.monotonic() + _SLICE)
        if self._waiting:
            self._eof = True
            return True  # keep the transport until the pending answer is written; `_answered` closes it
        return False  # close once our answers are written

    def finish(self, last: bytes) -> None:
        """Write a last answer, then a clean end of stream, and hang up at the latest after `_LINGER` s.

        Input keeps being read (and dropped) meanwhile: closing a Unix socket with unread input makes the kernel
        reset the connection, and the client would see ECONNRESET instead of the answer that explains why. A
        finishing connection is the first to go when room is needed.
        """
        transport = self._transport
        self._finishing = True
        self._backlog = False
        self._pending = b""
        self._buf.clear()
        self.partial_since = self.stalled_since = None
        self.active_at = -math.inf
        if transport is None or transport.is_closing():
            return
        transport.write(last)
        if transport.can_write_eof():
            transport.write_eof()
        transport.resume_reading()
        self._server.later(_LINGER, transport.abort)

    def hang_up(self, last: bytes) -> None:
        """Write a last answer and close now (shutdown: no lingering)."""
        transport = self._transport
        if transport is None or transport.is_closing():
            self._finishing = True
            return
        # A connection already finishing has said its last word and half-closed (write_eof): writing again
        # would raise, and the shutdown would stop half-way with other connections left open.
        if not self._finishing:
            transport.write(last)
        self._finishing = True
        transport.close()

    def drop(self, why: str) -> None:
        """Close now without a word (idle, or evicted to make room): no answer of its client is pending."""
        log.debug("closing a connection: %s", why)
        self._finishing = True
        self._backlog = False
        self._pending = b""
        self._buf.clear()
        self._server.connections.discard(self)
        if self._transport is not None:
            if self._transport.get_write_buffer_size():
                self._transport.abort()
            else:
                self._transport.close()

    @property
    def subscribed(self) -> bool:
        """Whether this connection is a live view waiting for pushes."""
        return self in self._server.subscribers

    @property
    def waiting(self) -> bool:
        """Whether this connection waits for a `Pending` answer (it is busy, not idle)."""
        return self._waiting

    def push(self, line: bytes) -> bool:
        """Send an unsolicited line to a subscriber; False (and nothing queued) when it is not reading."""
        transport = self._transport
        if transport is None or self._finishing or transport.is_closing():
            return False
        if self._blocked or self.stalled_since is not None or transport.get_write_buffer_size() > UNSENT_MAX:
            return False  # a later push carries the whole state again; never queue for a reader that stalled
        transport.write(line)
        return True

    def expire(self, why: str) -> None:
        """Drop a connection that holds an unfinished line or unread answers past the deadline."""
        self._server.expired += 1
        log.info("closing a connection: %s", why)
        if self._transport is not None:
            if self.stalled_since is None:
                self.finish(error_line(why))
            else:
                self._transport.abort()  # it does not read: anything more we write would only queue
        self._buf.clear()
        self._pending = b""


class Server:
    """Serve protocol v1 on a Unix stream socket; `handler` answers each parsed request in the loop thread.

    Args:
        handler: called with each valid request; returns its typed answer (`bhoga._responses`). It must
            be quick and never do I/O. An exception becomes `{"ok": false}` for that request only.
        path: the socket path; its directory is created 0700 and the socket is born 0600.
        listen_fd: an already listening socket handed over by systemd or launchd; `path` is then only shown.
        deadline: seconds a connection may keep a line unfinished or its answers unread.
        idle: seconds a connection may go without a complete request before it is closed.
        max_connections: connections kept at once (default: `connection_limit()`); at the limit a new one
            closes the longest-idle one.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        path: Path,
        listen_fd: int | None = None,
        deadline: float = 10.0,
        idle: float = 60.0,
        max_connections: int | None = None,
    ) -> None:
        self.handler = handler
        self.record_batch: Callable[[TurnBatch], object] | None = getattr(handler, "record_batch", None)
        """The handler's way to take a run of turns at once (bhogad's `Handler.record_batch`); without it every
        line is answered on its own."""
        self.runs = self.record_batch is not None
        self.path = Path(path)
        self.listen_fd = listen_fd
        self.deadline = deadline
        self.idle = idle
        self.max_connections = max_connections if max_connections is not None else connection_limit()
        self.uid = os.getuid()
        self.connections: set[_Connection] = set()
        self.subscribers: set[_Connection] = set()
        """Connections that sent `subscribe` and get `publish`ed lines."""
        self.requests = 0
        self.errors = 0
        self.refused = 0
        self.expired = 0
        self.closed_idle = 0
        self.evicted = 0
        self._listener: socket.socket | None = None
        self._adopting: set[asyncio.Task[None]] = set()
        self.quick = 0
        """Connections dealt with at accept: gone without a word, or only pings then gone (a connect storm)."""
        self._sweeper: asyncio.TimerHandle | None = None
        self._bound: tuple[int, int] | None = None  # (st_dev, st_ino) of the socket file we created
        self._loop: asyncio.AbstractEventLoop | None = None
        self._busy: collections.deque[_Connection] = collections.deque()
        self._running = False
        self.on_subscribe: Callable[[], object] | None = None
        """Called on the loop soon after a connection subscribed (the daemon pushes its state then)."""

    def publish(self, line: bytes) -> int:
        """Push `line` to every subscriber that keeps up; how many got it."""
        return sum(1 for conn in list(self.subscribers) if conn.push(line))

    def loop_time(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def later(self, delay: float, callback: Callable[[], object]) -> None:
        assert self._loop is not None
        self._loop.call_later(delay, callback)

    def queue(self, conn: _Connection) -> None:
        """Give `conn` a turn to answer its backlog, after those already waiting."""
        if not conn.queued:
            conn.queued = True
            self._busy.append(conn)
            if not self._running:
                self._running = True
                assert self._loop is not None
                self._loop.call_soon(self._run_queue)

    def _run_queue(self) -> None:
        # At most _ROUND seconds of bulk per turn of the loop, _SLICE each in turn: whatever the number of
        # flooding clients, a new connection or a ping waits a few milliseconds, not one slice per flooder.
        self._running = False
        clock = time.monotonic
        round_end = clock() + _ROUND
        busy = self._busy
        while busy:
            busy.popleft().take_turn(min(clock() + _SLICE, round_end))
            if clock() >= round_end:
                break
        if busy and not self._running:
            self._running = True
            assert self._loop is not None
            self._loop.call_soon(self._run_queue)

    def make_room(self) -> None:
        """Close the longest-idle connection (a finishing one first) so a new one fits under the limit."""
        if self.connections:
            victim = min(self.connections, key=_idle_key)
            self.evicted += 1
            log.debug("%d connections: closing the longest-idle one to make room", len(self.connections))
            victim.drop("closed to make room for a new connection")

    def handle_line(self, line: bytes, conn: _Connection | None = None) -> bytes:
        """Answer one request line (from `conn`, which a `subscribe` registers); never raises."""
        self.requests += 1
        try:
            request = parse_request(line)
        except ProtocolError as exc:
            self.errors += 1
            return error_line(str(exc))
        if type(request) is SubscribeRequest:
            if conn is None:
                return error_line("subscribe needs a connection")
            self.subscribers.add(conn)
            if self.on_subscribe is not None:
                self.later(0.0, self.on_subscribe)  # the first push follows the answer
            return encode_response(Subscribed())
        try:
            response = self.handler(request)
        except BhogaError as exc:
            self.errors += 1
            return error_line(str(exc))
        except Exception as exc:  # the handler's bug must not take the connection or the daemon down
            self.errors += 1
            log.exception("handler failed on a %s request", type(request).__name__)
            return error_line(f"internal error: {type(exc).__name__}")
        if type(response) is Ok:
            return OK_LINE
        if isinstance(response, Pending):
            if conn is None:
                response.answer.cancel()
                return error_line(f"{op_of(request)} needs a connection")
            conn.wait_for(response)
            return b""
        return self._encode(response)

    def settle(self, fut: asyncio.Future[Response]) -> bytes:
        """The answer line of a resolved `Pending` future (an exception becomes an error line, as in `handle_line`)."""
        if fut.cancelled():
            self.errors += 1
            return error_line("request cancelled (bhogad is stopping)")
        exc = fut.exception()
        if isinstance(exc, BhogaError):
            self.errors += 1
            return error_line(str(exc))
        if exc is not None:
            self.errors += 1
            log.error("a pending answer failed: %s: %s", type(exc).__name__, exc)
            return error_line(f"internal error: {type(exc).__name__}")
        return self._encode(fut.result())

    def _encode(self, response: Response) -> bytes:
        try:
            return encode_response(response)
        except (TypeError, ValueError) as exc:
            self.errors += 1
            log.error("handler returned something that is not a protocol answer: %s", exc)
            return error_line("internal error: not a protocol answer")

    def handle_run(self, run: bytes) -> bytes | None:
        """The answers to `run` (complete lines, no final newline) when every line is a valid turn, taken at once:
        one `{"ok":true}` per line, in order, the turns counted as one request each. None when the lines must
        be answered one by one (any other op, a bad line, text msgspec cannot vouch for)."""
        batch = _fast_turns(run)
        if batch is None:
            return None
        n = batch.total
        self.requests += n
        assert self.record_batch is not None
        try:
            self.record_batch(batch)
        except Exception as exc:  # the handler's bug must not take the connection or the daemon down
            self.errors += n
            log.exception("handler failed on a run of %d turns", n)
            return error_line(f"internal error: {type(exc).__name__}") * n
        return OK_LINE * n

    async def start(self) -> None:
        """Listen; `SocketInUse` when a live daemon already answers on `path`."""
        self._loop = asyncio.get_running_loop()
        if self.listen_fd is not None:
            sock = socket.socket(fileno=self.listen_fd)
            os.set_inheritable(sock.fileno(), False)
        else:
            sock = self._bind()
        sock.setblocking(False)
        # A long queue keeps a connect storm from failing clients' connect() with EAGAIN; a short accept batch
        # per turn of the loop keeps descriptors under the limit.
        sock.listen(_LISTEN_QUEUE)
        self._listener = sock
        self._loop.add_reader(sock.fileno(), self._accept)
        self._schedule_sweep()
        log.info("listening on %s", self.path)

    def _accept(self) -> None:
        """Take a batch from the listen queue. A connection that already left, or sent only pings, is dealt with
        here and then (accept, a peek, an answer, close: a few µs); only the others cost a transport. So a
        connect storm drains the queue fast and a ping or a CLI behind it waits little (DESIGN §8.5)."""
        assert self._listener is not None and self._loop is not None
        for _ in range(_ACCEPT_BATCH):
            try:
                conn, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # Out of descriptors: leave the rest queued for a moment instead of spinning on them.
                    log.warning("cannot accept a connection: %s; trying again in %.1f s", exc.strerror, _ACCEPT_PAUSE)
                    fd = self._listener.fileno()
                    self._loop.remove_reader(fd)
                    self._loop.call_later(_ACCEPT_PAUSE, self._resume_accepting, fd)
                else:
                    log.warning("cannot accept a connection: %s", exc)
                return
            conn.setblocking(False)
            if self._answered_at_once(conn):
                self.quick += 1
                conn.close()
                continue
            task = self._loop.create_task(self._adopt(conn))
            self._adopting.add(task)
            task.add_done_callback(self._adopting.discard)

    def _resume_accepting(self, fd: int) -> None:
        if self._listener is not None and self._listener.fileno() == fd and self._loop is not None:
            self._loop.add_reader(fd, self._accept)

    async def _adopt(self, conn: socket.socket) -> None:
        assert self._loop is not None
        try:
            await self._loop.connect_accepted_socket(lambda: _Connection(self), sock=conn)
        except (OSError, RuntimeError) as exc:  # gone meanwhile, or the loop is closing
            log.debug("connection lost before it was set up: %s", exc)
            conn.close()

    def _answered_at_once(self, conn: socket.socket) -> bool:
        """Whether `conn` needs nothing more: it left without a word, or it sent only pings (answered here) and
        left. False leaves it as it was but for the pings answered, for a transport to take over."""
        try:
            head = conn.recv(_LIGHT, socket.MSG_PEEK)
        except BlockingIOError:
            return False  # nothing sent yet
        except OSError:
            return True
        if not head:
            return True  # came and went without a word
        if peer_uid(conn) != self.uid:
            return False  # refused on the ordinary path, which tells the peer why
        size, answers = 0, []
        for line in head.split(b"\n")[:-1]:  # complete lines only
            if type(_parse_or_none(line)) is not PingRequest:
                break
            answers.append(self.handle_line(line))
            size += len(line) + 1
        if not size:
            return False
        try:
            conn.recv(size)  # exactly the lines answered: whatever follows stays for the transport
            conn.sendall(b"".join(answers))  # a few bytes into an empty buffer: never blocks
            return conn.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False  # still there, quiet: the transport takes it from here
        except OSError:
            return True  # gone while we answered

    def _bind(self) -> socket.socket:
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            directory.chmod(0o700)
        _clear_stale(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is born 0600: no window in which another user could connect
        try:
            sock.bind(str(self.path))
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old)
        self.path.chmod(0o600)
        st = self.path.stat()
        self._bound = (st.st_dev, st.st_ino)
        sock.listen(_LISTEN_QUEUE)
        return sock

    def _schedule_sweep(self) -> None:
        assert self._loop is not None
        self._sweeper = self._loop.call_later(min(1.0, self.deadline / 4, self.idle / 4), self._sweep)

    def _sweep(self) -> None:
        now = self.loop_time()
        limit = now - self.deadline
        idle_limit = now - self.idle
        for conn in list(self.connections):
            if conn.partial_since is not None and conn.partial_since < limit:
                conn.expire(f"line not finished within {self.deadline:g}s; closing")
            elif conn.stalled_since is not None and conn.stalled_since < limit:
                conn.expire(f"answers not read within {self.deadline:g}s; closing")
            elif (
                conn.active_at < idle_limit
                and conn.partial_since is None
                and conn.stalled_since is None
                and not conn.subscribed  # a live view waits for pushes, not to send requests
                and not conn.waiting  # its answer is still being worked out
            ):
                self.closed_idle += 1
                conn.drop(f"no request for {self.idle:g}s")
        self._schedule_sweep()

    async def close(self) -> None:
        """Stop listening, close every connection, and remove the socket file if this server made it."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._listener is not None:
            assert self._loop is not None
            self._loop.remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
            for task in list(self._adopting):
                task.cancel()
            for conn in list(self.connections):
                conn.hang_up(error_line("daemon shutting down"))
        if self._bound is not None:
            with contextlib.suppress(OSError):
                st = self.path.stat()
                if (st.st_dev, st.st_ino) == self._bound:  # never unlink a successor's socket
                    self.path.unlink()
            self._bound = None


def _load_fast_turns(run: bytes) -> TurnBatch | None:
    global _fast_turns
    _fast_turns = fast_decoders()[1]
    return _fast_turns(run)


_fast_turns: Callable[[bytes], TurnBatch | None] = _load_fast_turns


def _parse_or_none(line: bytes) -> Request | None:
    try:
        return parse_request(line)
    except ProtocolError:
        return None


def _idle_key(conn: _Connection) -> tuple[bool, float]:
    # Live views (subscribers) go last: they are idle by design and a person is looking at them. So do connections
    # waiting for a pending answer: somebody waits for it.
    return conn.subscribed or conn.waiting, conn.active_at


def _clear_stale(path: Path) -> None:
    """Remove a socket file no daemon answers on; `SocketInUse` when one does."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise SocketInUse(f"{path} exists and is not a socket; remove it or set BHOGA_SOCKET")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError as exc:
        if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise SocketInUse(f"{path} cannot be checked ({exc.strerror}); is another bhogad starting?") from None
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        log.info("removed a stale socket %s", path)
        return
    finally:
        probe.close()
    raise SocketInUse(f"another bhogad already listens on {path}")
