"""Running the provider CLIs as last resorts: no shell, stdin closed or scripted, a hard deadline after
which the whole process group is killed, and a cap on what is read from stdout.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._common import log_failure

if TYPE_CHECKING:
    import subprocess

__all__ = ["MAX_OUTPUT_BYTES", "jsonrpc_call", "run_capture", "which"]

log = logging.getLogger(__name__)

MAX_OUTPUT_BYTES = 1024 * 1024


def which(name: str) -> str | None:
    """The executable `name` on PATH, or None."""
    import shutil  # noqa: PLC0415

    return shutil.which(name)


def _spawn(argv: Sequence[str], *, stdin: bool) -> subprocess.Popen[bytes] | None:
    import subprocess  # noqa: PLC0415 - deferred: only the last-resort paths start processes

    try:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so a timeout kills its children too
        )
    except OSError as e:
        log_failure(log, f"cannot start {os.path.basename(argv[0])}", e.strerror or type(e).__name__)
        return None


def _kill(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            p.kill()
    try:
        p.wait(timeout=2)
    except Exception:
        log.debug("child %d did not exit after SIGKILL", p.pid)
    for stream in (p.stdin, p.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _read_until(
    p: subprocess.Popen[bytes], deadline: float, max_bytes: int, done: Callable[[bytes], bool]
) -> tuple[bytes, str]:
    """Read stdout until `done(buffer)`, EOF, the deadline or the cap; returns (buffer, why it stopped)."""
    import selectors  # noqa: PLC0415

    assert p.stdout is not None
    fd = p.stdout.fileno()
    buf = bytearray()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(buf), "timeout"
            if not sel.select(left):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return bytes(buf), "eof"
            buf += chunk
            if len(buf) > max_bytes:
                return bytes(buf[:max_bytes]), "output too large"
            if done(bytes(buf)):
                return bytes(buf), "done"


def run_capture(
    argv: Sequence[str], *, timeout: float, max_bytes: int = MAX_OUTPUT_BYTES
) -> tuple[int | None, bytes] | None:
    """Run `argv`, return (exit code or None if killed, stdout); None when it could not be started."""
    p = _spawn(argv, stdin=False)
    if p is None:
        return None
    try:
        out, why = _read_until(p, time.monotonic() + timeout, max_bytes, lambda _b: False)
        if why == "eof":
            try:
                return p.wait(timeout=max(0.1, timeout)), out
            except Exception:
                return None, out
        log_failure(log, f"{os.path.basename(argv[0])} stopped", f"{why} after {timeout:.0f}s")
        return None, out
    finally:
        _kill(p)


def jsonrpc_call(
    argv: Sequence[str],
    messages: Sequence[dict[str, Any]],
    want_id: int,
    *,
    timeout: float,
    max_bytes: int = MAX_OUTPUT_BYTES,
) -> dict[str, Any] | None:
    """Start a newline-delimited JSON-RPC server, send `messages`, return the response with id `want_id`.

    None when it cannot start, times out, closes early or never answers that id; the child is always killed.
    """
    p = _spawn(argv, stdin=True)
    if p is None:
        return None
    found: list[dict[str, Any]] = []

    def done(buf: bytes) -> bool:
        for line in buf.split(b"\n"):
            if b'"id"' not in line:
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and obj.get("id") == want_id and ("result" in obj or "error" in obj):
                found.append(obj)
                return True
        return False

    try:
        assert p.stdin is not None
        try:
            p.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in messages))
            p.stdin.flush()
        except OSError:
            log_failure(log, os.path.basename(argv[0]), "closed its input before the request was sent")
            return None
        _out, why = _read_until(p, time.monotonic() + timeout, max_bytes, done)
        if found:
            return found[0]
        log_failure(log, f"{os.path.basename(argv[0])} gave no answer to request {want_id}", why)
        return None
    finally:
        _kill(p)
