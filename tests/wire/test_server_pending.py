"""Answers that come later (`Pending`, the `pass` op's): in order on their connection, never in anybody else's way.

The server runs on the test's own loop with a handler that answers `pass` with a future the test resolves, so
each scenario decides exactly when the answer is ready; everything else is the real server on a real socket.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bhoga._protocol import PassRequest, PingRequest, Request
from bhoga._responses import OK, PassAnswer, PingAnswer, Response
from bhoga.errors import BhogaError
from bhogad.server import Pending, Server

PASS = b'{"v":1,"op":"pass"}'
PING = b'{"v":1,"op":"ping"}'
ANSWER = PassAnswer(pid=7, joined=False, started_at="t", discovered=(), outcome="kept", changed=False, message="m")


class Later:
    """A handler whose `pass` answers wait for the test; pings and the rest answer at once."""

    def __init__(self) -> None:
        self.futures: list[asyncio.Future[Response]] = []

    def __call__(self, request: Request) -> Response | Pending:
        if isinstance(request, PassRequest):
            fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
            self.futures.append(fut)
            return Pending(fut)
        return PingAnswer(1, "v") if isinstance(request, PingRequest) else OK

    async def asked(self, n: int = 1) -> None:
        while len(self.futures) < n:
            await asyncio.sleep(0.005)


def run(scenario: Callable[[Server, Later], Awaitable[Any]], path: Path, **options: Any) -> Any:
    later = Later()
    srv = Server(later, path=path, **options)

    async def main() -> Any:
        await srv.start()
        try:
            return await asyncio.wait_for(scenario(srv, later), 60)
        finally:
            await srv.close()

    return asyncio.run(main())


async def nothing_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        await asyncio.wait_for(reader.readline(), seconds)
    except TimeoutError:
        return True
    return False


def test_a_pending_answer_keeps_its_connections_order_and_others_are_served(tmp_path: Path) -> None:
    """`pass` then `ping` on one connection: that ping waits for the pass's answer; another connection's does not."""

    async def scenario(srv: Server, later: Later) -> None:
        r1, w1 = await asyncio.open_unix_connection(str(tmp_path / "s.sock"))
        w1.write(PASS + b"\n" + PING + b"\n")
        await later.asked()
        r2, w2 = await asyncio.open_unix_connection(str(tmp_path / "s.sock"))
        w2.write(PING + b"\n")
        assert json.loads(await r2.readline()) == {"ok": True, "pid": 1, "version": "v"}
        assert await nothing_within(r1, 0.2)  # neither the pass's answer nor the ping behind it
        later.futures[0].set_result(ANSWER)
        first, second = json.loads(await r1.readline()), json.loads(await r1.readline())
        assert first["hermes"]["outcome"] == "kept" and first["pid"] == 7
        assert second == {"ok": True, "pid": 1, "version": "v"}
        w1.write(PING + b"\n")  # reading goes on after the pending answer
        assert json.loads(await r1.readline())["ok"] is True
        for w in (w1, w2):
            w.close()

    run(scenario, tmp_path / "s.sock")


def test_a_pending_last_line_at_eof_is_answered_then_closed(tmp_path: Path) -> None:
    """A `pass` line ended by EOF instead of a newline gets its answer when ready, then the connection closes."""

    async def scenario(srv: Server, later: Later) -> None:
        reader, writer = await asyncio.open_unix_connection(str(tmp_path / "s.sock"))
        writer.write(PASS)
        writer.write_eof()
        await later.asked()
        later.futures[0].set_result(ANSWER)
        assert json.loads(await reader.readline())["hermes"]["message"] == "m"
        assert await reader.read() == b""
        writer.close()

    run(scenario, tmp_path / "s.sock")


def test_a_connection_waiting_for_its_answer_is_not_closed_as_idle(tmp_path: Path) -> None:
    """With idle = 0.3 s, an idle connection is closed while one waiting for a pending answer is kept and answered."""

    async def scenario(srv: Server, later: Later) -> None:
        r1, w1 = await asyncio.open_unix_connection(str(tmp_path / "s.sock"))
        w1.write(PASS + b"\n")
        await later.asked()
        r2, w2 = await asyncio.open_unix_connection(str(tmp_path / "s.sock"))
        w2.write(PING + b"\n")
        await r2.readline()
        assert await r2.read() == b""  # the idle one is closed: the sweep has looked at both by now
        later.futures[0].set_result(ANSWER)
        assert json.loads(await r1.readline())["ok"] is True
        for w in (w1, w2):
            w.close()

    run(scenario, tmp_path / "s.sock", idle=0.3)


def test_a_failed_or_cancelled_pending_answer_is_an_error_line(tmp_path: Path) -> None:
    """A pending answer that raises is `{"ok":false}` with the reason; a cancelled one says so; the connection
    goes on."""

    async def scenario(srv: Server, later: Later) -> None:
        reader, writer = await asyncio.open_unix_connection(str(tmp_path / "s.sock"))
        writer.write(PASS + b"\n" + PASS + b"\n" + PING + b"\n")
        await later.asked()
        later.futures[0].set_exception(BhogaError("discovery exploded"))
        assert json.loads(await reader.readline()) == {"ok": False, "error": "discovery exploded"}
        await later.asked(2)
        later.futures[1].cancel()
        assert json.loads(await reader.readline()) == {"ok": False, "error": "request cancelled (bhogad is stopping)"}
        assert json.loads(await reader.readline())["ok"] is True
        writer.close()

    run(scenario, tmp_path / "s.sock")


def test_shutdown_answers_a_waiting_connection_once(tmp_path: Path) -> None:
    """Closing the server while an answer is pending says so in one line; the late answer is never written."""
    later = Later()
    srv = Server(later, path=tmp_path / "s.sock")

    async def main() -> list[bytes]:
        await srv.start()
        reader, writer = await asyncio.open_unix_connection(str(tmp_path / "s.sock"))
        writer.write(PASS + b"\n")
        await later.asked()
        await srv.close()
        later.futures[0].set_result(ANSWER)
        lines = [line async for line in reader]
        writer.close()
        return lines

    lines = asyncio.run(main())
    assert [json.loads(x) for x in lines] == [{"ok": False, "error": "daemon shutting down"}]


def test_a_pass_answer_reads_back_as_it_was_written() -> None:
    """The client decodes the daemon's `pass` answer into the record the daemon encoded."""
    from bhoga._responses import Discovered
    from bhoga._responses_decode import decode_response
    from bhoga._responses_encode import encode_response

    answer = PassAnswer(
        pid=42,
        joined=True,
        started_at="2026-12-03T19:45:45+00:00",
        discovered=(Discovered("claude_code", "*", 0.6, "ok", "usage endpoint not called"),),
        outcome="error",
        changed=False,
        message="cannot replace a hard-linked file",
        path="/h/.hermes/config.yaml",
        provider="openai-codex",
        model="gpt-5.5",
        errors=("cannot replace a hard-linked file",),
    )
    assert decode_response(PassRequest(), encode_response(answer)) == answer
