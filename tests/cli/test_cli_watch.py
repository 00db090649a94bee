"""`bhoga status --watch` on a real pseudo-terminal against a real bhogad: pushed updates, idle CPU, Ctrl-C."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from tests.fixtures_daemon import DaemonProc, request, wait_until

BHOGA = Path(sys.executable).with_name("bhoga")


def _controlling_terminal() -> None:
    """In the child: a session of its own whose controlling terminal is the pty, so ^C means SIGINT; and SIGINT
    handled as in a terminal even when the suite was started in the background (`cmd &` ignores it)."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class PtyRun:
    """`bhoga ARGS` on its own pseudo-terminal (80x24); everything it draws is collected by a thread."""

    def __init__(self, *args: str) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.proc = subprocess.Popen(
            [str(BHOGA), *args], stdin=slave, stdout=slave, stderr=slave, preexec_fn=_controlling_terminal
        )
        os.close(slave)
        self.master = master
        self.data = b""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self.data += chunk

    def text(self) -> str:
        with self._lock:
            return self.data.decode("utf-8", "replace")

    def wait_for(self, needle: str, *, after: int = 0) -> int:
        """Wait until `needle` is drawn at or after offset `after`; its offset."""
        return int(wait_until(lambda: self.text().find(needle, after) + 1, what=f"{needle!r} on screen")) - 1

    def ctrl_c(self) -> int:
        os.write(self.master, b"\x03")  # the terminal turns it into SIGINT for the foreground process
        code = self.proc.wait(15)
        self._reader.join(10)  # everything it drew before exiting, up to the terminal's hang-up
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(5)
        os.close(self.master)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
def test_watch_redraws_on_push_idles_without_cpu_and_quits_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    """The live view shows a set_quota within moments, burns no CPU while idle, and Ctrl-C restores the screen."""
    daemon = DaemonProc(tmp_path / "bhogad.log")
    view = None
    try:
        daemon.wait_ready()
        request({"op": "set_quota", "pid": "claude_code", "pct_remaining": 64})
        view = PtyRun("status", "--watch")
        first = view.wait_for("64%")
        assert "\x1b[?1049h" in view.text()[:first]  # the alternate screen: the user's scrollback is left alone
        request({"op": "set_quota", "pid": "claude_code", "pct_remaining": 12})
        view.wait_for("12%", after=first)
        if Path("/proc").is_dir():
            before = _cpu_seconds(view.proc.pid)
            time.sleep(3)
            assert _cpu_seconds(view.proc.pid) - before < 0.3  # asleep in select: no polling loop
        assert view.ctrl_c() == 0
        assert view.text().rstrip().endswith("\x1b[?25h\x1b[?1049l")  # cursor back, normal screen back
        assert "Traceback" not in view.text()
    finally:
        if view is not None:
            view.close()
        daemon.stop()


@pytest.mark.slow
def test_watch_survives_a_daemon_restart(tmp_path: Path) -> None:
    """When bhogad stops the view says so and keeps the last state; a new bhogad is picked up by itself."""
    daemon = DaemonProc(tmp_path / "one.log")
    view = None
    try:
        daemon.wait_ready()
        view = PtyRun("status", "--watch", "--no-color")
        view.wait_for(f"pid {daemon.proc.pid}")
        assert "\x1b[3" not in view.text()  # --no-color: no colour codes, only cursor movement
        daemon.stop()
        at = view.wait_for("bhogad stopped answering")
        daemon = DaemonProc(tmp_path / "two.log")
        daemon.wait_ready()
        view.wait_for(f"pid {daemon.proc.pid}", after=at)
        assert view.ctrl_c() == 0
    finally:
        if view is not None:
            view.close()
        daemon.stop()


def test_watch_without_a_daemon_says_so_and_exits_1() -> None:
    """No bhogad: one line saying the live view needs it and how to start it; exit 1, no screen switch."""
    r = subprocess.run([str(BHOGA), "status", "--watch"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.startswith("bhoga: status --watch needs a running bhogad") and r.stderr.count("\n") == 1
    assert r.stdout == ""
    both = subprocess.run([str(BHOGA), "status", "--watch", "--json"], capture_output=True, text=True, timeout=60)
    assert both.returncode == 1 and "--watch draws a live view" in both.stderr


def test_a_subscriber_outlives_the_idle_limit_and_is_evicted_last(tmp_path: Path) -> None:
    """A live view sends nothing after `subscribe` by design: idle closing skips it; eviction takes it last."""
    import socket as socket_mod

    from tests.fixtures_socket import server_thread

    path = tmp_path / "run" / "bhogad.sock"
    with server_thread(path, idle=0.5, max_connections=2) as srv:
        view = socket_mod.socket(socket_mod.AF_UNIX, socket_mod.SOCK_STREAM)
        view.connect(str(path))
        view.sendall(b'{"v":1,"op":"subscribe"}\n')
        view.settimeout(5)
        assert view.recv(4096) == b'{"ok":true,"subscribed":true}\n'
        quiet = socket_mod.socket(socket_mod.AF_UNIX, socket_mod.SOCK_STREAM)
        quiet.connect(str(path))
        quiet.settimeout(10)
        wait_until(lambda: quiet.recv(4096) == b"", what="the idle plain connection to be closed")
        newer = socket_mod.socket(socket_mod.AF_UNIX, socket_mod.SOCK_STREAM)
        newer.connect(str(path))  # fills the limit of 2 with the view
        newest = socket_mod.socket(socket_mod.AF_UNIX, socket_mod.SOCK_STREAM)
        newest.connect(str(path))  # room is made: the plain connection goes, not the view
        newer.settimeout(5)
        assert newer.recv(4096) == b""
        assert len(srv.subscribers) == 1
        view.sendall(b'{"v":1,"op":"ping"}\n')
        assert view.recv(4096).startswith(b'{"ok":true')
        for s in (view, quiet, newer, newest):
            s.close()


def test_the_watch_frame_shows_bhogads_kept_discovery_failures() -> None:
    """A pushed status carrying `errors` draws each `discovery failed: <pid>: <why>` line under the table (the live
    view has no stderr to tell them on); a status without them draws none."""
    from bhoga.cli._term import Style
    from bhoga.cli._watch import _frame

    failed = "discovery failed: claude_code: Claude usage endpoint: HTTP 500"
    answer = {"ok": True, "daemon": {"pid": 42}, "quotas": [], "errors": [failed]}
    frame = _frame(answer, None, Style(), False)
    assert frame.rstrip("\n").splitlines()[-1] == failed
    assert "discovery failed" not in _frame({**answer, "errors": []}, None, Style(), False)
