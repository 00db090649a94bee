"""From a request line to its answer line: parsing, the handler, typed answers, answers that come later
(`Pending`), runs of turns taken at once, and subscriptions.

The server's connections call `handle_line` for each line they read and `handle_run` for a run of pipelined
lines (up to `MAX_LINE` bytes), which is decoded, counted and answered at once when every line in it is a valid
turn, and answered line by line otherwise. Nothing here knows sockets or fairness: that is the connections' and
the server's part; this is what every answer goes through, so it never raises and counts every request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from bhoga._protocol import Request, SubscribeRequest, error_line, op_of
from bhoga._protocol_parse import fast_decoders, parse_request
from bhoga._record import record
from bhoga._responses import OK_LINE, Ok, Response, Subscribed
from bhoga._responses_encode import encode_response
from bhoga.errors import BhogaError, ProtocolError

if TYPE_CHECKING:
    from bhoga._protocol_fast import TurnBatch

    from .conn_base import ConnectionBase
    from .connection import Connection

__all__ = ["Dispatcher", "Handler", "Pending"]

log = logging.getLogger(__name__)


@record
class Pending:
    """An answer that comes later: the handler's future, resolved on the loop with the `Response` (or an exception,
    answered like the handler's own)."""

    answer: asyncio.Future[Response]


Handler = Callable[[Request], "Response | Pending"]


class Dispatcher:
    """Answers request lines with `handler`'s typed answers, on the server's loop; the base of `Server`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.record_batch: Callable[[TurnBatch], object] | None = getattr(handler, "record_batch", None)
        """The handler's way to take a run of turns at once (bhogad's `Handler.record_batch`); without it every
        line is answered on its own."""
        self.runs = self.record_batch is not None
        self.requests = 0
        self.errors = 0
        self.subscribers: set[ConnectionBase] = set()
        """Connections that sent `subscribe` and get `publish`ed lines."""
        self.on_subscribe: Callable[[], object] | None = None
        """Called on the loop soon after a connection subscribed (the daemon pushes its state then)."""
        self._loop: asyncio.AbstractEventLoop | None = None

    def loop_time(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def later(self, delay: float, callback: Callable[[], object]) -> None:
        assert self._loop is not None
        self._loop.call_later(delay, callback)

    def publish(self, line: bytes) -> int:
        """Push `line` to every subscriber that keeps up; how many got it."""
        return sum(1 for conn in list(self.subscribers) if conn.push(line))

    def handle_line(self, line: bytes, conn: Connection | None = None) -> bytes:
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


def _load_fast_turns(run: bytes) -> TurnBatch | None:
    global _fast_turns
    _fast_turns = fast_decoders()[1]
    return _fast_turns(run)


_fast_turns: Callable[[bytes], TurnBatch | None] = _load_fast_turns
