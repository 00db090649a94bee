"""Socket plumbing for the daemon client: connect, one-shot requests, and the sender thread's batched writes.

Nothing here raises to a harness: `ask` answers `UNREACHABLE`, and the sender's `pump` reports how much it
wrote so the caller can resend a batch the daemon never saw.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from enum import Enum
from pathlib import Path

from bhoga import _lazy
from bhoga._protocol import (
    APPLY_WAIT,
    MAX_ERROR,
    ApplyRequest,
    Request,
    SetQuotaRequest,
    TurnRequest,
    encode_request,
)
from bhoga._responses import Response
from bhoga._responses_decode import decode_response
from bhoga.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = [
    "UNREACHABLE",
    "PumpError",
    "Unreachable",
    "ask",
    "connect",
    "daemon_running",
    "encode_event",
    "pump",
    "read_answer",
]

log = _lazy.logger(__name__)


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
    except BlockingIOError:
        return True  # its listen queue is full: a daemon is there, just busy
    except OSError:
        return False
    finally:
        sock.close()
    return True


def ask(path: Path, request: Request, *, timeout: float = 1.0) -> Response | Unreachable:
    """One request on a fresh connection (what a one-shot CLI needs); `UNREACHABLE` on any failure.

    A refusal is an answer (`Failure`), not a failure to reach the daemon. An `apply` is given at least
    `APPLY_WAIT`: bhogad may be waiting out an editor's save, and a caller that takes it for gone writes itself.
    """
    if type(request) is ApplyRequest:
        timeout = max(timeout, APPLY_WAIT)
    deadline = time.monotonic() + timeout
    try:
        sock = connect(path, timeout)
    except OSError:
        return UNREACHABLE
    try:
        sock.sendall(encode_request(request))
        return decode_response(request, read_answer(sock, deadline)[0])
    except (OSError, ProtocolError):
        return UNREACHABLE
    finally:
        sock.close()


def read_answer(sock: socket.socket, deadline: float, skip: int = 0, buf: bytes = b"") -> tuple[bytes, bytes]:
    """The next answer line on a blocking `sock` after skipping `skip` lines (answers owed to earlier events),
    and what was read after it; `buf` is what was read before.

    `TimeoutError` once `deadline` (monotonic) passes, `ConnectionResetError` when the daemon hangs up first.
    """
    pos = 0
    while True:
        nl = buf.find(b"\n", pos)
        while nl >= 0 and skip:
            pos = nl + 1
            skip -= 1
            nl = buf.find(b"\n", pos)
        if nl >= 0:
            return buf[pos:nl], buf[nl + 1 :]
        buf = buf[pos:]
        pos = 0
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionResetError("daemon closed the connection")
        buf += chunk


def encode_event(event: tuple[Any, ...]) -> bytes:
    """A queued `send_turn` / `send_set_quota` event as its request line (headers filtered here, off the caller)."""
    if event[0] == "turn":
        _, pid, model, input_tokens, output_tokens, headers, status_code, error = event
        from bhoga._calibrate import filter_headers  # noqa: PLC0415 - sender thread only

        turn = TurnRequest(
            pid,
            model,
            int(input_tokens or 0),
            int(output_tokens or 0),
            int(status_code or 200),
            filter_headers(headers) if headers else {},
            error[:MAX_ERROR] if isinstance(error, str) and error else None,
        )
        return encode_request(turn)
    _, pid, pct, weekly, model = event
    return encode_request(SetQuotaRequest(pid, pct, weekly, model))


def connect(path: Path, timeout: float) -> socket.socket:
    """A connection to `path`; a full listen queue (EAGAIN, a connect storm) is retried until `timeout`."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except BlockingIOError:
            sock.close()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{path}: the daemon's listen queue stayed full") from None
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.01)
            continue
        except OSError:
            sock.close()
            raise
        return sock


class PumpError(Exception):
    def __init__(self, written: int) -> None:
        super().__init__(written)
        self.written = written


def pump(sock: socket.socket, data: bytes, deadline: float) -> int:
    """Write `data` while reading the daemon's answers, so neither side's buffer fills up; the answer lines read.

    `PumpError` (its cause the `OSError`) says how many bytes were written before the failure.
    """
    written = 0
    answers = 0
    try:
        answers += _discard_answers(sock)  # notices a daemon that closed the connection while we were idle
        with selectors.DefaultSelector() as sel:
            sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            view = memoryview(data)
            while written < len(data):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("daemon did not read within the timeout")
                for _key, mask in sel.select(remaining):
                    if mask & selectors.EVENT_READ:
                        answers += _discard_answers(sock)
                    if mask & selectors.EVENT_WRITE and written < len(data):
                        with contextlib.suppress(BlockingIOError):
                            written += sock.send(view[written:])
        answers += _discard_answers(sock)
    except OSError as exc:
        raise PumpError(written) from exc
    return answers


def _discard_answers(sock: socket.socket) -> int:
    """Read what the daemon has answered so far without waiting; how many answer lines that was."""
    lines = 0
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return lines
        if not chunk:
            raise ConnectionResetError("daemon closed the connection")
        lines += chunk.count(b"\n")
        if b'"ok":false' in chunk:
            log.debug("daemon refused an event: %s", chunk[:200])
