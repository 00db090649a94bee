"""Fuzzing the real socket server in its own process: it stays up, its memory stays bounded, good events count."""

from __future__ import annotations

import contextlib
import json
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures_socket import LineClient

FIXTURE = Path(__file__).parents[1] / "fixtures_socket.py"
SEED = 20261125


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    path = tmp_path / "run" / "bhogad.sock"
    proc = subprocess.Popen(
        [sys.executable, str(FIXTURE), str(path), "1.0"], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    try:
        yield proc, path
    finally:
        LineClient.close_all()
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


def _garbage(rng: random.Random) -> bytes:
    """One line of bad input of a randomly chosen kind, without a newline inside."""
    kind = rng.randrange(9)
    if kind == 0:
        raw = rng.randbytes(rng.randrange(1, 4000))
    elif kind == 1:
        raw = b'{"v":1,"op":"best","model":"' + bytes([0xC3, 0x28, 0xFF]) + b'"}'  # invalid UTF-8
    elif kind == 2:
        depth = rng.randrange(100, 30_000)
        raw = b'{"v":1,"op":"best","model":' + b"[" * depth + b"]" * depth + b"}"
    elif kind == 3:
        raw = (
            b'{"v":1,"op":"turn","pid":"claude_code","model":"m","input_tokens":'
            + b"9" * rng.randrange(20, 50_000)
            + b"}"
        )
    elif kind == 4:
        raw = b'{"v":1,"op":"set_quota","pid":"claude_code","pct_remaining":1e999999}'
    elif kind == 5:
        field, value = rng.choice(
            [("input_tokens", True), ("status_code", "200"), ("pid", ["x"]), ("headers", [1]), ("model", 3)]
        )
        raw = json.dumps({"v": 1, "op": "turn", "pid": "claude_code", "model": "m", field: value}).encode()
    elif kind == 6:
        raw = json.dumps({"v": rng.choice([0, 2, "1", None, True]), "op": "ping"}).encode()
    elif kind == 7:
        raw = json.dumps({"v": 1, "op": rng.choice(["", "PING", "shutdown", "turn "])}).encode()
    else:
        raw = json.dumps({"v": 1, "op": "turn", "pid": "claude_code", "model": "\ud800"}).encode()
    return raw.replace(b"\n", b" ")


def _turn(util: float) -> bytes:
    body = {
        "v": 1,
        "op": "turn",
        "pid": "claude_code",
        "model": "claude-sonnet-4",
        "headers": {"anthropic-ratelimit-unified-5h-utilization": f"{util:.4f}", "cookie": "PLANTED"},
    }
    return json.dumps(body).encode()


def _mixed_session(path: Path, rng: random.Random, n: int, utils: list[float], errors: list[str]) -> int:
    """Send garbage and valid turns interleaved; check each answer; return the valid turns accepted."""
    c = LineClient(path, timeout=20)
    lines: list[tuple[bool, bytes]] = []
    for _ in range(n):
        if rng.random() < 0.5:
            u = rng.random()
            utils.append(u)
            lines.append((True, _turn(u)))
        else:
            lines.append((False, _garbage(rng)))
    c.send(b"".join(line + b"\n" for _, line in lines))
    answers = c.read_lines(len(lines))
    if len(answers) != len(lines):
        errors.append(f"{len(answers)} answers for {len(lines)} lines")
        return 0
    good = 0
    for (valid, line), raw in zip(lines, answers, strict=True):
        answer = json.loads(raw)
        if answer["ok"] is not valid:
            errors.append(f"line {line[:60]!r} answered {answer}")
        good += valid and answer["ok"]
    c.close()
    return good


def test_fuzzed_server_stays_up_bounded_and_keeps_counting(daemon: tuple[subprocess.Popen[str], Path]) -> None:
    """Random bytes, bad UTF-8, deep nesting, huge numbers, wrong types, 2 MiB lines and 200 idle connections:
    the server stays up, its memory stays bounded, and every valid turn in between is processed."""
    proc, path = daemon
    ping = LineClient(path)
    assert ping.ask({"v": 1, "op": "ping"})["ok"] is True
    baseline = _rss_kib(proc.pid)

    idle = [LineClient(path) for _ in range(200)]  # connect, never send
    errors: list[str] = []
    accepted: list[int] = []
    utils: list[list[float]] = [[] for _ in range(8)]

    def mixed(i: int) -> None:
        accepted.append(_mixed_session(path, random.Random(SEED + i), 150, utils[i], errors))

    def huge(_: int) -> None:
        # a 2 MiB line: answered with an error, then the connection is closed
        with contextlib.closing(socket.socket(socket.AF_UNIX)) as s:
            s.settimeout(20)
            s.connect(str(path))
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                s.sendall(b'{"v":1,"op":"ping","pad":"' + b"x" * (2 << 20))
            data = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := s.recv(65536):
                    data += chunk
            if b"longer than 65536" not in data:
                errors.append(f"2 MiB line answered {data[:80]!r}")

    threads = [threading.Thread(target=mixed, args=(i,)) for i in range(8)]
    threads += [threading.Thread(target=huge, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    peak = baseline
    while any(t.is_alive() for t in threads):
        peak = max(peak, _rss_kib(proc.pid))
        time.sleep(0.02)
    for t in threads:
        t.join()

    assert errors == []
    assert proc.poll() is None, "the server died"
    # bounded: 200 idle connections, 40 oversized senders and 8 mixed ones cost at most a few tens of MiB
    assert peak - baseline < 64 * 1024, f"RSS grew by {(peak - baseline) // 1024} MiB"
    for c in idle[:5]:
        assert c.ask({"v": 1, "op": "ping"})["ok"] is True
    status = ping.ask({"v": 1, "op": "status"})
    assert status["daemon"]["received_turns"] == sum(accepted) == sum(len(u) for u in utils) > 0
    assert b"PLANTED" not in json.dumps(status).encode()
