"""Taking connections from the listen queue, and the quick path that keeps a connect storm cheap (DESIGN §8.5).

A batch of connections is accepted each turn of the loop. One that already left, or sent only pings, is dealt with
there and then (accept, a peek, an answer, close: a few µs); only the others cost a transport. So a storm of
connections drains the queue fast and a ping or a CLI behind it waits little. Running out of descriptors pauses
accepting for a moment instead of spinning on the queue.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from typing import TYPE_CHECKING, Final

from bhoga._protocol import PingRequest, Request
from bhoga._protocol_parse import parse_request
from bhoga.errors import ProtocolError

from .connection import LIGHT, Connection
from .sockets import ACCEPT_BATCH, peer_uid

if TYPE_CHECKING:
    from .server import Server

__all__ = ["Acceptor"]

log = logging.getLogger(__name__)

_ACCEPT_PAUSE: Final = 0.1  # seconds accepting rests when the process is out of descriptors


class Acceptor:
    """Accepts `listener`'s connections for `server`, on `loop`, until closed."""

    def __init__(self, server: Server, listener: socket.socket, loop: asyncio.AbstractEventLoop) -> None:
        self._server = server
        self._listener: socket.socket | None = listener
        self._loop = loop
        self._adopting: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        assert self._listener is not None
        self._loop.add_reader(self._listener.fileno(), self._accept)

    def close(self) -> None:
        """Stop accepting, close the listening socket, and drop the connections still being set up."""
        if self._listener is None:
            return
        self._loop.remove_reader(self._listener.fileno())
        self._listener.close()
        self._listener = None
        for task in list(self._adopting):
            task.cancel()

    def _accept(self) -> None:
        """Take a batch from the listen queue; those that need nothing more are answered and closed here."""
        assert self._listener is not None
        for _ in range(ACCEPT_BATCH):
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
                self._server.quick += 1
                conn.close()
                continue
            task = self._loop.create_task(self._adopt(conn))
            self._adopting.add(task)
            task.add_done_callback(self._adopting.discard)

    def _resume_accepting(self, fd: int) -> None:
        if self._listener is not None and self._listener.fileno() == fd:
            self._loop.add_reader(fd, self._accept)

    async def _adopt(self, conn: socket.socket) -> None:
        server = self._server
        try:
            await self._loop.connect_accepted_socket(lambda: Connection(server), sock=conn)
        except (OSError, RuntimeError) as exc:  # gone meanwhile, or the loop is closing
            log.debug("connection lost before it was set up: %s", exc)
            conn.close()

    def _answered_at_once(self, conn: socket.socket) -> bool:
        """Whether `conn` needs nothing more: it left without a word, or it sent only pings (answered here) and
        left. False leaves it as it was but for the pings answered, for a transport to take over."""
        try:
            head = conn.recv(LIGHT, socket.MSG_PEEK)
        except BlockingIOError:
            return False  # nothing sent yet
        except OSError:
            return True
        if not head:
            return True  # came and went without a word
        if peer_uid(conn) != self._server.uid:
            return False  # refused on the ordinary path, which tells the peer why
        size, answers = 0, []
        for line in head.split(b"\n")[:-1]:  # complete lines only
            if type(_parse_or_none(line)) is not PingRequest:
                break
            answers.append(self._server.handle_line(line))
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


def _parse_or_none(line: bytes) -> Request | None:
    try:
        return parse_request(line)
    except ProtocolError:
        return None
