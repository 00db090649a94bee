"""One client connection of the daemon's socket: its state, and how its life begins and ends.

A connection is admitted (only the daemon's own uid; at the connection limit the longest-idle one makes room)
and ends in one of four ways: `finish` (a last answer and a clean close, after an over-long line), `expire` (a
deadline missed: a line left unfinished or answers left unread), `drop` (idle, or evicted to make room: no
word) and `hang_up` (shutdown: one line, now); another uid is refused at once. These, and the pushes a
subscriber gets, are kept here, apart from the reading and answering (bhogad/connection.py), which is the
connection's hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
from typing import TYPE_CHECKING, Final

from bhoga._protocol import error_line

from .sockets import peer_uid

if TYPE_CHECKING:
    from .server import Server

__all__ = ["UNSENT_MAX", "ConnectionBase"]

log = logging.getLogger(__name__)

UNSENT_MAX: Final = 1024 * 1024
"""Bytes of unsent answers beyond which a connection is not read until its client reads."""
_LINGER: Final = 1.0  # seconds a finished connection may keep sending before it is cut off


class ConnectionBase(asyncio.Protocol):
    """A connection's state, its admission and its endings; `Connection` adds reading and answering."""

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
        self._forget_input()

    def _forget_input(self) -> None:
        """Drop what was read and not answered: the unfinished line and the backlog."""
        self._buf.clear()
        self._pending = b""
        self._backlog = False

    def finish(self, last: bytes) -> None:
        """Write a last answer, then a clean end of stream, and hang up at the latest after `_LINGER` s.

        Input keeps being read (and dropped) meanwhile: closing a Unix socket with unread input makes the kernel
        reset the connection, and the client would see ECONNRESET instead of the answer that explains why. A
        finishing connection is the first to go when room is needed.
        """
        transport = self._transport
        self._finishing = True
        self._forget_input()
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
        self._forget_input()
        self._server.connections.discard(self)
        if self._transport is not None:
            if self._transport.get_write_buffer_size():
                self._transport.abort()
            else:
                self._transport.close()

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
