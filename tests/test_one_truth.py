"""One truth across processes (DESIGN §8.1-§8.3), proved with real bhogad subprocesses, real CLI runs and
Routers: evidence no keyless process erases, one writer, pins, one policy, and discovery within its limits."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bhoga._paths import socket_path, state_path
from bhoga._router import Router
from tests.fixtures_daemon import DaemonProc, hermes_route, request, wait_until, write_hermes, write_rollout

pytestmark = pytest.mark.slow

OPENAI_KEY = "sk-proj-FAKE-SECRET-truth-openai-0123456789"


@pytest.fixture
def start() -> Iterator[list[DaemonProc]]:
    procs: list[DaemonProc] = []
    yield procs
    for p in procs:
        p.kill()


def launch(procs: list[DaemonProc], tmp_path: Path, *args: str) -> DaemonProc:
    d = DaemonProc(tmp_path / f"bhogad-{len(procs)}.log", *args)
    procs.append(d)
    d.wait_ready()
    return d


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`bhoga ARGS` as a user runs it (this test's environment unless `env` is given)."""
    return subprocess.run(
        [sys.executable, "-m", "bhoga", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def quota(pid: str) -> dict[str, object]:
    """The daemon's status entry for `pid`."""
    entries = request({"op": "status"})["quotas"]
    return next((q for q in entries if q["provider_id"] == pid and q["model"] == "*"), {})


def pipelined(*requests: dict[str, object]) -> list[dict[str, object]]:
    """Several requests written at once on one connection, then one answer per request."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(socket_path()))
        s.sendall(b"".join(json.dumps({"v": 1, **r}).encode() + b"\n" for r in requests))
        f = s.makefile("rb")
        return [json.loads(f.readline()) for _ in requests]


def test_keyless_processes_never_erase_the_daemons_key(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """bhogad sees OPENAI_API_KEY; keyless `bhoga` runs, `bhogad --once` and Routers leave that knowledge intact, so a
    429 on the Codex plan sent on one connection is answered by `best` with openai_api at once."""
    write_hermes(home, "openai-codex", "gpt-5.5")
    write_rollout(home, 20)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    d = launch(start, tmp_path)
    wait_until(lambda: quota("openai_api").get("credential") is True, what="daemon sees its key")
    assert quota("openai_api")["credential_state"] == "verified"
    assert quota("openai_api")["credential_sources"] == ["env"]
    monkeypatch.delenv("OPENAI_API_KEY")

    for args in (("status", "--json"), ("best", "gpt-5.5", "--json"), ("doctor",)):
        assert OPENAI_KEY not in cli(*args).stdout
    once = subprocess.run(
        [sys.executable, "-m", "bhogad", "--once"], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert once.returncode == 0, once.stderr
    with Router() as shared, Router(daemon=False) as alone:  # a harness with and without the daemon's view
        shared.discover()
        alone.discover()
    assert quota("openai_api")["credential"] is True
    saved = json.loads(state_path().read_text())["providers"]["openai_api"]
    assert saved["credential"] is True and OPENAI_KEY not in state_path().read_text()

    turn = {
        "op": "turn",
        "pid": "openai-codex",
        "model": "gpt-5.5",
        "status_code": 429,
        "headers": {"retry-after": "600"},
    }
    answers = pipelined(turn, {"op": "best", "model": "gpt-5.5"})
    assert answers[0] == {"ok": True}
    best = answers[1]
    assert best["recommendation"]["provider_id"] == "openai_api", best
    assert best["ranked"][0] == best["recommendation"]  # the winner is ranked[0]
    wait_until(lambda: hermes_route(home)[0] == "openai-api", what=f"flip to openai-api\n{d.log()}")
    assert d.stop() == 0
    assert OPENAI_KEY not in d.log()
