"""`bhoga status --watch`: a live status view that bhogad pushes to, redrawn only when something changes.

The view subscribes on the daemon's socket (`{"op":"subscribe"}`) and then sleeps in `select` until a pushed
line arrives, the terminal is resized, or the next 30-second tick comes round (the reset countdowns move even
when nothing else does). No request is sent after the first, so an idle view costs no CPU and no daemon work.
On a terminal it draws in the alternate screen with plain ANSI codes (fine over ssh, no desktop needed) and
leaves the screen as it found it on Ctrl-C; to a pipe it writes one plain frame per change.

Without a daemon there is nothing to watch: it says so and exits 1 (`bhoga status` still works without one;
re-running local discovery in a loop would hit the providers' rate-limited usage endpoints). When the daemon
goes away while watching, the last state stays on screen, marked, and the view reconnects with back-off.
"""

from __future__ import annotations

import contextlib
import json
import select
import shutil
import signal
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bhoga._client_io import read_answer
from bhoga._protocol import SubscribeRequest, encode_request
from bhoga._responses import Failure
from bhoga._responses_decode import decode_response
from bhoga.cli._render import fit, render_status
from bhoga.cli._term import Style, style_for
from bhoga.errors import BhogaError, ProtocolError

__all__ = ["watch"]

_TICK = 30.0
_RETRY_MIN, _RETRY_MAX = 1.0, 5.0
_ENTER, _LEAVE = "\x1b[?1049h\x1b[?25l", "\x1b[?25h\x1b[?1049l"


class _Link:
    """One subscribed connection to bhogad and the partial line read so far."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.buf = b""
        try:
            self.sock.settimeout(2.0)
            self.sock.connect(str(path))
            self.sock.sendall(encode_request(SubscribeRequest()))
            line, self.buf = read_answer(self.sock, time.monotonic() + 2.0)
            first = decode_response(SubscribeRequest(), line)
        except (OSError, ProtocolError):
            self.sock.close()
            raise
        if isinstance(first, Failure):
            self.sock.close()
            raise BhogaError(f"bhogad refused to send live updates ({first.error}); is it older?")
        self.sock.setblocking(False)

    def read(self) -> list[dict[str, Any]] | None:
        """The status pushes that arrived (the newest last); None when the daemon hung up."""
        try:
            chunk = self.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            return None
        if not chunk:
            return None
        self.buf += chunk
        return self.parse()

    def parse(self) -> list[dict[str, Any]]:
        """The complete status pushes in the buffer."""
        *lines, self.buf = self.buf.split(b"\n")
        out = []
        for line in lines:
            with contextlib.suppress(ValueError):
                obj = json.loads(line)
                if isinstance(obj, dict) and obj.get("event") == "status":
                    out.append(obj)
        return out

    def close(self) -> None:
        self.sock.close()


def _connect(path: Path) -> _Link | None:
    try:
        return _Link(path)
    except (OSError, ProtocolError):  # an answer that is not protocol v1 is a daemon not there yet
        return None


class _Screen:
    def __init__(self, out: TextIO, color: bool | None) -> None:
        self.out = out
        self.color = color
        self.tty = out.isatty()

    def style(self) -> Style:
        return style_for(self.out, color=self.color)

    def enter(self) -> None:
        if self.tty:
            self.out.write(_ENTER)
            self.out.flush()

    def leave(self) -> None:
        if self.tty:
            self.out.write(_LEAVE)
            self.out.flush()

    def draw(self, text: str) -> None:
        if not self.tty:
            self.out.write(text + "\n")
            self.out.flush()
            return
        rows = shutil.get_terminal_size((80, 24)).lines
        lines = text.rstrip("\n").split("\n")[: max(rows - 1, 1)]
        self.out.write("\x1b[H" + "".join(f"{line}\x1b[K\n" for line in lines) + "\x1b[J")
        self.out.flush()


def _frame(answer: dict[str, Any] | None, down_since: datetime | None, style: Style, all_windows: bool) -> str:
    now = datetime.now(UTC)
    head = f"bhoga status --watch · {now.astimezone():%H:%M:%S} · Ctrl-C quits"
    lines = [style.paint(head, "grey")]
    if down_since is not None:
        lines.append(
            style.paint(f"bhogad stopped answering at {down_since.astimezone():%H:%M:%S}; reconnecting", "yellow")
            + (" (last state below)" if answer else "")
        )
    body = render_status(answer, from_daemon=True, style=style, now=now, all_windows=all_windows) if answer else ""
    # `bhoga status` tells bhogad's kept discovery failures on stderr; a screen that redraws has only itself.
    errors = [str(e) for e in (answer or {}).get("errors") or () if isinstance(e, str)]
    tail = "".join(style.paint(fit(e, style.width), "yellow") + "\n" for e in errors)
    return "\n".join(lines) + "\n" + body + ("\n" + tail if tail else "")


def watch(*, color: bool | None, all_windows: bool, out: TextIO | None = None) -> int:
    """Run the live view until Ctrl-C; exit code 0, or `BhogaError` when no daemon answers at the start."""
    from bhoga.cli._daemon_or_local import live_socket  # noqa: PLC0415

    path = live_socket()
    link = _connect(path)
    if link is None:
        raise BhogaError(
            f"status --watch needs a running bhogad and none answers on {path}; start it "
            "(`systemctl --user start bhogad`, or `bhogad` in another terminal), or use `bhoga status`"
        )
    screen = _Screen(out or sys.stdout, color)
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    old_fd = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    has_winch = hasattr(signal, "SIGWINCH")
    old_winch = signal.signal(signal.SIGWINCH, lambda *_: None) if has_winch else None
    pushed = link.parse()
    answer: dict[str, Any] | None = pushed[-1] if pushed else None
    down_since: datetime | None = None
    retry = _RETRY_MIN
    next_try = 0.0
    screen.enter()
    try:
        while True:
            fds: list[Any] = [wake_r] + ([link.sock] if link is not None else [])
            wait = _TICK - (time.time() % _TICK)
            if link is None:
                wait = min(wait, max(next_try - time.monotonic(), 0.0))
            ready, _, _ = select.select(fds, [], [], wait)
            if wake_r in ready:
                with contextlib.suppress(OSError):
                    wake_r.recv(4096)  # a resize (or any signal): redraw at the new size
            if link is not None and link.sock in ready:
                got = link.read()
                if got is None:
                    link.close()
                    link, down_since, next_try = None, datetime.now(UTC), time.monotonic() + retry
                elif got:
                    answer = got[-1]
                else:
                    continue  # half a line: wait for the rest before drawing
            if link is None and time.monotonic() >= next_try:
                link = _connect(live_socket())
                if link is None:
                    retry = min(retry * 2, _RETRY_MAX)
                    next_try = time.monotonic() + retry
                else:
                    down_since, retry = None, _RETRY_MIN
                    pushed = link.parse()
                    if not pushed:
                        continue  # the first push follows at once
                    answer = pushed[-1]
            screen.draw(_frame(answer, down_since, screen.style(), all_windows))
    except KeyboardInterrupt:
        pass
    finally:
        screen.leave()
        if link is not None:
            link.close()
        signal.set_wakeup_fd(old_fd)
        if has_winch:
            signal.signal(signal.SIGWINCH, old_winch)
        wake_r.close()
        wake_w.close()
    return 0
