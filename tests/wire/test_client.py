"""The daemon client (bhoga._client): never blocks, never raises, filters headers, survives daemon restarts."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bhoga._client import UNREACHABLE, DaemonClient, daemon_running
from bhoga._router import Router
from tests.fixtures_daemon import wait_until
from tests.fixtures_socket import LineClient, server_thread

SECRET = "sk-ant-oat01-PLANTED-CLIENT-SECRET"


@pytest.fixture
def sock_path(tmp_path: Path) -> Path:
    return tmp_path / "run" / "bhogad.sock"


def _headers(util: float) -> dict[str, str]:
    return {
        "anthropic-ratelimit-unified-5h-utilization": str(util),
        "Authorization": f"Bearer {SECRET}",
        "Cookie": SECRET,
        "x-api-key": SECRET,
    }


class _Spy:
    """A raw listening socket that records every byte a client sends and answers each line with ok."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(path))
        self.listener.listen(4)
        self.data = b""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn, _ = self.listener.accept()
        # the client may hang up while we answer: that ends the recording, nothing else
        with conn, contextlib.suppress(OSError):
            while chunk := conn.recv(65536):
                self.data += chunk
                conn.sendall(b'{"ok":true}\n' * chunk.count(b"\n"))

    def close(self) -> None:
        self.listener.close()
        self.thread.join(5)


def test_turns_reach_the_daemon_with_headers_reduced_to_the_allow_list(sock_path: Path) -> None:
    """send_turn delivers the event; authorization, cookie and key headers never leave the process."""
    spy = _Spy(sock_path)
    client = DaemonClient(sock_path)
    client.send_turn("claude_code", "claude-opus-4", 10, 20, _headers(0.3), 200)
    client.send_set_quota("openai_api", 55.0, None, "*")
    assert client.flush(5)
    deadline = time.monotonic() + 5
    while spy.data.count(b"\n") < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    client.close()
    spy.close()
    assert b'"op":"turn"' in spy.data and b"anthropic-ratelimit-unified-5h-utilization" in spy.data
    assert b'"op":"set_quota"' in spy.data and b'"pct_remaining":55.0' in spy.data
    assert SECRET.encode() not in spy.data
    assert b"authorization" not in spy.data.lower() and b"cookie" not in spy.data.lower()


def test_events_update_the_daemons_router_and_best_asks_it(sock_path: Path) -> None:
    """Turns sent through the client change the daemon's quota view, and best() returns the daemon's pick."""
    with server_thread(sock_path):
        client = DaemonClient(sock_path)
        assert client.reachable()
        assert client.best("claude-opus-4") is None  # nothing known yet: no candidate
        for util in (0.2, 0.6):
            client.send_turn("claude_code", "claude-opus-4", 1, 1, _headers(util), 200)
        assert client.flush(5)
        status = LineClient(sock_path).ask({"v": 1, "op": "status"})
        assert status["daemon"]["received_turns"] == 2
        rec = client.best("claude-opus-4")
        assert rec is not UNREACHABLE and rec is not None
        assert rec.provider_id == "claude_code" and rec.quota_pct == pytest.approx(0.4)
        assert client.dropped == 0 and client.sent == 2
        client.close()


def test_router_error_text_reaches_the_daemon_and_throttles_there(sock_path: Path) -> None:
    """A Router's record_turn(error=...) is forwarded: the daemon throttles Codex until the body's resets_at."""
    body = '{"error":{"type":"usage_limit_reached","resets_in_seconds":5000}}'
    with server_thread(sock_path):
        client = DaemonClient(sock_path)
        client.send_turn("openai-codex", "gpt-5.5", 1, 0, {}, 429, body)
        assert client.flush(5)

        def codex_throttle() -> str | None:
            quotas = LineClient(sock_path).ask({"v": 1, "op": "status"})["quotas"]
            return next((q["throttled_until"] for q in quotas if q["provider_id"] == "openai-codex"), None)

        deadline = time.monotonic() + 10
        while (until := codex_throttle()) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert until is not None
        left = datetime.fromisoformat(until) - datetime.now(UTC)
        assert timedelta(seconds=4900) < left <= timedelta(seconds=5000)
        client.close()


def test_without_a_daemon_nothing_blocks_or_raises_and_the_oldest_are_dropped(sock_path: Path) -> None:
    """With no daemon, send_turn returns at once, at most twice the bound is kept (the queue and the one batch
    the sender holds for its next connect), best is UNREACHABLE."""
    assert not daemon_running(sock_path)
    client = DaemonClient(sock_path, max_pending=100)
    t0 = time.monotonic()
    for i in range(1000):
        client.send_turn("claude_code", "m", i, 0, None, 200)
    client.send_turn("not-a-provider", object(), None, "x", 42, -5)  # type: ignore[arg-type]
    assert time.monotonic() - t0 < 2.0
    # 1,001 sent: at most 100 queued and one batch (taken from that queue, so at most 100 more) held for a retry.
    assert client.dropped >= 1001 - 2 * 100
    assert client.best("claude-opus-4", timeout=0.2) is UNREACHABLE
    assert not client.reachable()
    t0 = time.monotonic()
    client.close()
    assert time.monotonic() - t0 < 3


def test_sender_reconnects_after_a_daemon_restart(sock_path: Path) -> None:
    """Events queued while the daemon is down are delivered once it is back (reconnect with backoff)."""
    with server_thread(sock_path):
        client = DaemonClient(sock_path)
        client.send_turn("claude_code", "claude-opus-4", 1, 1, _headers(0.1), 200)
        assert client.flush(5)
    # daemon gone; queue events meanwhile
    client.send_turn("claude_code", "claude-opus-4", 1, 1, _headers(0.5), 200)
    time.sleep(0.3)
    with server_thread(sock_path):
        client.send_turn("claude_code", "claude-opus-4", 1, 1, _headers(0.8), 200)
        deadline = time.monotonic() + 10
        turns = 0
        while time.monotonic() < deadline:
            turns = LineClient(sock_path).turns()
            if turns >= 2:
                break
            time.sleep(0.05)
        assert turns == 2  # the one queued while down and the one after: nothing lost
        rec = client.best("claude-opus-4")
        assert rec is not UNREACHABLE and rec is not None and rec.quota_pct == pytest.approx(0.2)
    client.close()


def test_best_survives_a_daemon_restart_on_its_kept_connection(sock_path: Path) -> None:
    """best() reconnects once when the daemon it was talking to has been replaced."""
    router = Router(eager=False)
    router.set_quota("claude_code", 70)
    with server_thread(sock_path, router=router):
        client = DaemonClient(sock_path)
        first = client.best("claude-opus-4")
        assert first is not None and first is not UNREACHABLE
    with server_thread(sock_path, router=router):
        again = client.best("claude-opus-4")
        assert again is not None and again is not UNREACHABLE and again.provider_id == "claude_code"
    client.close()
    router.close()


def test_send_from_many_threads_loses_nothing(sock_path: Path) -> None:
    """Eight threads sending at once: every event is delivered and answered (none dropped under the bound)."""
    with server_thread(sock_path):
        client = DaemonClient(sock_path, max_pending=100_000)

        def burst() -> None:
            for i in range(2000):
                client.send_turn("openai-codex", "gpt-5", i, i, None, 200)

        threads = [threading.Thread(target=burst) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert client.flush(20)
        assert client.sent == 16_000 and client.dropped == 0
        # written is not yet answered: the server may still be working through the last batch
        asker = LineClient(sock_path)
        wait_until(lambda: asker.turns() == 16_000, what="16,000 turns counted")
        client.close()


def test_a_hung_daemon_never_blocks_the_caller(sock_path: Path) -> None:
    """A daemon that accepts but never reads: sends stay instant, best() gives up at its timeout."""
    sock_path.parent.mkdir(parents=True, exist_ok=True)
    hung = socket.socket(socket.AF_UNIX)
    hung.bind(str(sock_path))
    hung.listen(1)  # never accept()ed, never read
    try:
        client = DaemonClient(sock_path, max_pending=1000)
        payload = {"x-ratelimit-remaining-requests": "1" * 1000}
        worst = 0.0
        for _ in range(20_000):
            t0 = time.perf_counter()
            client.send_turn("openai_api", "gpt-5", 1, 1, payload, 200)
            worst = max(worst, time.perf_counter() - t0)
        assert worst < 0.5  # a call that waited on the socket would take the 2 s I/O timeout
        t0 = time.monotonic()
        assert client.best("gpt-5", timeout=0.3) is UNREACHABLE
        assert time.monotonic() - t0 < 1.0
        assert client.dropped > 0
        t0 = time.monotonic()
        client.close()
        assert time.monotonic() - t0 < 5.0
    finally:
        hung.close()


def test_routers_of_one_process_share_one_connection(sock_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three Routers used from four threads send and ask over one connection to the daemon, losing nothing."""
    monkeypatch.setenv("BHOGA_SOCKET", str(sock_path))
    with server_thread(sock_path) as srv:
        # One state file, as a process's Routers have: a question that times out on a loaded machine falls back
        # to the Router's own view (by design), and that view must give the same answer as the daemon.
        state = sock_path.parent / "state.json"
        first = Router(state_path=state, eager=False)
        first.set_quota("claude_code", 70)
        routers = [first, *(Router(state_path=state, eager=False) for _ in range(2))]

        def work(n: int) -> None:
            r = routers[n % 3]
            for i in range(500):
                r.record_turn("openai_api", "gpt-5", i, i, None, 200)
                if i % 100 == 0:
                    rec = r.best_for("claude-opus-4")
                    assert rec is not None and rec.provider_id == "claude_code"

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({id(r._daemon) for r in routers}) == 1
        # One shared client, so never more than one connection (a question that timed out under load closes it,
        # and the next use opens it again).
        assert len(srv.connections) <= 1
        for r in routers:
            r.close()
        asker = LineClient(sock_path)
        wait_until(lambda: asker.turns() == 2000, what="2,000 turns counted")


def test_a_question_after_many_events_gets_its_own_answer(sock_path: Path) -> None:
    """On the shared connection, best() skips the answers owed to the events sent before it."""
    router = Router(eager=False)
    router.set_quota("claude_code", 55)
    with server_thread(sock_path, router=router) as srv:
        client = DaemonClient(sock_path, max_pending=100_000)
        for round_ in range(5):
            for i in range(3000):
                client.send_turn("openai_api", "gpt-5", i, i, None, 200)
            client._wake.set()
            time.sleep(0.01 * round_)  # some answers are read by the sender, some by the question
            rec = client.best("claude-opus-4", timeout=10)
            assert rec is not UNREACHABLE and rec is not None and rec.quota_pct == pytest.approx(0.55)
        assert client.flush(20)
        assert len(srv.connections) == 1
        client.close()
    router.close()


def test_connect_waits_out_a_full_listen_queue(sock_path: Path) -> None:
    """A connect storm fills the daemon's listen queue: connect() retries until its timeout instead of failing."""
    from bhoga._client_io import connect

    sock_path.parent.mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(sock_path))
    listener.listen(0)
    filler = socket.socket(socket.AF_UNIX)
    filler.connect(str(sock_path))  # the queue (of one) is now full
    try:
        assert daemon_running(sock_path)  # busy is not absent
        threading.Timer(0.3, lambda: listener.accept()[0].close()).start()
        conn = connect(sock_path, 5.0)
        conn.close()
    finally:
        filler.close()
        listener.close()


def test_the_client_reconnects_after_the_daemon_closed_it_as_idle(sock_path: Path) -> None:
    """A connection the daemon closed for idleness is replaced on next use: events and questions go through."""
    router = Router(eager=False)
    router.set_quota("claude_code", 30)
    with server_thread(sock_path, router=router, idle=0.5) as srv:
        client = DaemonClient(sock_path)
        client.send_turn("openai_api", "gpt-5", 1, 1, None, 200)
        assert client.flush(5)
        wait_until(lambda: srv.closed_idle >= 1, what="the idle close")
        client.send_turn("openai_api", "gpt-5", 1, 1, None, 200)
        assert client.flush(5)
        rec = client.best("claude-opus-4", timeout=5)
        assert rec is not UNREACHABLE and rec is not None and rec.provider_id == "claude_code"
        asker = LineClient(sock_path)
        wait_until(lambda: asker.turns() == 2, what="both turns counted")
        client.close()
    router.close()
