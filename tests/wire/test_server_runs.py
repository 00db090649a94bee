"""Pipelined turns taken a run at a time by the real server and handler: every line still gets exactly its own
answer, in order, and the daemon's counters count every turn once (DESIGN §7)."""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from bhoga._protocol import MAX_LINE
from bhoga._router import Router
from bhogad.server import Server
from tests.fixtures_socket import LineClient, real_handler, server_thread

TURN = json.loads((Path(__file__).parents[1] / "data" / "wire" / "anthropic_turn.json").read_text())["turn"]
OK = b'{"ok":true}'


@pytest.fixture
def sock_path(tmp_path: Path) -> Path:
    return tmp_path / "rt" / "bhoga" / "bhogad.sock"


def _line(**changes: Any) -> bytes:
    return json.dumps({**TURN, **changes}).encode() + b"\n"


def _counters(path: Path) -> dict[str, Any]:
    c = LineClient(path)
    try:
        daemon: dict[str, Any] = c.ask({"v": 1, "op": "status"})["daemon"]
    finally:
        c.close()
    return daemon


def test_a_bad_line_and_other_ops_inside_a_run_get_their_own_answers_in_order(sock_path: Path) -> None:
    """300 turns sent at once with a bad turn, a ping and a `best` among them: one answer per line, in order,
    the bad one its own error, and only the 299 valid turns counted."""
    lines = [_line() for _ in range(300)]
    lines[150] = _line(pid="nobody")
    lines.insert(200, b'{"v":1,"op":"ping"}\n')
    lines.insert(250, b'{"v":1,"op":"best","model":"claude-sonnet-4-6"}\n')
    with server_thread(sock_path):
        c = LineClient(sock_path)
        c.send(b"".join(lines))
        answers = c.read_lines(len(lines))
        assert len(answers) == len(lines)
        odd = {i: json.loads(a) for i, a in enumerate(answers) if a != OK}
        assert set(odd) == {150, 200, 250}
        assert odd[150]["ok"] is False and "unknown provider 'nobody'" in odd[150]["error"]
        assert odd[200]["ok"] is True and "pid" in odd[200]
        assert odd[250]["recommendation"]["provider_id"] == "claude_code"  # from the turns before it
        daemon = _counters(sock_path)
    assert (daemon["received_turns"], daemon["processed_turns"], daemon["dropped_turns"]) == (299, 299, 0)


def test_a_line_cut_across_reads_is_answered_once_whole(sock_path: Path) -> None:
    """A run whose last line arrives in two pieces: every line answered once, the cut one when it is complete."""
    first = b"".join(_line() for _ in range(100))
    cut = _line(model="claude-opus-4")
    with server_thread(sock_path):
        c = LineClient(sock_path)
        c.send(first + cut[:300])
        assert c.read_lines(100) == [OK] * 100
        c.send(cut[300:] + first)
        assert c.read_lines(101) == [OK] * 101
        daemon = _counters(sock_path)
    assert (daemon["received_turns"], daemon["processed_turns"], daemon["dropped_turns"]) == (201, 201, 0)


def test_a_line_over_the_limit_after_a_run_is_refused_and_what_follows_unanswered(sock_path: Path) -> None:
    """50 turns, a 70,000-byte turn line, 50 more: 50 answers, the limit error, then the connection closes; the
    turns after the long line are never taken."""
    long = _line(error="e" * 70_000)
    assert len(long) > MAX_LINE + 1
    with server_thread(sock_path):
        c = LineClient(sock_path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            c.send(_line() * 50 + long + _line() * 50)
        answers = c.read_lines(52)
        assert answers[:50] == [OK] * 50
        assert len(answers) == 51 and f"line longer than {MAX_LINE} bytes" in json.loads(answers[50])["error"]
        assert c.closed_by_server()
        daemon = _counters(sock_path)
    assert (daemon["received_turns"], daemon["processed_turns"], daemon["dropped_turns"]) == (50, 50, 0)


def test_many_clients_pipelining_are_each_counted_once(sock_path: Path) -> None:
    """Three clients pipelining 3,000 turns each (one with 429s among them): 9,000 received and processed, none
    dropped, counted per source."""

    def pipeline(source: str, results: list[list[bytes]]) -> None:
        c = LineClient(sock_path, timeout=60)
        turns = [_line(source=source) if i % 7 else _line(source=source, status_code=429) for i in range(3000)]
        c.send(b"".join(turns))
        results.append(c.read_lines(3000))
        c.close()

    with server_thread(sock_path):
        results: list[list[bytes]] = []
        threads = [threading.Thread(target=pipeline, args=(s, results)) for s in ("a", "b", "c")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        daemon = _counters(sock_path)
    assert [len(r) for r in results] == [3000] * 3 and all(r == [OK] * 3000 for r in results)
    assert (daemon["received_turns"], daemon["processed_turns"], daemon["dropped_turns"]) == (9000, 9000, 0)
    assert {k: v for k, v in daemon["turns_by_source"].items() if k in "abc"} == {"a": 3000, "b": 3000, "c": 3000}


def test_the_daemons_server_takes_a_run_of_sample_turns_in_one_go(tmp_path: Path) -> None:
    """bhogad's handler takes 64 realistic turns as one run: 64 answers, 64 received and processed."""
    router = Router(state_path=tmp_path / "state.json", eager=False, daemon=False)
    try:
        handler = real_handler(router)
        srv = Server(handler, path=tmp_path / "s.sock")
        assert srv.handle_run((_line() * 64).rstrip(b"\n")) == (OK + b"\n") * 64
        assert srv.handle_run((_line() + b'{"v":1,"op":"ping"}\n').rstrip(b"\n")) is None  # answered one by one
        router.sync()
        assert (handler.received_turns, router.processed_turns, srv.requests) == (64, 64, 64)  # type: ignore[attr-defined]
    finally:
        router.close()
