"""bhogad as a real process: start-up, single instance, socket, signals."""

from __future__ import annotations

import signal
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bhoga._paths import daemon_config_path, paused_marker_path, socket_path
from tests.fixtures_daemon import DaemonProc, request, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProc]:
    d = DaemonProc(tmp_path / "bhogad.log")
    try:
        d.wait_ready()
    except BaseException:
        d.kill()
        raise
    yield d
    d.kill()


def test_sigterm_exits_0_and_removes_the_socket(daemon: DaemonProc) -> None:
    """SIGTERM: exit status 0, socket file gone, a 'stopped' line in the log."""
    sock = socket_path()
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    assert daemon.stop(signal.SIGTERM) == 0
    assert not sock.exists()
    assert "stopped" in daemon.log()


def test_sigint_exits_0(daemon: DaemonProc) -> None:
    """SIGINT (Ctrl-C in a terminal) is a clean stop too."""
    assert daemon.stop(signal.SIGINT) == 0
    assert not socket_path().exists()


def test_second_instance_refuses_with_exit_1(daemon: DaemonProc, tmp_path: Path) -> None:
    """A second bhogad exits 1 with one clear line, and the first keeps answering."""
    second = DaemonProc(tmp_path / "second.log")
    rc = second.proc.wait(30)
    second.stop()
    assert rc == 1
    assert "another bhogad is already running" in second.log()
    assert "Traceback" not in second.log()
    assert request({"op": "ping"})["ok"] is True


def test_live_socket_without_lock_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A live listener on the socket path (another daemon with another lock dir) means exit 1, not a takeover."""
    sock_path = tmp_path / "other" / "bhogad.sock"
    sock_path.parent.mkdir(mode=0o700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(1)
    try:
        monkeypatch.setenv("BHOGA_SOCKET", str(sock_path))
        # The lock beside this socket is free, so only the socket check can stop the second daemon.
        d = DaemonProc(tmp_path / "d.log")
        rc = d.proc.wait(30)
        d.stop()
        assert rc == 1
        assert "already listens" in d.log()
        assert sock_path.exists()
    finally:
        listener.close()


def test_stale_socket_is_replaced(tmp_path: Path) -> None:
    """A socket file left by a crashed daemon (nobody listening) is removed and the daemon starts."""
    sock = socket_path()
    sock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(sock))
    s.close()
    assert sock.exists()
    d = DaemonProc(tmp_path / "d.log")
    try:
        d.wait_ready()
        assert d.stop() == 0
    finally:
        d.kill()


def test_status_ping_best_and_pause(daemon: DaemonProc) -> None:
    """The daemon answers ping, best, status, set_quota and pause/resume over its socket."""
    assert request({"op": "ping"})["ok"] is True
    assert request({"op": "set_quota", "pid": "openai-codex", "pct_remaining": 80})["ok"] is True
    best = request({"op": "best", "model": "gpt-5.5"})
    assert best["ok"] and best["recommendation"]["provider_id"] == "openai-codex"
    bad = request({"op": "set_quota", "pid": "nope", "pct_remaining": 80})
    assert bad["ok"] is False and "nope" in bad["error"]
    st = request({"op": "status"})
    assert st["ok"] and st["paused"] is False
    assert any(q["provider_id"] == "openai-codex" for q in st["quotas"])
    assert st["daemon"]["pid"] == daemon.proc.pid
    assert request({"op": "pause"})["paused"] is True
    assert paused_marker_path().exists()
    assert request({"op": "status"})["paused"] is True
    assert request({"op": "resume"})["paused"] is False
    assert not paused_marker_path().exists()


def test_sighup_reloads_and_keeps_old_settings_on_error(daemon: DaemonProc) -> None:
    """SIGHUP applies a valid bhogad.toml (status then names its policy), and keeps the previous settings when the
    file is broken."""
    assert request({"op": "status"})["policy"] == "value"
    cfg = daemon_config_path()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('interval = 600\npolicy = "pace"\n')
    daemon.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: request({"op": "status"})["daemon"]["interval"] == 600, what="interval 600")
    assert request({"op": "status"})["policy"] == "pace"
    cfg.write_text("interval = 'soon'\n")
    daemon.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "keeping the previous settings" in daemon.log(), what="error line")
    assert request({"op": "status"})["daemon"]["interval"] == 600
    assert daemon.stop() == 0
