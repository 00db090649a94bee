"""Every source has a deadline (DESIGN §8.4): one 5 s deadline for a whole HTTP exchange, headers included,
against a real server on 127.0.0.1 that drips its head a byte at a time; and a daemon whose discovery is
stuck still routes on what it knows."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bhoga._paths import state_path
from bhoga.discovery._http import http_get
from tests.fakeserver import FakeServer, Reply
from tests.fixtures_daemon import DaemonProc, request, wait_until

pytestmark = pytest.mark.timeout(180)

DRIP = Reply(200, {"five_hour": {"utilization": 5.0}}, drip_headers=0.05)
"""A head of ~45 kB sent one byte per 50 ms: about 40 minutes if nobody gives up."""


@pytest.fixture
def dripping() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        for path in ("/api/oauth/usage", "/backend-api/wham/usage", "/copilot_internal/user"):
            srv.route(path, DRIP)
        yield srv


def _logins(home: Path) -> dict[str, str]:
    """Claude and Codex logins and a GitHub token, so all three usage endpoints are called."""
    claude = home / ".claude" / ".credentials.json"
    claude.parent.mkdir(parents=True, exist_ok=True)
    oauth = {"accessToken": "sk-ant-oat01-DEADLINE-fake", "expiresAt": int((time.time() + 3600) * 1000)}
    claude.write_text(json.dumps({"claudeAiOauth": {**oauth, "subscriptionType": "max"}}))
    codex = home / ".codex" / "auth.json"
    codex.parent.mkdir(parents=True, exist_ok=True)
    tokens = {"access_token": "DEADLINE-codex-access", "account_id": "acct"}
    codex.write_text(json.dumps({"auth_mode": "chatgpt", "tokens": tokens}))
    return {"GH_TOKEN": "gho_DEADLINEfaketoken0123456789"}


def _online_env(srv: FakeServer, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "BHOGA_OFFLINE"}
    env.update(
        BHOGA_ANTHROPIC_BASE_URL=srv.url,
        BHOGA_CHATGPT_BASE_URL=srv.url + "/backend-api",
        BHOGA_GITHUB_API_URL=srv.url,
        **extra,
    )
    return env


def test_header_drip_is_cut_at_the_deadline(dripping: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server dripping its status line and headers is given up at the deadline, with a one-line reason."""
    monkeypatch.delenv("BHOGA_OFFLINE")
    t0 = time.monotonic()
    r = http_get(dripping.url + "/api/oauth/usage", {}, timeout=1.0)
    elapsed = time.monotonic() - t0
    assert r.status == 0 and r.body == b""
    assert "timeout" in r.error and "\n" not in r.error
    assert elapsed < 15, elapsed  # 1 s deadline; without it the head takes ~40 minutes


def test_bhoga_status_is_not_held_by_a_dripping_server(home: Path, dripping: FakeServer) -> None:
    """`bhoga status` with all three usage endpoints dripping headers finishes and says nothing odd."""
    env = _online_env(dripping, _logins(home))
    p = subprocess.run(
        [sys.executable, "-m", "bhoga", "status"], capture_output=True, text=True, timeout=90, env=env, check=False
    )
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr
    assert dripping.count("/api/oauth/usage") == 1


def test_daemon_routes_and_answers_while_discovery_is_stuck(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With discovery's call gate locked by a hung process, bhogad still answers, takes turns and makes its
    first Hermes pass on what it already knows."""
    hermes = home / ".hermes" / "config.yaml"
    hermes.parent.mkdir(parents=True)
    hermes.write_text("model:\n  default: gpt-5.4\n  provider: openrouter\n")
    monkeypatch.delenv("BHOGA_OFFLINE")  # discovery goes online (to a closed loopback port) and uses the gate
    env = {**_logins(home), "OPENAI_API_KEY": "sk-deadline-test-0000000000"}
    gate_lock = state_path().parent / "discovery.json.lock"
    gate_lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(gate_lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a hung bhoga process holding the gate
    d = DaemonProc(tmp_path / "bhogad.log", env=env)
    try:
        d.wait_ready()

        def first_pass() -> object:
            return request({"op": "status"})["hermes"].get("last_pass")

        wait_until(first_pass, what=lambda: "first Hermes pass\n" + d.log())
        turn = {"op": "turn", "pid": "openai_api", "model": "gpt-5.4", "input_tokens": 1, "output_tokens": 1}
        assert request(turn)["ok"]
        assert request({"op": "ping"})["ok"]
    finally:
        d.stop()
        os.close(fd)
    assert "Traceback" not in d.log()
