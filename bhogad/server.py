"""The daemon's Unix socket server: protocol v1 over NDJSON, many clients, one asyncio loop.

Each connection is an `asyncio.Protocol` that splits whatever arrives into lines in bulk and answers a whole
batch with one write, which is what keeps a pipelining client above 100k events/s. Memory per connection is
bounded: an unfinished line may grow to `MAX_LINE`, answers wait in a write buffer whose high-water mark
pauses reading (backpressure), and the number of connections is capped. A line left unfinished, or answers
left unread, for longer than `deadline` seconds closes that connection, so a slow or half-open client never
holds anything another client needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import stat
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

from bhoga._protocol import MAX_LINE, Request, encode, error_line, parse_request
from bhoga.errors import BhogaError, ProtocolError

__all__ = ["Handler", "Server", "SocketInUse", "peer_uid"]

log = logging.getLogger(__name__)

Handler = Callable[[Request], dict[str, object]]

_OK: Final = {"ok": True}
_OK_LINE: Final = b'{"ok":true}\n'
_WRITE_HIGH: Final = 256 * 1024
_MAX_CONNECTIONS: Final = 512
_BACKLOG: Final = 512
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


class _Connection(asyncio.Protocol):
    __slots__ = ("_buf", "_finishing", "_server", "_transport", "partial_since", "stalled_since")

    def __init__(self, server: Server) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._finishing = False
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
            self.finish(error_line(f"permission denied: only uid {srv.uid} may connect"))
            return
        if len(srv.connections) >= _MAX_CONNECTIONS:
            srv.refused += 1
            self.finish(error_line("too many connections; try again later"))
            return
        transport.set_write_buffer_limits(high=_WRITE_HIGH)
        srv.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._buf.clear()

    def pause_writing(self) -> None:
        # The client is not reading its answers: stop reading its requests until it does.
        if self._transport is not None and not self._transport.is_closing():
            self._transport.pause_reading()
            self.stalled_since = self._server.loop_time()

    def resume_writing(self) -> None:
        self.stalled_since = None
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or self._finishing or transport.is_closing():
            return  # after the last answer, input is read and dropped until the client hangs up
        buf = self._buf
        if buf:
            # Appending to a bytearray keeps a client that dribbles one byte at a time linear, not quadratic.
            buf += data
            if b"\n" not in data:
                self._hold(None)
                return
            data = bytes(buf)
            buf.clear()
        end = data.rfind(b"\n")
        if end < 0:
            self._hold(data)
            return
        tail = data[end + 1 :]
        lines = data[:end].split(b"\n")
        srv = self._server
        handle = srv.handle_line
        out: list[bytes] = []
        for line in lines:
            if len(line) > MAX_LINE:
                out.append(error_line(f"line longer than {MAX_LINE} bytes; closing"))
                srv.errors += 1
                self.finish(b"".join(out))
                return
            out.append(handle(line))
        transport.write(b"".join(out))
        self._hold(tail)

    def _hold(self, rest: bytes | None) -> None:
        """Keep an unfinished line (`rest`, or what `_buf` already holds when None) for the next read."""
        if rest is not None:
            self._buf[:] = rest
        if len(self._buf) > MAX_LINE:
            self._server.errors += 1
            self.finish(error_line(f"line longer than {MAX_LINE} bytes; closing"))
            return
        if not self._buf:
            self.partial_since = None
        elif self.partial_since is None:
            self.partial_since = self._server.loop_time()

    def finish(self, last: bytes) -> None:
        """Write a last answer, then a clean end of stream, and hang up at the latest after `_LINGER` s.

        Input keeps being read (and dropped) meanwhile: closing a Unix socket with unread input makes the kernel
        reset the connection, and the client would see ECONNRESET instead of the answer that explains why.
        """
        transport = self._transport
        self._finishing = True
        self._buf.clear()
        self.partial_since = self.stalled_since = None
        if transport is None or transport.is_closing():
            return
        transport.write(last)
        if transport.can_write_eof():
            transport.write_eof()
        transport.resume_reading()
        self._server.later(_LINGER, transport.abort)

    def hang_up(self, last: bytes) -> None:
        """Write a last answer and close now (shutdown: no lingering)."""
        self._finishing = True
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(last)
            self._transport.close()

    def eof_received(self) -> bool:
        return False  # the client is done sending: close once our answers are written

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


class Server:
    """Serve protocol v1 on a Unix stream socket; `handler` answers each parsed request in the loop thread.

    Args:
        handler: called with each valid request; returns the response object (`{"ok": true, ...}`). It must
            be quick and never do I/O. An exception becomes `{"ok": false}` for that request only.
        path: the socket path; its directory is created 0700 and the socket is born 0600.
        listen_fd: an already listening socket handed over by systemd or launchd; `path` is then only shown.
        deadline: seconds a connection may keep a line unfinished or its answers unread.
    """

    def __init__(self, handler: Handler, *, path: Path, listen_fd: int | None = None, deadline: float = 10.0) -> None:
        self.handler = handler
        self.path = Path(path)
        self.listen_fd = listen_fd
        self.deadline = deadline
        self.uid = os.getuid()
        self.connections: set[_Connection] = set()
        self.requests = 0
        self.errors = 0
        self.refused = 0
        self.expired = 0
        self._server: asyncio.AbstractServer | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._bound: tuple[int, int] | None = None  # (st_dev, st_ino) of the socket file we created
        self._loop: asyncio.AbstractEventLoop | None = None

    def loop_time(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def later(self, delay: float, callback: Callable[[], object]) -> None:
        assert self._loop is not None
        self._loop.call_later(delay, callback)

    def handle_line(self, line: bytes) -> bytes:
        """Answer one request line; never raises."""
        self.requests += 1
        try:
            request = parse_request(line)
        except ProtocolError as exc:
            self.errors += 1
            return error_line(str(exc))
        try:
            response = self.handler(request)
        except BhogaError as exc:
            self.errors += 1
            return error_line(str(exc))
        except Exception as exc:  # the handler's bug must not take the connection or the daemon down
            self.errors += 1
            log.exception("handler failed on a %s request", type(request).__name__)
            return error_line(f"internal error: {type(exc).__name__}")
        if response == _OK:
            return _OK_LINE
        try:
            return encode(response)
        except (TypeError, ValueError) as exc:
            self.errors += 1
            log.error("handler returned a response that is not JSON: %s", exc)
            return error_line("internal error: response is not JSON")

    async def start(self) -> None:
        """Listen; `SocketInUse` when a live daemon already answers on `path`."""
        self._loop = asyncio.get_running_loop()
        if self.listen_fd is not None:
            sock = socket.socket(fileno=self.listen_fd)
            os.set_inheritable(sock.fileno(), False)
        else:
            sock = self._bind()
        sock.setblocking(False)
        self._server = await self._loop.create_unix_server(lambda: _Connection(self), sock=sock, backlog=_BACKLOG)
        self._schedule_sweep()
        log.info("listening on %s", self.path)

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
        sock.listen(_BACKLOG)
        return sock

    def _schedule_sweep(self) -> None:
        assert self._loop is not None
        self._sweeper = self._loop.call_later(min(1.0, self.deadline / 4), self._sweep)

    def _sweep(self) -> None:
        limit = self.loop_time() - self.deadline
        for conn in list(self.connections):
            if conn.partial_since is not None and conn.partial_since < limit:
                conn.expire(f"line not finished within {self.deadline:g}s; closing")
            elif conn.stalled_since is not None and conn.stalled_since < limit:
                conn.expire(f"answers not read within {self.deadline:g}s; closing")
        self._schedule_sweep()

    async def close(self) -> None:
        """Stop listening, close every connection, and remove the socket file if this server made it."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._server is not None:
            self._server.close()
            for conn in list(self.connections):
                conn.hang_up(error_line("daemon shutting down"))
            await self._server.wait_closed()
            self._server = None
        if self._bound is not None:
            with contextlib.suppress(OSError):
                st = self.path.stat()
                if (st.st_dev, st.st_ino) == self._bound:  # never unlink a successor's socket
                    self.path.unlink()
            self._bound = None


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
