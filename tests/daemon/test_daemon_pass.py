"""The `pass` op and `bhogad --once` beside a running bhogad (DESIGN §8.2): the daemon runs the pass and answers
with what it did, joins a pass already running, keeps every usage endpoint's minimum interval, and keeps answering
other clients meanwhile. Real bhogad subprocesses, a temp HOME, the real socket, loopback provider servers."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bhoga._paths import paused_marker_path, socket_path
from tests.discovery_helpers import (
    CLAUDE_TOKEN,
    COPILOT_TOKEN,
    data_json,
    write_claude_credentials,
    write_codex_auth,
    write_codex_usage,
)
from tests.fakeserver import FakeServer, Reply
from tests.fixtures_daemon import (
    DaemonProc,
    hermes_config,
    hermes_route,
    launch,
    request,
    wait_until,
    write_hermes,
)

pytestmark = pytest.mark.slow

OPENAI_KEY = "sk-proj-FAKE-SECRET-pass-openai-0123456789"
CLAUDE_USAGE = "/api/oauth/usage"
WHAM = "/backend-api/wham/usage"
COPILOT_USER = "/copilot_internal/user"
ENDPOINTS = (CLAUDE_USAGE, WHAM, COPILOT_USER)


def _usage() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "five_hour": {"utilization": 30.0, "resets_at": (now + timedelta(hours=3)).isoformat()},
        "seven_day": {"utilization": 40.0, "resets_at": (now + timedelta(days=4)).isoformat()},
    }


@pytest.fixture
def online(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    """Claude Code, Codex and Copilot logins whose usage endpoints are a loopback server (and no provider CLI)."""
    write_claude_credentials(home, expires_in=6 * 3600.0)
    write_codex_auth(home)
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    with FakeServer() as srv:
        srv.route(CLAUDE_USAGE, Reply(200, _usage()))
        srv.route(WHAM, Reply(200, data_json("codex_wham_usage.json")))
        srv.route(COPILOT_USER, Reply(200, data_json("copilot_user.json")))
        monkeypatch.delenv("BHOGA_OFFLINE")
        monkeypatch.setenv("BHOGA_ANTHROPIC_BASE_URL", srv.url)
        monkeypatch.setenv("BHOGA_CHATGPT_BASE_URL", srv.url + "/backend-api")
        monkeypatch.setenv("BHOGA_GITHUB_API_URL", srv.url)
        monkeypatch.setenv("COPILOT_GITHUB_TOKEN", COPILOT_TOKEN)
        monkeypatch.setenv("PATH", str(empty_bin))  # no claude, codex or gh CLI to fall back on
        yield srv


def once(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bhogad", "--once", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )


class Conn:
    """One client connection: write request lines, read answer lines."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(90)
        self.sock.connect(str(socket_path()))
        self.buf = b""

    def send(self, *ops: str) -> None:
        self.sock.sendall(b"".join(json.dumps({"v": 1, "op": op}).encode() + b"\n" for op in ops))

    def nothing_yet(self) -> bool:
        """No answer has arrived (without waiting)."""
        self.sock.setblocking(False)
        try:
            return not self.sock.recv(1, socket.MSG_PEEK)  # b"": the daemon hung up, which is not "nothing yet"
        except BlockingIOError:
            return True
        finally:
            self.sock.settimeout(90)

    def answers(self, n: int) -> list[dict[str, Any]]:
        while self.buf.count(b"\n") < n:
            chunk = self.sock.recv(1 << 20)
            assert chunk, f"connection closed after {self.buf!r}"
            self.buf += chunk
        lines = self.buf.split(b"\n")
        self.buf = b"\n".join(lines[n:])
        return [json.loads(x) for x in lines[:n]]

    def close(self) -> None:
        self.sock.close()


def documented_answer() -> dict[str, Any]:
    """The `pass` answer docs/PROTOCOL.md shows (its json block: the request line, then the answer line)."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md").read_text()
    (block,) = re.findall(r"```json\n(.*?)```", doc, flags=re.S)
    request_line, answer_line = block.strip().splitlines()
    assert json.loads(request_line) == {"v": 1, "op": "pass"}
    answer: dict[str, Any] = json.loads(answer_line)
    return answer


def shape(obj: object) -> object:
    """The keys of `obj`, all the way down (lists by their first element)."""
    if isinstance(obj, dict):
        return {k: shape(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [shape(obj[0])] if obj else []
    return type(obj).__name__ if isinstance(obj, bool) else "value"


def without_joined(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "joined"}


def test_a_slow_pass_is_joined_answers_in_order_and_never_blocks_others(
    home: Path, tmp_path: Path, start: list[DaemonProc], online: FakeServer
) -> None:
    """While a pass waits on hung usage endpoints, a second `pass` joins it (one answer for both, one call per
    endpoint), ping is answered on another connection, and a ping pipelined after `pass` comes after its answer."""
    for path in ENDPOINTS:
        online.route(path, Reply(200, {}, delay=60.0))  # each call is given up at the 5 s deadline
    write_hermes(home, "openai-codex", "gpt-5.5", codex_login=False)
    d = launch(start, tmp_path)
    wait_until(lambda: online.count(CLAUDE_USAGE) >= 1, what=lambda: f"the first usage call in flight\n{d.log()}")
    a, b = Conn(), Conn()
    a.send("pass", "ping")
    b.send("pass")
    assert request({"op": "ping"})["pid"] == d.proc.pid  # answered while both passes wait on the endpoints
    assert a.nothing_yet() and b.nothing_yet()
    first, after = a.answers(2)
    (second,) = b.answers(1)
    assert first["ok"] is True and second["ok"] is True, (first, second)
    assert sorted([first["joined"], second["joined"]]) == [False, True]  # whichever came first started it
    assert without_joined(first) == without_joined(second)
    assert after == {"ok": True, "pid": d.proc.pid, "version": after["version"]}
    assert first["pid"] == d.proc.pid and first["hermes"]["outcome"] in ("kept", "wrote")
    assert {q["provider_id"] for q in first["discovered"]} >= {"claude_code", "openai-codex", "github-copilot"}
    a.close()
    b.close()
    assert [online.count(p) for p in ENDPOINTS] == [1, 1, 1]
    assert d.stop() == 0


def test_a_pass_names_each_source_that_failed_and_the_daemon_carries_on(
    home: Path, tmp_path: Path, start: list[DaemonProc], online: FakeServer
) -> None:
    """A `pass` whose discovery meets a usage endpoint answering 500 lists one readable line naming that source
    and why in `errors` (no traceback, no secret); the others went through, and bhogad keeps serving."""
    online.route(CLAUDE_USAGE, Reply(500, {"error": "boom"}, delay=2.0))
    write_hermes(home, "openai-codex", "gpt-5.5", codex_login=False)
    d = launch(start, tmp_path)
    wait_until(lambda: online.count(CLAUDE_USAGE) >= 1, what=lambda: f"the first usage call in flight\n{d.log()}")
    answer = request({"op": "pass"}, timeout=60)  # joins the discovery in flight: its failures are this pass's
    assert answer["ok"] is True, answer
    failed = [e for e in answer["errors"] if e.startswith("discovery failed: ")]
    assert failed == ["discovery failed: claude_code: Claude usage endpoint: HTTP 500"], answer["errors"]
    assert answer["hermes"]["outcome"] in ("kept", "wrote"), answer
    assert "Traceback" not in json.dumps(answer) and CLAUDE_TOKEN not in json.dumps(answer) + d.log()
    assert "Claude usage endpoint: HTTP 500" in d.log()  # the daemon's log says it too, as before
    assert request({"op": "ping"})["pid"] == d.proc.pid
    assert d.stop() == 0


def test_once_without_a_daemon_names_an_unreadable_login_once_on_stderr(home: Path, tmp_path: Path) -> None:
    """`bhogad --once` with no daemon (it discovers itself) and a Claude login file that cannot be read says so in
    exactly one stderr line naming the file and why, exits 0 (the pass itself went through), and shows no
    traceback."""
    write_hermes(home, "openai-codex", "gpt-5.5", codex_login=False)
    creds = home / ".claude" / ".credentials.json"
    creds.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(creds.name, creds)  # a loop of symlinks: unreadable even for root
    r = once()
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [x for x in r.stderr.splitlines() if str(creds) in x]
    assert len(lines) == 1 and lines[0].endswith(f"cannot read {creds}: Too many levels of symbolic links"), r.stderr
    assert "Traceback" not in r.stderr


def test_once_gives_up_after_its_timeout_with_one_line(
    home: Path, tmp_path: Path, start: list[DaemonProc], online: FakeServer
) -> None:
    """`bhogad --once --timeout 1` beside a daemon whose pass hangs exits 1 with one line on stderr, writes nothing,
    and the daemon goes on answering."""
    for path in ENDPOINTS:
        online.route(path, Reply(200, {}, delay=60.0))  # three calls given up at 5 s each: a pass of 15 s
    cfg = write_hermes(home, "openai-codex", "gpt-5.5", codex_login=False)
    before = cfg.read_bytes()
    d = launch(start, tmp_path)
    wait_until(lambda: online.count(CLAUDE_USAGE) >= 1, what=lambda: f"the first usage call in flight\n{d.log()}")
    t0 = time.monotonic()
    r = once("--timeout", "1")
    assert time.monotonic() - t0 < 15, "the pass ended before the timeout could be seen"
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and "did not finish its pass within 1 s" in r.stderr, r.stderr
    assert cfg.read_bytes() == before
    assert request({"op": "ping"})["ok"] is True
    assert d.stop() == 0


def test_repeated_passes_keep_every_usage_endpoints_minimum_interval(
    home: Path, tmp_path: Path, start: list[DaemonProc], online: FakeServer
) -> None:
    """Passes asked for one after another and all at once (the socket op and `bhogad --once`) are all answered,
    and the usage endpoints are still called once each (the 5 and 15 min minimum intervals hold)."""
    write_hermes(home, "openai-codex", "gpt-5.5", codex_login=False)
    d = launch(start, tmp_path)
    wait_until(lambda: request({"op": "status"})["hermes"]["last_pass"], what=lambda: f"the first pass\n{d.log()}")
    assert [online.count(p) for p in ENDPOINTS] == [1, 1, 1]
    for _ in range(5):
        answer = request({"op": "pass"}, timeout=60)
        assert answer["ok"] is True and answer["joined"] is False, answer
    claude = next(q for q in answer["discovered"] if q["provider_id"] == "claude_code" and q["model"] == "*")
    assert claude["quota_pct"] == pytest.approx(0.6) and "not called" in claude["note"], claude
    assert shape(answer) == shape(documented_answer())
    conns = [Conn() for _ in range(8)]
    for c in conns:
        c.send("pass")
    answers = [c.answers(1)[0] for c in conns]
    assert all(x["ok"] is True for x in answers), answers
    for c in conns:
        c.close()
    r = once()
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"pass run by bhogad (pid {d.proc.pid})" in r.stdout
    assert "quota claude_code:*: 60% left, ok" in r.stdout, r.stdout
    assert f"hermes {hermes_config(home)}: " in r.stdout
    assert [online.count(p) for p in ENDPOINTS] == [1, 1, 1]
    assert CLAUDE_TOKEN not in r.stdout + r.stderr + d.log()
    assert d.stop() == 0


def test_once_beside_a_daemon_has_the_daemon_write_and_reports_it(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paused, the daemon's pass keeps Hermes (codex 97 % used); with the pause marker gone (unseen by the
    daemon) `bhogad --once` has the daemon rewrite Hermes to openai-api and prints that it did, exit 0."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    write_hermes(home, "openai-codex", "gpt-5.5")
    write_codex_usage(home, 97)
    marker = paused_marker_path()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    d = launch(start, tmp_path)
    paused = request({"op": "pass"}, timeout=60)  # after it, every pass the daemon had queued is done
    assert paused["hermes"]["outcome"] == "paused" and paused["hermes"]["changed"] is False, paused
    assert hermes_route(home)[0] == "openai-codex"
    marker.unlink()
    r = once()
    assert r.returncode == 0, r.stdout + r.stderr
    assert ": wrote: " in r.stdout and "hermes now: provider=openai-api model=" in r.stdout, r.stdout
    assert f"pass run by bhogad (pid {d.proc.pid})" in r.stdout
    assert hermes_route(home)[0] == "openai-api"
    assert "flip gpt-5.5" in d.log()  # the daemon wrote it, and logged its flip
    assert OPENAI_KEY not in r.stdout + r.stderr + d.log()
    assert d.stop() == 0


def test_once_beside_a_daemon_exits_1_when_its_pass_cannot_write(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Hermes config the daemon may not replace (a hard link): the pass answers its error, `bhogad --once`
    prints it in one stderr line and exits 1, and the file is untouched."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    cfg = write_hermes(home, "openai-codex", "gpt-5.5")
    os.link(cfg, home / "config-hardlink.yaml")
    write_codex_usage(home, 97)
    before = cfg.read_bytes()
    d = launch(start, tmp_path)
    answer = request({"op": "pass"}, timeout=60)
    assert answer["hermes"]["outcome"] == "error" and answer["errors"] == [answer["hermes"]["message"]], answer
    r = once()
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("bhogad: "), r.stderr
    assert ": error: " in r.stdout
    assert cfg.read_bytes() == before
    assert d.stop() == 0
