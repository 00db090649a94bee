"""Whoever asks for discovery learns what failed (DESIGN §8.4, PROTOCOL `pass`): `Router.discover` returns one
readable line per failed source (an endpoint's error or timeout, an unreadable login file), with no traceback and
no secret, while each failure is still logged once. Real files in a temporary HOME, a real loopback HTTP server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bhoga._router import Router
from bhoga.discovery import discover
from tests.discovery_helpers import (
    assert_no_secrets,
    data_json,
    write_claude_credentials,
    write_codex_auth,
)
from tests.fakeserver import FakeServer, Reply

USAGE = "/api/oauth/usage"
WHAM = "/backend-api/wham/usage"


@pytest.fixture
def no_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No `claude`, `codex` or `gh` to fall back on: the sources named here are the only ones tried."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def _discover(home: Path) -> tuple[str, ...]:
    router = Router(state_path=home / "state.json", eager=False, daemon=False)
    try:
        return router.discover()
    finally:
        router.close()


def test_failed_endpoints_are_one_line_each(
    home: Path, online: FakeServer, no_cli: None, logs: pytest.LogCaptureFixture
) -> None:
    """A usage endpoint answering 500 and another the 5 s deadline cuts off: one line per source, naming the
    provider and why, no traceback, no secret; the log keeps its warnings."""
    write_claude_credentials(home)
    write_codex_auth(home)
    online.route(USAGE, Reply(500, {"error": {"message": "internal", "token": "sk-ant-oat01-TESTSECRETechoed"}}))
    online.route(WHAM, Reply(200, data_json("codex_wham_usage.json"), delay=30.0))
    failures = _discover(home)
    assert len(failures) == 2, failures
    claude, codex = sorted(failures)
    assert claude.startswith("claude_code: ") and "HTTP 500" in claude, claude
    assert codex.startswith("openai-codex: ") and "tim" in codex.lower(), codex
    assert all("\n" not in line and "Traceback" not in line for line in failures)
    assert_no_secrets(*failures, logs.text)
    warned = " ".join(r.getMessage() for r in logs.records if r.levelname == "WARNING")
    assert "HTTP 500" in warned


def test_sources_that_went_through_report_nothing(home: Path, online: FakeServer, no_cli: None) -> None:
    """Every endpoint answering: no failure lines at all (a skipped call or a missing login is no failure)."""
    write_claude_credentials(home)
    write_codex_auth(home)
    online.route(USAGE, Reply(200, data_json("claude_oauth_usage.json")))
    online.route(WHAM, Reply(200, data_json("codex_wham_usage.json")))
    assert _discover(home) == ()
    assert _discover(home) == ()  # the second run skips the calls (minimum interval): still nothing failed


def test_unreadable_login_file_is_named(home: Path, no_cli: None, logs: pytest.LogCaptureFixture) -> None:
    """A Claude login file that is there but cannot be read (a loop of symlinks here: it fails for root too) is a
    failure that names the file, not "no login found" alone; a missing one is no failure."""
    creds = home / ".claude" / ".credentials.json"
    creds.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(creds.name, creds)  # points at itself
    obs = discover("claude_code")
    (line,) = obs.failures
    assert str(creds) in line and "cannot read" in line, line
    creds.unlink()
    assert discover("claude_code").failures == ()
    assert "cannot read" in logs.text  # logged too (once per process)


def test_a_directory_for_a_login_file_is_named(home: Path, no_cli: None) -> None:
    """A directory where Claude's login file belongs (refused as not a regular file) is told to the asker."""
    creds = home / ".claude" / ".credentials.json"
    creds.mkdir(parents=True)
    failures = _discover(home)
    assert any(line.startswith("claude_code: ") and "not a regular file" in line for line in failures), failures


def test_a_skipped_call_is_no_news_and_a_new_login_that_answers_is(
    home: Path, online: FakeServer, no_cli: None
) -> None:
    """`discover_report`: a usage endpoint answering 500 is a failure; the next run, whose call the minimum interval
    skips, names no failure but counts the provider as unasked (no news); a new login that the endpoint answers is
    neither, and the other providers were never unasked."""
    write_claude_credentials(home)
    online.route(USAGE, Reply(500, {"error": "boom", "token": "sk-ant-oat01-TESTSECRETechoed"}))
    router = Router(state_path=home / "state.json", eager=False, daemon=False)
    try:
        failed = router.discover_report()
        assert failed.failed == (("claude_code", "Claude usage endpoint: HTTP 500"),) and not failed.unasked
        skipped = router.discover_report()
        assert skipped.failed == () and skipped.unasked == {"claude_code"}, skipped
        online.route(USAGE, Reply(200, data_json("claude_oauth_usage.json")))
        write_claude_credentials(home, expires_in=7200.0)  # a refreshed login: a new marker may skip the interval
        answered = router.discover_report(force=True)
        assert answered.failed == () and answered.unasked == frozenset(), answered
    finally:
        router.close()
    assert online.count(USAGE) == 2
    assert_no_secrets(*failed.lines())
