"""The daemon's Unix socket server: protocol v1 over NDJSON, many clients, one asyncio loop.

Nothing a client does can take more than its share (DESIGN §8.5); the pieces that see to it live beside this one:

* bhogad/connection.py reads and answers one connection (memory bounded by backpressure, answers in order, an
  answer that comes later holding back only its own connection) and bhogad/conn_base.py admits and ends it;
* bhogad/dispatch.py turns a request line into its answer line, a run of pipelined turns at once;
* bhogad/accept.py takes connections from the listen queue, a connect storm's quick ones without a transport;
* bhogad/sockets.py binds the socket file, knows who is calling and how many connections fit.

This module holds them together and keeps the limits that span connections:

* time: bulk answering waits in one queue, each connection answering for at most `SLICE` seconds a turn and all
  of them for at most `_ROUND` seconds per turn of the loop, so a ping or a CLI waits milliseconds whatever the
  number of flooding clients;
* descriptors: the number of connections is capped below the process's descriptor limit, and at the cap a new
  connection closes the longest-idle one, so the `bhoga` CLI always gets through; idle connections (no complete
  request for `idle` seconds) are closed;
* deadlines: a line left unfinished, or answers left unread, for longer than `deadline` seconds closes that
  connection, so a slow or half-open client never holds anything another client needs.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import socket
import time
from pathlib import Path
from typing import Final

from bhoga._protocol import error_line

from .accept import Acceptor
from .conn_base import UNSENT_MAX, ConnectionBase
from .connection import SLICE, Connection
from .dispatch import Dispatcher, Handler, Pending
from .sockets import LISTEN_QUEUE, SocketInUse, bind, connection_limit, peer_uid, unlink_if_ours

__all__ = ["UNSENT_MAX", "Handler", "Pending", "Server", "SocketInUse", "connection_limit", "peer_uid"]

log = logging.getLogger(__name__)

_ROUND: Final = 0.002  # seconds of queued (bulk) answering per turn of the loop, whatever the number of clients


class Server(Dispatcher):
    """Serve protocol v1 on a Unix stream socket; `handler` answers each parsed request in the loop thread.

    Args:
        handler: called with each valid request; returns its typed answer (`bhoga._responses`), or `Pending` for
            one that comes later. It must be quick and never do I/O. An exception becomes `{"ok": false}` for
            that request only.
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
        super().__init__(handler)
        self.path = Path(path)
        self.listen_fd = listen_fd
        self.deadline = deadline
        self.idle = idle
        self.max_connections = max_connections if max_connections is not None else connection_limit()
        self.uid = os.getuid()
        self.connections: set[ConnectionBase] = set()
        self.refused = 0
        self.expired = 0
        self.closed_idle = 0
        self.evicted = 0
        self.quick = 0
        """Connections dealt with at accept: gone without a word, or only pings then gone (a connect storm)."""
        self._acceptor: Acceptor | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._bound: tuple[int, int] | None = None  # (st_dev, st_ino) of the socket file we created
        self._busy: collections.deque[Connection] = collections.deque()
        self._running = False

    def queue(self, conn: Connection) -> None:
        """Give `conn` a turn to answer its backlog, after those already waiting."""
        if not conn.queued:
            conn.queued = True
            self._busy.append(conn)
            if not self._running:
                self._running = True
                assert self._loop is not None
                self._loop.call_soon(self._run_queue)

    def _run_queue(self) -> None:
        # At most _ROUND seconds of bulk per turn of the loop, SLICE each in turn: whatever the number of
        # flooding clients, a new connection or a ping waits a few milliseconds, not one slice per flooder.
        self._running = False
        clock = time.monotonic
        round_end = clock() + _ROUND
        busy = self._busy
        while busy:
            busy.popleft().take_turn(min(clock() + SLICE, round_end))
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

    async def start(self) -> None:
        """Listen; `SocketInUse` when a live daemon already answers on `path`."""
        self._loop = asyncio.get_running_loop()
        # A long queue keeps a connect storm from failing clients' connect() with EAGAIN; a short accept batch
        # per turn of the loop keeps descriptors under the limit.
        if self.listen_fd is not None:
            sock = socket.socket(fileno=self.listen_fd)
            os.set_inheritable(sock.fileno(), False)
            sock.listen(LISTEN_QUEUE)  # a handed-over socket gets our queue, whatever it was given
        else:
            sock, self._bound = bind(self.path)  # listening already, with that queue
        sock.setblocking(False)
        self._acceptor = Acceptor(self, sock, self._loop)
        self._acceptor.start()
        self._schedule_sweep()
        log.info("listening on %s", self.path)

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
        if self._acceptor is not None:
            self._acceptor.close()
            self._acceptor = None
            for conn in list(self.connections):
                conn.hang_up(error_line("daemon shutting down"))
        if self._bound is not None:
            unlink_if_ours(self.path, self._bound)  # never a successor's socket
            self._bound = None


def _idle_key(conn: ConnectionBase) -> tuple[bool, float]:
    # Live views (subscribers) go last: they are idle by design and a person is looking at them. So do connections
    # waiting for a pending answer: somebody waits for it.
    return conn.subscribed or conn.waiting, conn.active_at
