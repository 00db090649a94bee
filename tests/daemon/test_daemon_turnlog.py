"""bhogad writes the turn log, once per turn, whoever told it (bhoga._turnlog): a real bhogad subprocess, its real
socket, the real `bhoga` CLI and a harness's Router in this process that forwards to it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bhoga import Router
from bhoga._paths import socket_path, state_path
from bhoga._turnlog import TurnLogStore, turnlog_path
from tests.fixtures_daemon import DaemonProc, launch, request, wait_until

pytestmark = pytest.mark.slow


def _pipeline(lines: list[dict[str, object]]) -> list[dict[str, object]]:
    """Send every line in one write (bhogad takes such a run of turns at once) and read one answer per line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(socket_path()))
        s.sendall(b"".join(json.dumps({"v": 1, **line}).encode() + b"\n" for line in lines))
        buf = b""
        while buf.count(b"\n") < len(lines):
            chunk = s.recv(65536)
            assert chunk, "bhogad closed the connection"
            buf += chunk
    return [json.loads(line) for line in buf.splitlines()]


def test_bhogad_logs_every_turn_once_whoever_sends_it(tmp_path: Path, start: list[DaemonProc]) -> None:
    """A `bhoga turn`, a pipelined run of 50 turns over the socket, and a harness Router's turn (processed in its
    own process and forwarded) are logged once each; the 429 is not logged; only bhogad wrote the log."""
    d = launch(start, tmp_path)
    cli = [sys.executable, "-m", "bhoga", "turn", "--pid", "claude_code", "--model", "claude-opus-4-6"]
    assert subprocess.run(cli, capture_output=True, timeout=60, check=False).returncode == 0
    turn = {"op": "turn", "pid": "openai_api", "model": "gpt-5.4", "source": "test"}
    answers = _pipeline([turn] * 50 + [{**turn, "status_code": 429}])
    assert all(a["ok"] for a in answers) and len(answers) == 51
    with Router(eager=False) as harness:
        harness.record_turn("anthropic_api", "claude-sonnet-4-6", 5, 5, None, 200)
    assert wait_until(lambda: request({"op": "status"})["daemon"]["received_turns"] == 53)
    assert d.stop() == 0  # bhogad writes what it has on the way out
    got = TurnLogStore(turnlog_path(state_path())).load()
    counts: dict[tuple[str, str], int] = {}
    for t in got.turns:
        counts[t.pid, t.model] = counts.get((t.pid, t.model), 0) + t.n
    assert counts == {
        ("claude_code", "claude-opus-4-6"): 1,
        ("openai_api", "gpt-5.4"): 50,
        ("anthropic_api", "claude-sonnet-4-6"): 1,
    }
    assert got.since is not None and got.since <= got.turns[0].at
    assert got.beats and got.beats[-1] >= got.turns[-1].at  # its heartbeat, and a last beat dating the stop
