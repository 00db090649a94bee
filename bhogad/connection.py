"""Reading and answering one client connection of the daemon's socket (an `asyncio.Protocol`): whatever arrives is
split into lines in bulk and answered in chunks, within the limits that keep one client from taking more than its
share (DESIGN §8.5):

* memory: an unfinished line may grow to `MAX_LINE`; once more than `UNSENT_MAX` bytes of answers wait unsent,
  the connection is neither read nor answered until its client reads (backpressure);
* time: a read small enough to be a CLI or a ping is answered at once; bulk waits for its turn in the server's
  queue, and answers for at most `SLICE` seconds a turn;
* order: an answer that comes later (`Pending`, a `pass`) holds back only this connection: nothing after its
  request is read or answered until it is written.

The answers come from the server's dispatcher (bhogad/dispatch.py); the connection's state, admission and endings
are in bhogad/conn_base.py; the set of connections, the queue, the deadlines' sweep and eviction are the server's.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Final

from bhoga._protocol import MAX_LINE, error_line
from bhoga._responses import Response

from .conn_base import ConnectionBase

if TYPE_CHECKING:
    from .dispatch import Pending

__all__ = ["LIGHT", "SLICE", "Connection"]

SLICE: Final = 0.001
"""Seconds one connection may answer before the next one gets its turn."""
LIGHT: Final = 4096
"""A read this small (a CLI, a ping) is answered at once instead of queueing behind bulk."""
_CHUNK: Final = 64 * 1024  # answers are handed to the transport in chunks of about this size


class Connection(ConnectionBase):
    """One client: its unfinished line and its backlog of unanswered lines, read and answered."""

    __slots__ = ()

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
        if len(data) <= LIGHT:
            self._serve(time.monotonic() + SLICE)  # a request or two (a CLI, a ping): answered at once
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
            self._park(data, pos, transport)
            return  # `_answered` queues the rest once the answer is written
        if pos > end:  # every complete line is answered
            self._pending = b""
            self._pos = 0
            self._backlog = False
            self._buf[:] = data[end + 1 :]
            self._hold()
            self._resume_reading()
            return
        self._park(data, pos, transport)
        if not self._blocked:
            srv.queue(self)  # resume_writing queues it once the client has read

    def _park(self, data: bytes, pos: int, transport: asyncio.Transport) -> None:
        """Keep the unanswered rest of `data` from `pos` and stop reading until it is served."""
        self._pending = data
        self._pos = pos
        if not self._backlog:
            self._backlog = True
            self.partial_since = None
            transport.pause_reading()

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
            self._serve(time.monotonic() + SLICE)
        if self._waiting:
            self._eof = True
            return True  # keep the transport until the pending answer is written; `_answered` closes it
        return False  # close once our answers are written
