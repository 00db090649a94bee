"""Socket plumbing for the daemon client: connect, one-shot requests, and the sender thread's batched writes.

Nothing here raises to a harness: `ask` answers `UNREACHABLE`, and the sender's `pump` reports how much it
wrote so the caller can resend a batch the daemon never saw.
"""

from __future__ import annotations

import contextlib
import json
import logging
import selectors
import socket
import time
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any, Final

from bhoga._protocol import MAX_ERROR, encode

__all__ = ["UNREACHABLE", "PumpError", "Unreachable", "ask", "connect", "daemon_running", "encode_event", "pump"]

log = logging.getLogger(__name__)


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


def ask(path: Path, obj: Mapping[str, object], *, timeout: float = 1.0) -> dict[str, Any] | Unreachable:
    """One request on a fresh connection (what a one-shot CLI needs); `UNREACHABLE` on any failure."""
    deadline = time.monotonic() + timeout
    try:
        sock = connect(path, timeout)
    except OSError:
        return UNREACHABLE
    try:
        sock.sendall(encode(obj))
        buf = b""
        while b"\n" not in buf:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            chunk = sock.recv(1 << 20)
            if not chunk:
                return UNREACHABLE
            buf += chunk
        answer = json.loads(buf.partition(b"\n")[0])
    except (OSError, ValueError):
        return UNREACHABLE
    finally:
        sock.close()
    return answer if isinstance(answer, dict) else UNREACHABLE


def encode_event(event: tuple[Any, ...]) -> bytes:
    if event[0] == "turn":
        _, pid, model, input_tokens, output_tokens, headers, status_code, error = event
        from bhoga._calibrate import filter_headers  # noqa: PLC0415 - sender thread only

        turn: dict[str, object] = {
            "v": 1,
            "op": "turn",
            "pid": pid,
            "model": model,
            "input_tokens": int(input_tokens or 0),
            "output_tokens": int(output_tokens or 0),
            "status_code": int(status_code or 200),
            "headers": filter_headers(headers) if headers else {},
        }
        if isinstance(error, str) and error:
            turn["error"] = error[:MAX_ERROR]
        return encode(turn)
    _, pid, pct, weekly, model = event
    body: dict[str, object] = {"v": 1, "op": "set_quota", "pid": pid, "pct_remaining": pct, "model": model}
    if weekly is not None:
        body["weekly_pct"] = weekly
    return encode(body)


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
