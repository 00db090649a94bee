"""Discovery failures reach the person whether or not bhogad runs: bhogad keeps what its discoveries last failed at,
per provider, until that provider gets through (a call skipped for its minimum interval is no news), and its
`status` and `best` answers carry them, so `bhoga status` / `best` print the same `discovery failed: <pid>: <why>`
lines and `--json` `"errors"` as when they discover themselves; `bhogad --once` tells them in one stderr line each
and still exits 0. Real bhogad and bhoga subprocesses, temporary HOMEs, a loopback HTTP server for the providers;
every planted secret (the login files, the endpoints' error bodies) is looked for in all output, logs and files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli import bhoga
from tests.discovery_helpers import (
    CLAUDE_TOKEN,
    CODEX_REFRESH,
    COPILOT_TOKEN,
    assert_no_secrets,
    assert_no_secrets_in_files,
    data_json,
    write_claude_credentials,
    write_codex_auth,
)
from tests.fakeserver import FakeServer, Reply
from tests.fixtures_daemon import DaemonProc, launch, request, wait_until, write_hermes

pytestmark = pytest.mark.slow

CLAUDE_USAGE = "/api/oauth/usage"
WHAM = "/backend-api/wham/usage"
COPILOT_USER = "/copilot_internal/user"
CLAUDE_FAILED = "discovery failed: claude_code: Claude usage endpoint: HTTP 500"
CODEX_FAILED = "discovery failed: openai-codex: Codex wham/usage: HTTP 500"
NEW_TOKEN = "sk-ant-oat01-TESTSECRETclaudeREFRESHED0123456789abcdef"


def _usage() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "five_hour": {"utilization": 30.0, "resets_at": (now + timedelta(hours=3)).isoformat()},
        "seven_day": {"utilization": 40.0, "resets_at": (now + timedelta(days=4)).isoformat()},
    }


def _broken(body_secret: str) -> Reply:
    """A 500 whose body echoes a secret, as a confused proxy might: the body must never reach a failure line."""
    return Reply(500, {"error": {"message": "internal", "echo": body_secret}})


@pytest.fixture
def online(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    """Claude Code, Codex and Copilot logins whose usage endpoints are a loopback server (no provider CLI), and a
    Hermes config on openai-codex; every endpoint answers until a test breaks one."""
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
        _set_up(home)
        yield srv


def _set_up(home: Path) -> None:
    write_claude_credentials(home, expires_in=6 * 3600.0)
    write_codex_auth(home)
    write_hermes(home, "openai-codex", "gpt-5.5", codex_login=False)


def _env_of(home: Path) -> dict[str, str]:
    """This environment with `home` (and its XDG directories) instead of the test's HOME: a machine of its own."""
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"))
    env["XDG_STATE_HOME"] = str(home / ".local" / "state")
    return env


def _told(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "discovery failed" in line]


def _planted(home: Path) -> tuple[Path, ...]:
    """The login files the test wrote: the only files that may hold the fake secrets."""
    return (home / ".claude" / ".credentials.json", home / ".codex" / "auth.json")


def _seen(envs: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """What a person sees of the failures: `status`'s and `best`'s stderr lines and `--json` errors, each command
    run in `envs[i]` (by default this environment)."""
    text_env, status_env, best_env = envs or [dict(os.environ)] * 3
    text = bhoga("status", "--no-color", env=text_env)
    status = bhoga("status", "--json", env=status_env)
    best = bhoga("best", "gpt-5.5", "--json", env=best_env)
    for r in (text, status, best):
        assert r.returncode == 0, r.stdout + r.stderr
    assert "discovery failed" not in text.stdout  # stdout stays the view scripts read
    return {
        "text": _told(text.stderr),
        "status": _told(status.stderr),
        "best": _told(best.stderr),
        "status_errors": json.loads(status.stdout)["errors"],
        "best_errors": json.loads(best.stdout)["errors"],
        "source": json.loads(best.stdout)["source"],
        "output": [x for r in (text, status, best) for x in (r.stdout, r.stderr)],
    }


def _machines(tmp_path: Path, n: int) -> list[Path]:
    """`n` more HOMEs set up like the test's, each with a call gate of its own (no daemon runs in any)."""
    homes = [tmp_path / f"machine-{i}" for i in range(n)]
    for h in homes:
        h.mkdir()
        _set_up(h)
    return homes


def test_status_and_best_from_bhogad_tell_its_failures_as_the_local_path_does(
    home: Path, tmp_path: Path, start: list[DaemonProc], online: FakeServer
) -> None:
    """Claude's and Codex's usage endpoints answer 500 (their bodies echoing secrets): with bhogad running,
    `bhoga status` (text and --json) and `bhoga best --json` print one `bhoga: discovery failed: <pid>: <why>` line
    per provider and carry the same lines in `"errors"`, exactly what the same commands print without a daemon on a
    machine set up the same way; no secret in any output, the daemon's log or any file bhoga wrote."""
    online.route(CLAUDE_USAGE, _broken(CLAUDE_TOKEN))
    online.route(WHAM, _broken(CODEX_REFRESH))
    d = launch(start, tmp_path)
    want = [CLAUDE_FAILED, CODEX_FAILED]
    wait_until(lambda: request({"op": "status"})["errors"] == want, what=lambda: f"bhogad's errors\n{d.log()}")
    assert request({"op": "best", "model": "gpt-5.5"})["errors"] == want
    daemon = _seen()
    assert daemon["source"] == "bhogad"
    told = ["bhoga: " + line for line in want]
    assert (daemon["text"], daemon["status"], daemon["best"]) == (told, told, told), daemon
    assert daemon["status_errors"] == want and daemon["best_errors"] == want
    assert d.stop() == 0
    log = d.log()

    # Without a daemon each command discovers itself, and a second one within the endpoints' minimum interval
    # would skip the calls: each runs on a machine of its own, as the first command after the failures would.
    machines = _machines(tmp_path, 3)
    local = _seen([_env_of(h) for h in machines])
    assert local["source"] == "local"
    assert {k: v for k, v in local.items() if k not in ("source", "output")} == {
        k: v for k, v in daemon.items() if k not in ("source", "output")
    }
    assert_no_secrets(*daemon["output"], *local["output"], log)
    for h in (home, *machines):
        assert_no_secrets_in_files(h, skip=_planted(h))


def test_a_kept_failure_outlives_a_skipped_call_and_goes_when_the_provider_answers(
    home: Path, tmp_path: Path, start: list[DaemonProc], online: FakeServer
) -> None:
    """bhogad keeps Claude's failed discovery through a `pass` whose call the 5 min interval skipped (no news: the
    pass itself names no failure, its note says the call was not made), and drops it once a new login's discovery
    gets an answer; then `bhoga status --json` carries no errors and stderr tells none."""
    online.route(CLAUDE_USAGE, _broken(CLAUDE_TOKEN))
    d = launch(start, tmp_path)
    wait_until(lambda: request({"op": "status"})["errors"] == [CLAUDE_FAILED], what=lambda: f"the failure\n{d.log()}")
    answer = request({"op": "pass"}, timeout=60)
    assert answer["ok"] is True and not [e for e in answer["errors"] if "discovery failed" in e], answer
    claude = next(q for q in answer["discovered"] if q["provider_id"] == "claude_code" and q["model"] == "*")
    assert "not called" in claude["note"], claude
    assert request({"op": "status"})["errors"] == [CLAUDE_FAILED]
    assert online.count(CLAUDE_USAGE) == 1

    online.route(CLAUDE_USAGE, Reply(200, _usage()))
    write_claude_credentials(home, token=NEW_TOKEN, expires_in=8 * 3600.0)  # Claude refreshed its login
    wait_until(lambda: request({"op": "status"})["errors"] == [], what=lambda: f"the failure gone\n{d.log()}")
    assert online.count(CLAUDE_USAGE) == 2
    r = bhoga("status", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["errors"] == [] and _told(r.stderr) == [], r.stderr
    assert d.stop() == 0
    assert_no_secrets(r.stdout, r.stderr, json.dumps(answer), d.log())
    assert NEW_TOKEN not in d.log()
    assert_no_secrets_in_files(home, skip=_planted(home))


def _once(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bhogad", "--once"], capture_output=True, text=True, timeout=120, env=env
    )


def test_once_tells_each_failed_source_in_one_line_with_or_without_a_daemon(
    home: Path, tmp_path: Path, start: list[DaemonProc], online: FakeServer
) -> None:
    """`bhogad --once` whose discovery meets Claude's usage endpoint answering 500 prints exactly one stderr line
    for it, `bhogad: discovery failed: claude_code: Claude usage endpoint: HTTP 500`, whether it discovers itself
    (the log's own copy of the warning held back) or a running bhogad's pass does; it exits 0 both times (the pass
    ran and wrote nothing it should not), and no secret shows."""
    online.route(CLAUDE_USAGE, Reply(500, {"error": {"echo": CLAUDE_TOKEN}}, delay=2.0))
    (other,) = _machines(tmp_path, 1)
    alone = _once(_env_of(other))
    assert alone.returncode == 0, alone.stdout + alone.stderr
    want = ["bhogad: " + CLAUDE_FAILED]
    assert _told(alone.stderr) == want, alone.stderr
    assert alone.stderr.count("Claude usage endpoint") == 1, alone.stderr
    assert "Traceback" not in alone.stderr and "quota claude_code:*" in alone.stdout

    d = launch(start, tmp_path)
    wait_until(lambda: online.count(CLAUDE_USAGE) >= 2, what=lambda: f"the daemon's usage call in flight\n{d.log()}")
    beside = _once(dict(os.environ))  # joins the discovery in flight: its failure is this pass's
    assert beside.returncode == 0, beside.stdout + beside.stderr
    assert _told(beside.stderr) == want, beside.stderr
    assert f"pass run by bhogad (pid {d.proc.pid})" in beside.stdout
    assert d.stop() == 0
    assert_no_secrets(alone.stdout, alone.stderr, beside.stdout, beside.stderr, d.log())
    for h in (home, other):
        assert_no_secrets_in_files(h, skip=_planted(h))
