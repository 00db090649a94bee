"""sd_notify, the watchdog interval and socket activation against real sockets and real passed descriptors."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bhogad import sdnotify

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def dgram_path(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound AF_UNIX datagram socket on a filesystem path, like systemd's notify socket."""
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(5)
        yield sock, path


def test_notify_sends_one_datagram_to_a_path_socket(
    dgram_path: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """READY=1 with a STATUS arrives as one datagram, byte for byte."""
    sock, path = dgram_path
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    assert sdnotify.notify("READY=1\nSTATUS=listening") is True
    assert sock.recv(4096) == b"READY=1\nSTATUS=listening"
    assert sdnotify.notify("WATCHDOG=1") is True
    assert sock.recv(4096) == b"WATCHDOG=1"


def test_notify_reaches_an_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """An '@name' NOTIFY_SOCKET addresses Linux's abstract namespace (a leading NUL byte)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the abstract socket namespace exists only on Linux")
    name = f"bhoga-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.notify("STOPPING=1") is True
        assert sock.recv(4096) == b"STOPPING=1"


@pytest.mark.parametrize("value", [None, "", "relative/path", "@"])
def test_notify_is_a_no_op_without_a_usable_socket(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    """Outside systemd (or with a malformed NOTIFY_SOCKET) notify() returns False and raises nothing."""
    if value is None:
        monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    else:
        monkeypatch.setenv("NOTIFY_SOCKET", value)
    assert sdnotify.notify("READY=1") is False


def test_notify_survives_a_vanished_manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A NOTIFY_SOCKET whose listener is gone gives False, not an exception."""
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert sdnotify.notify("WATCHDOG=1") is False


def test_watchdog_interval_is_half_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """WATCHDOG_USEC=60 s gives a 30 s ping interval, for us or when WATCHDOG_PID is absent."""
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert sdnotify.watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval() == 30.0


@pytest.mark.parametrize(
    ("usec", "pid"), [(None, None), ("60000000", "1"), ("sixty", None), ("0", None), ("60000000", "x")]
)
def test_watchdog_interval_none_when_not_armed_for_us(
    monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None
) -> None:
    """No watchdog, another process's watchdog, or malformed values: None."""
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert sdnotify.watchdog_interval() is None


# The child: take the passed sockets, report them, and serve one connection on the first one.
_CHILD = """
import json, os, socket, sys
sys.path.insert(0, sys.argv[1])
from bhogad import sdnotify
fds = sdnotify.listen_fds()
left = sorted(k for k in os.environ if k.startswith("LISTEN_"))
report = {"fds": fds, "left": left, "inheritable": [os.get_inheritable(fd) for fd in fds]}
if fds:
    srv = socket.socket(fileno=fds[0])
    report["family"] = int(srv.family)
    report["type"] = int(srv.type)
    print(json.dumps(report), flush=True)
    conn, _ = srv.accept()
    conn.sendall(conn.recv(100).upper())
    conn.close()
else:
    print(json.dumps(report), flush=True)
"""

# What systemd does before exec: listening socket at fd 3, LISTEN_FDS, and LISTEN_PID = the pid that execs.
_WRAPPER = """
import os, sys
src = int(os.environ.pop("TEST_SOCKET_FD"))
os.dup2(src, 3, inheritable=True)
if src != 3:
    os.close(src)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_FDNAMES"] = "bhogad.socket"
os.environ["LISTEN_PID"] = str(os.getpid()) if os.environ.pop("TEST_PID_MODE") == "own" else "1"
os.execv(sys.executable, [sys.executable, "-c", sys.argv[1], sys.argv[2]])
"""


def _reap(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _activate(tmp_path: Path, pid_mode: str) -> tuple[subprocess.Popen[str], dict[str, object], str]:
    path = str(tmp_path / "act.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(4)
    env = {**os.environ, "TEST_SOCKET_FD": str(listener.fileno()), "TEST_PID_MODE": pid_mode}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRAPPER, _CHILD, str(REPO)],
        env=env,
        pass_fds=[listener.fileno()],
        stdout=subprocess.PIPE,
        text=True,
    )
    listener.close()  # the child holds the only copy now, as with a real socket unit handing it over
    assert proc.stdout is not None
    report: dict[str, object] = json.loads(proc.stdout.readline())
    return proc, report, path


def test_listen_fds_takes_the_passed_socket_and_serves_on_it(tmp_path: Path) -> None:
    """With LISTEN_PID set to its own pid the child gets fd 3, close-on-exec, usable as a listening socket."""
    proc, report, path = _activate(tmp_path, "own")
    try:
        assert report["fds"] == [3]
        assert report["left"] == []  # LISTEN_* removed so children don't inherit them
        assert report["inheritable"] == [False]
        assert report["family"] == socket.AF_UNIX
        assert report["type"] == socket.SOCK_STREAM
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(10)
            c.connect(path)
            c.sendall(b"ping\n")
            assert c.recv(100) == b"PING\n"
        assert proc.wait(timeout=30) == 0
    finally:
        _reap(proc)


def test_listen_fds_ignores_descriptors_meant_for_another_pid(tmp_path: Path) -> None:
    """LISTEN_PID naming another process yields [] and still clears the variables."""
    proc, report, _ = _activate(tmp_path, "other")
    try:
        assert report["fds"] == []
        assert report["left"] == []
        assert proc.wait(timeout=30) == 0
    finally:
        _reap(proc)


def test_listen_fds_without_activation(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LISTEN_* variables: no descriptors, nothing touched."""
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        monkeypatch.delenv(name, raising=False)
    assert sdnotify.listen_fds() == []


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None, reason="systemd-socket-activate not installed")
def test_listen_fds_under_systemd_socket_activate(tmp_path: Path) -> None:
    """systemd's own activation helper spawns the child on first connect and listen_fds() finds fd 3."""
    path = str(tmp_path / "sa.sock")
    out = tmp_path / "report.json"
    child = _CHILD.replace(
        "print(json.dumps(report), flush=True)", f'open({str(out)!r}, "w").write(json.dumps(report))'
    )
    proc = subprocess.Popen(
        ["systemd-socket-activate", "-l", path, sys.executable, "-c", child, str(REPO)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(path):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "systemd-socket-activate never bound its socket"
            time.sleep(0.05)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(20)
            c.connect(path)
            c.sendall(b"hello\n")
            assert c.recv(100) == b"HELLO\n"
        report = json.loads(out.read_text())
        assert report["fds"] == [3]
        assert report["left"] == []
    finally:
        proc.terminate()
        _reap(proc)
