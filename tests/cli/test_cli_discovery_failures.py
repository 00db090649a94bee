"""`bhoga status`, `best` and `apply` without a daemon discover themselves and tell each source that failed in one
stderr line, in bhogad's words (`discovery failed: <pid>: <why>`), and in `--json` under `errors`; stdout stays
what scripts read, no token is echoed. `bhoga apply` into a config that stays empty writes nothing and says so in
one line. Real `bhoga` subprocesses, a temporary HOME, a real HTTP server on 127.0.0.1 for Claude's usage endpoint."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_cli import bhoga
from tests.discovery_helpers import CLAUDE_TOKEN, assert_no_secrets, write_claude_credentials
from tests.fakeserver import FakeServer, Reply

USAGE = "/api/oauth/usage"
OPENROUTER = "sk-or-v1-PLANTED-FAILURES-SECRET"


@pytest.fixture
def online(home: Path, tmp_path: Path) -> Iterator[FakeServer]:
    """Discovery allowed, Claude's API pointed at a local server, no `claude`/`codex`/`gh` to fall back on."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    saved = dict(os.environ)
    with FakeServer() as server:
        os.environ.pop("BHOGA_OFFLINE", None)
        os.environ["BHOGA_ANTHROPIC_BASE_URL"] = server.url
        os.environ["PATH"] = str(empty)
        try:
            yield server
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _loop(home: Path) -> Path:
    """Claude's login file as a loop of symlinks: there, but unreadable (for root too), at every run."""
    creds = home / ".claude" / ".credentials.json"
    creds.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(creds.name, creds)
    return creds


def _told(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "discovery failed" in line or ".credentials.json" in line]


def test_status_tells_a_failed_endpoint_once_and_keeps_stdout(home: Path, online: FakeServer) -> None:
    """Claude's usage endpoint answers 500 (its body echoing the token): `bhoga status` exits 0 with exactly one
    stderr line `bhoga: discovery failed: claude_code: Claude usage endpoint: HTTP 500` (the log's own copy held
    back), stdout free of it, and the token nowhere."""
    write_claude_credentials(home)
    online.route(USAGE, Reply(500, {"error": {"message": "internal", "token": CLAUDE_TOKEN}}))
    r = bhoga("status", "--no-color")
    assert r.returncode == 0, r.stderr
    assert online.count(USAGE) == 1
    told = [line for line in r.stderr.splitlines() if "usage endpoint" in line]
    assert told == ["bhoga: discovery failed: claude_code: Claude usage endpoint: HTTP 500"], r.stderr
    assert "discovery failed" not in r.stdout and "claude_code" in r.stdout
    assert_no_secrets(r.stdout, r.stderr)


def test_status_and_best_json_carry_errors_and_stdout_is_unchanged(home: Path, online: FakeServer) -> None:
    """An unreadable login file is one stderr line per command and one `errors` entry in `status --json` and
    `best --json`; stdout of `status` is exactly what it is when the file is simply missing."""
    creds = _loop(home)
    want = f"discovery failed: claude_code: cannot read {creds}: Too many levels of symbolic links"
    text = bhoga("status", "--no-color")
    assert text.returncode == 0 and _told(text.stderr) == ["bhoga: " + want], text.stderr
    status = bhoga("status", "--json")
    assert status.returncode == 0 and _told(status.stderr) == ["bhoga: " + want], status.stderr
    assert json.loads(status.stdout)["errors"] == [want]
    best = bhoga("best", "gpt-5.4", "--json", env=dict(os.environ, OPENROUTER_API_KEY=OPENROUTER))
    assert best.returncode == 0 and _told(best.stderr) == ["bhoga: " + want], best.stderr
    answer = json.loads(best.stdout)
    assert answer["errors"] == [want] and answer["source"] == "local" and answer["ok"] is True
    creds.unlink()
    missing = bhoga("status", "--no-color")
    assert missing.returncode == 0 and _told(missing.stderr) == [], missing.stderr
    assert missing.stdout == text.stdout
    assert json.loads(bhoga("status", "--json").stdout)["errors"] == []


def test_apply_tells_discovery_failures_too(home: Path, online: FakeServer) -> None:
    """`bhoga apply` discovers before it routes: the unreadable login is told on stderr, the apply still writes."""
    creds = _loop(home)
    cfg = home / ".hermes" / "config.yaml"
    cfg.parent.mkdir()
    cfg.write_text("model:\n  default: gpt-5.4\n  provider: openai-codex\n")
    r = bhoga("apply", "gpt-5.4", env=dict(os.environ, OPENROUTER_API_KEY=OPENROUTER))
    assert r.returncode == 0, r.stderr
    want = f"bhoga: discovery failed: claude_code: cannot read {creds}: Too many levels of symbolic links"
    assert _told(r.stderr) == [want], r.stderr
    assert "Hermes now uses openrouter" in r.stdout and "discovery failed" not in r.stdout
    assert_no_secrets(r.stdout, r.stderr)
    assert OPENROUTER not in r.stdout + r.stderr


def test_answers_from_bhogad_discover_nothing_here(home: Path, server: Path) -> None:
    """With bhogad answering, `status --json` and `best --json` run no discovery of their own: no failure lines
    for this HOME's unreadable login, and `errors` is bhogad's, empty here (that bhogad has run no discovery)."""
    _loop(home)
    status = bhoga("status", "--json")
    assert status.returncode == 0 and _told(status.stderr) == [], status.stderr
    assert json.loads(status.stdout)["errors"] == []
    best = bhoga("best", "claude-sonnet-4-6", "--json")
    assert _told(best.stderr) == [], best.stderr
    answer = json.loads(best.stdout)
    assert answer["source"] == "bhogad" and answer["errors"] == []


def test_apply_into_a_config_that_stays_empty_writes_nothing(home: Path) -> None:
    """An empty Hermes config (an editor's save that never finishes): `bhoga apply` exits 1 with one line naming the
    file, no traceback, and the file stays empty."""
    cfg = home / ".hermes" / "config.yaml"
    cfg.parent.mkdir()
    cfg.write_bytes(b"")
    r = bhoga("apply", "gpt-5.4", env=dict(os.environ, OPENROUTER_API_KEY=OPENROUTER))
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"bhoga: {cfg} is empty (being written?)"), r.stderr
    assert "still so after" in r.stderr and r.stdout == ""
    assert cfg.read_bytes() == b""
