"""The daemon's socket server (bhogad.server) over real Unix sockets, backed by a real Router."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from bhoga._protocol import Request
from bhoga._responses import OK, Response
from bhoga._router import Router
from bhogad.server import Server, SocketInUse
from tests.fixtures_socket import LineClient, real_handler, server_thread


@pytest.fixture
def sock_path(tmp_path: Path) -> Path:
    return tmp_path / "rt" / "bhoga" / "bhogad.sock"


def _turn(util: float, pid: str = "claude_code") -> dict[str, object]:
    return {
        "v": 1,
        "op": "turn",
        "pid": pid,
        "model": "claude-opus-4",
        "input_tokens": 10,
        "output_tokens": 5,
        "status_code": 200,
        "headers": {
            "anthropic-ratelimit-unified-5h-utilization": str(util),
            "authorization": "Bearer sk-ant-oat01-PLANTED-SECRET",
        },
    }


def _burst(status: dict[str, object], pid: str = "claude_code") -> float | None:
    for q in status["quotas"]:  # type: ignore[attr-defined]
        if q["provider_id"] == pid:
            for w in q["windows"]:
                if w["name"] == "burst":
                    return float(w["pct_used"])
    return None


def test_requests_are_answered_in_order_and_errors_keep_the_connection(sock_path: Path) -> None:
    """A pipelined mix of good and bad requests gets one answer each, in order, on one open connection."""
    with server_thread(sock_path):
        c = LineClient(sock_path)
        lines = [
            b'{"v":1,"op":"ping"}',
            b"garbage",
            json.dumps(_turn(0.25)).encode(),
            b'{"v":1,"op":"turn","pid":"nope","model":"m"}',
            b'{"v":1,"op":"status"}',
            b'{"v":1,"op":"best","model":"claude-opus-4"}',
        ]
        c.send(b"\n".join(lines) + b"\n")
        answers = [json.loads(x) for x in c.read_lines(len(lines))]
        assert [a["ok"] for a in answers] == [True, False, True, False, True, True]
        assert "invalid JSON" in answers[1]["error"]
        assert "unknown provider 'nope'" in answers[3]["error"]
        assert _burst(answers[4]) == pytest.approx(25.0)  # status flushes the Router's turn queue first
        assert answers[5]["recommendation"]["provider_id"] == "claude_code"
        assert c.ask({"v": 1, "op": "ping"})["ok"] is True
        c.close()


def test_turn_headers_reach_the_router_filtered(sock_path: Path, home: Path) -> None:
    """A turn's rate-limit header updates the quota; its authorization header is never stored."""
    with server_thread(sock_path):
        c = LineClient(sock_path)
        for util in (0.1, 0.5, 0.7):
            assert c.ask(_turn(util)) == {"ok": True}
        assert _burst(c.ask({"v": 1, "op": "status"})) == pytest.approx(70.0)
        c.close()
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert b"PLANTED" not in stored


@pytest.mark.parametrize("with_newline", [True, False])
def test_over_long_line_gets_an_error_then_close(sock_path: Path, with_newline: bool) -> None:
    """A line over 64 KiB (2 MiB here), finished or not, is answered with an error and the connection closes."""
    with server_thread(sock_path):
        c = LineClient(sock_path)
        assert c.ask({"v": 1, "op": "ping"})["ok"] is True
        big = b'{"v":1,"op":"ping","x":"' + b"a" * (2 << 20) + b'"}' + (b"\n" if with_newline else b"")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            c.send(big)  # the server may close before it has read everything
        answers = c.read_lines(1)
        assert answers and "longer than 65536 bytes" in json.loads(answers[0])["error"]
        assert c.closed_by_server()
        other = LineClient(sock_path)
        assert other.ask({"v": 1, "op": "ping"})["ok"] is True


def test_socket_dir_is_0700_and_socket_0600(sock_path: Path) -> None:
    """The server creates its directory 0700 and the socket 0600, and removes the socket on close."""
    with server_thread(sock_path):
        assert stat.S_IMODE(sock_path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(sock_path.stat().st_mode) == 0o600
        assert stat.S_ISSOCK(sock_path.stat().st_mode)
    assert not sock_path.exists()


def test_stale_socket_is_replaced_and_live_one_refused(sock_path: Path) -> None:
    """A socket file nobody listens on is replaced; one a live server answers on raises SocketInUse."""
    sock_path.parent.mkdir(parents=True, mode=0o700)
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(sock_path))
    dead.close()  # the file stays, nothing listens: a crashed daemon's leftover
    with server_thread(sock_path):
        assert LineClient(sock_path).ask({"v": 1, "op": "ping"})["ok"] is True
        with pytest.raises(SocketInUse, match="already listens"), server_thread(sock_path):
            pass
        # the refused second server must not have removed the live socket
        assert LineClient(sock_path).ask({"v": 1, "op": "ping"})["ok"] is True


def test_a_regular_file_at_the_socket_path_is_not_removed(sock_path: Path) -> None:
    """A non-socket file at the path is left alone and reported."""
    sock_path.parent.mkdir(parents=True)
    sock_path.write_text("keep me")
    with pytest.raises(SocketInUse, match="not a socket"), server_thread(sock_path):
        pass
    assert sock_path.read_text() == "keep me"


def test_adopts_a_socket_activation_fd(tmp_path: Path) -> None:
    """Given a listening fd (socket activation), the server serves on it and leaves the file to its owner."""
    path = tmp_path / "activated.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(16)
    fd = listener.detach()
    router = Router(eager=False)
    srv = Server(real_handler(router), path=path, listen_fd=fd)

    async def scenario() -> dict[str, object]:
        await srv.start()
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(b'{"v":1,"op":"ping"}\n')
        answer: dict[str, object] = json.loads(await reader.readline())
        writer.close()
        await writer.wait_closed()
        await srv.close()
        return answer

    assert asyncio.run(scenario())["ok"] is True
    router.close()
    assert path.exists()


def test_unfinished_line_is_cut_off_and_does_not_delay_others(sock_path: Path) -> None:
    """A client stuck mid-line is closed after the deadline while other clients are answered meanwhile."""
    with server_thread(sock_path, deadline=2.0) as srv:
        slow = LineClient(sock_path)
        slow.send(b'{"v":1,"op":')
        idle = LineClient(sock_path)  # connects and never sends: harmless, never times out
        fast = LineClient(sock_path)
        for _ in range(50):
            assert fast.ask({"v": 1, "op": "ping"})["ok"] is True
        # all answered while the slow client still held its half line (it is cut off only at the deadline)
        assert srv.expired == 0
        answers = slow.read_lines(1)
        assert answers and "not finished within 2s" in json.loads(answers[0])["error"]
        assert slow.closed_by_server()
        assert idle.ask({"v": 1, "op": "ping"})["ok"] is True


def test_client_that_never_reads_is_paused_then_dropped(sock_path: Path) -> None:
    """A client flooding requests without reading answers is throttled and dropped; others carry on."""
    with server_thread(sock_path, deadline=1.0) as srv:
        flood = socket.socket(socket.AF_UNIX)
        flood.connect(str(sock_path))
        flood.setblocking(False)
        chunk = b'{"v":1,"op":"ping"}\n' * 4096
        sent = 0
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            try:
                sent += flood.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
        other = LineClient(sock_path, timeout=2.0)
        assert other.ask({"v": 1, "op": "ping"})["ok"] is True
        assert srv.requests < sent // 20  # reading was paused: most of the flood was never even read
        deadline = time.monotonic() + 5
        while srv.expired == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert srv.expired >= 1
        assert other.ask({"v": 1, "op": "ping"})["ok"] is True
        flood.close()


def _as_nobody(path: Path) -> str:
    """Fork, drop to uid/gid 'nobody' in the child, try a ping on `path`; what the child saw."""
    import pwd

    nobody = pwd.getpwnam("nobody")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no pytest machinery from here on, only os._exit
        code = 0
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(5)
            try:
                s.connect(str(path))
            except PermissionError:
                os.write(w, b"EACCES")
            else:
                # A client that talks first still reads the refusal, even when the server has already hung up
                # (its write then fails with EPIPE, and a read after the answer may see a reset).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    s.sendall(b'{"v":1,"op":"ping"}\n')
                data = b""
                with contextlib.suppress(ConnectionResetError):
                    while chunk := s.recv(4096):
                        data += chunk
                os.write(w, data)
        except BaseException as exc:
            os.write(w, f"child failed: {exc!r}".encode())
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    out = b""
    while chunk := os.read(r, 4096):
        out += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    return out.decode().strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another uid needs root")
def test_another_uid_is_refused() -> None:
    """A process of another uid cannot use the socket: the file mode stops it, and so does the uid check."""
    base = Path(tempfile.mkdtemp(prefix="bhoga-uid-"))
    try:
        base.chmod(0o755)  # pytest's tmp dir is 0700 for root, which would hide the socket from nobody anyway
        path = base / "run" / "bhogad.sock"
        with server_thread(path) as srv:
            assert _as_nobody(path) == "EACCES"  # dir 0700 + socket 0600
            path.parent.chmod(0o755)
            path.chmod(0o666)  # a mistake elsewhere opened the file: the peer uid check must still refuse
            answer = json.loads(_as_nobody(path))
            assert answer["ok"] is False and "permission denied" in answer["error"]
            assert srv.refused == 1
            assert LineClient(path).ask({"v": 1, "op": "ping"})["ok"] is True
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_handler_failure_is_one_error_answer_and_the_connection_stays(sock_path: Path) -> None:
    """A handler that raises turns into {"ok": false} for that request only; the next request is answered."""
    calls: list[object] = []

    def handler(req: Request) -> Response:
        calls.append(req)
        if len(calls) == 1:
            raise RuntimeError("bug in the handler")
        if len(calls) == 2:
            return {"ok": True}  # type: ignore[return-value]  # an untyped answer is a bug, not a crash
        return OK

    srv = Server(handler, path=sock_path)

    async def scenario() -> list[dict[str, object]]:
        await srv.start()
        reader, writer = await asyncio.open_unix_connection(str(sock_path))
        writer.write(b'{"v":1,"op":"ping"}\n' * 3)
        answers = [json.loads(await reader.readline()) for _ in range(3)]
        writer.close()
        await writer.wait_closed()
        await srv.close()
        return answers

    answers = asyncio.run(scenario())
    assert answers[0] == {"ok": False, "error": "internal error: RuntimeError"}
    assert answers[1] == {"ok": False, "error": "internal error: not a protocol answer"}
    assert answers[2] == {"ok": True}


def test_pings_waiting_in_the_queue_are_answered_at_accept_and_the_rest_in_order(sock_path: Path) -> None:
    """Pings sent before bhogad accepted the connection are answered at once, what follows them in order by the
    ordinary path; a half-closed pinger gets its answers, and a client gone without a word costs no transport."""
    import threading

    gate, held = threading.Event(), threading.Event()
    router = Router(eager=False)
    base = real_handler(router)

    def handler(request: Request) -> Response:
        if not held.is_set():  # the first request holds the loop, so the others queue up meanwhile
            held.set()
            gate.wait(10)
        return base(request)

    ping = b'{"v":1,"op":"ping"}\n'
    try:
        with server_thread(sock_path, handler=handler) as srv:
            blocker = LineClient(sock_path)
            blocker.send(ping)
            assert held.wait(10)
            with socket.socket(socket.AF_UNIX) as silent:
                silent.connect(str(sock_path))
            pinger = LineClient(sock_path)
            pinger.send(ping * 2)
            pinger.sock.shutdown(socket.SHUT_WR)
            mixed = LineClient(sock_path)
            mixed.send(ping + b'{"v":1,"op":"status"}\n' + ping + b"garbage\n" + ping)
            gate.set()
            assert [json.loads(a)["ok"] for a in pinger.read_lines(3)] == [True, True]  # then the close
            answers = [json.loads(a) for a in mixed.read_lines(5)]
            assert [a["ok"] for a in answers] == [True, True, True, False, True]
            assert "quotas" in answers[1] and "quotas" not in answers[0] and "quotas" not in answers[2]
            assert json.loads(blocker.read_lines(1)[0])["ok"] is True
            assert srv.quick == 2  # the silent one and the pinger; `mixed` needed the ordinary path
    finally:
        router.close()
