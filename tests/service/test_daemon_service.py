"""bhogad under a service manager's conventions: sd_notify, the watchdog, socket activation, `install`."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures_daemon import DaemonProc, request, wait_until

pytestmark = pytest.mark.slow


def _collect(sock: socket.socket, until: str, timeout: float = 30.0) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            break
        if any(until in m for m in got):
            return got
    raise AssertionError(f"no {until!r} among {got}")


def test_notify_ready_watchdog_and_stopping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """READY=1 after the socket is bound, WATCHDOG=1 pings at half WATCHDOG_USEC, STOPPING=1 on SIGTERM."""
    notify_path = tmp_path / "notify.sock"
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(str(notify_path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_path))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # pings every 0.5 s
    d = DaemonProc(tmp_path / "d.log")
    try:
        first = _collect(ns, "READY=1")
        assert request({"op": "ping"})["ok"]  # READY came after the socket was bound
        assert any("STATUS=" in m for m in first)
        pings = _collect(ns, "WATCHDOG=1")
        pings += _collect(ns, "WATCHDOG=1")
        assert sum(m.count("WATCHDOG=1") for m in pings) >= 2
        d.proc.send_signal(signal.SIGTERM)
        _collect(ns, "STOPPING=1")
        assert d.stop() == 0
    finally:
        d.kill()
        ns.close()


def test_socket_activation_uses_the_passed_listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With LISTEN_FDS/LISTEN_PID the daemon serves on fd 3 instead of binding, and leaves the path to the manager."""
    path = tmp_path / "act" / "bhogad.sock"
    path.parent.mkdir(mode=0o700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)
    monkeypatch.setenv("BHOGA_SOCKET", str(path))
    # A wrapper that puts the listener on fd 3 and exec()s bhogad, keeping its pid for LISTEN_PID.
    wrapper = (
        "import os, sys\n"
        f"os.dup2({listener.fileno()}, 3)\n"
        "os.environ['LISTEN_FDS'] = '1'\n"
        "os.environ['LISTEN_PID'] = str(os.getpid())\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'bhogad', '--verbose'])\n"
    )
    log = (tmp_path / "d.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-c", wrapper], pass_fds=(listener.fileno(),), stdout=log, stderr=log)
    listener.close()  # only the daemon holds it now
    try:
        wait_until(lambda: _ping(path), what="ping over the activated socket")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert path.exists()  # the manager's socket file (RemoveOnStop is the manager's job)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def _ping(path: Path) -> bool:
    try:
        return bool(request({"op": "ping"}, path=path, timeout=1.0).get("ok"))
    except OSError:
        return False


def test_install_dry_run_delegates_to_the_service_module(home: Path) -> None:
    """`bhogad install --dry-run` prints a unit naming this bhogad and writes nothing."""
    proc = subprocess.run(
        [sys.executable, "-m", "bhogad", "install", "--dry-run", "--no-enable"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ExecStart=" in proc.stdout or "ProgramArguments" in proc.stdout
    assert not (home / ".config" / "systemd").exists()


def test_help_lists_the_commands() -> None:
    """`bhogad --help` names --once, --config, --verbose, install and uninstall."""
    out = subprocess.run([sys.executable, "-m", "bhogad", "--help"], capture_output=True, text=True, timeout=60).stdout
    for word in ("--once", "--config", "--verbose", "install", "uninstall"):
        assert word in out
