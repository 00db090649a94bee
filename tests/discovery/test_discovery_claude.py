"""Claude Code discovery end to end: real files in a temporary HOME, a real loopback HTTP server, fake
`claude` / `security` executables on PATH for the last-resort paths."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bhoga.discovery import check_quota, claude, discover
from bhoga.discovery._gate import Gate, gate_path
from bhoga.discovery.claude_parse import keychain_service_names
from tests.discovery_helpers import (
    CLAUDE_TOKEN,
    assert_no_secrets,
    assert_no_secrets_in_files,
    data,
    data_json,
    write_claude_credentials,
    write_claude_json,
    write_exe,
)
from tests.fakeserver import FakeServer, Reply

USAGE = "/api/oauth/usage"


def fake_claude(bin_dir: Path, home: Path, output: str, *, sleep: float = 0.0) -> Path:
    """A `claude` that records its argv to HOME/claude-argv.json and prints `output`."""
    marker = home / "claude-argv.json"
    body = (
        f"import json, sys, time\nopen({str(marker)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
        f"time.sleep({sleep})\nsys.stdout.write({output!r})\n"
    )
    write_exe(bin_dir, "claude", body)
    return marker


def test_fresh_cache_needs_no_network(home: Path, online: FakeServer) -> None:
    """A same-account cache younger than 1 h is the answer; the endpoint is not called."""
    write_claude_credentials(home)
    write_claude_json(home, data_json("oauth_usage_response.accepted.json"), age=120)
    obs = discover("claude_code")
    assert obs.source == "cache" and obs.credential is True
    w = {x.key: x for x in obs.windows}
    assert (w["burst"].pct_used, w["weekly"].pct_used, w["weekly@opus"].pct_used) == (37, 61, 12)
    assert w["burst"].source == "cache" and w["burst"].observed_at is not None
    assert (obs.at - w["burst"].observed_at).total_seconds() == pytest.approx(120, abs=5)
    assert ("plan", "max") in obs.extra
    assert online.count() == 0


def test_stale_cache_calls_endpoint_with_bearer(home: Path, online: FakeServer) -> None:
    """An hour-old cache sends one GET with the Bearer token and the oauth beta header, to the fake only."""
    write_claude_credentials(home)
    write_claude_json(home, {"five_hour": {"utilization": 1}}, age=3 * 3600)
    online.route(USAGE, Reply(200, data_json("claude_oauth_usage.json")))
    obs = discover("claude_code")
    assert obs.source == "oauth"
    assert {w.key: w.pct_used for w in obs.windows} == {"burst": 48, "weekly": 64, "weekly@sonnet": 2}
    [req] = online.requests
    assert req.path == USAGE and req.headers["authorization"] == f"Bearer {CLAUDE_TOKEN}"
    assert req.headers["anthropic-beta"] == "oauth-2025-04-20"


def test_at_most_one_call_per_interval_and_last_good(home: Path, online: FakeServer) -> None:
    """A second discovery within the interval makes no request and returns the last good answer with its age."""
    write_claude_credentials(home)
    online.route(USAGE, Reply(200, data_json("claude_oauth_usage.json")))
    assert discover("claude_code").source == "oauth"
    second = discover("claude_code")
    assert online.count(USAGE) == 1
    assert second.source == "last-good" and "last good answer is" in second.note
    assert {w.key for w in second.windows} == {"burst", "weekly", "weekly@sonnet"}
    # Forcing with the same login does not skip the interval (DESIGN §8.3); a new login (refreshed token) does.
    assert discover("claude_code", force=True).source == "last-good" and online.count(USAGE) == 1
    write_claude_credentials(home, expires_in=7200.0)
    forced = discover("claude_code", force=True)
    assert forced.source == "oauth" and online.count(USAGE) == 2


@pytest.mark.parametrize("retry_after", ["2895", "Wed, 21 Oct 2099 07:28:00 GMT"])
def test_429_retry_after_survives_processes(home: Path, online: FakeServer, retry_after: str) -> None:
    """429 + retry-after (seconds or HTTP-date) is persisted: even force and a new Gate do not call again."""
    write_claude_credentials(home)
    write_claude_json(home, data_json("oauth_usage_response.accepted.json"), age=2 * 3600)
    online.route(USAGE, Reply(429, {"error": {"type": "rate_limit_error"}}, {"retry-after": retry_after}))
    first = discover("claude_code")
    assert first.source == "cache" and "old" in first.note  # stale cache, labelled with its age
    again = discover("claude_code", force=True, gate=Gate(gate_path()))
    assert online.count(USAGE) == 1
    assert {w.key for w in again.windows} == {"burst", "weekly", "weekly@opus"}
    saved = json.loads(gate_path().read_text())
    assert saved["sources"]["claude_oauth"]["retry_until"] > first.at.timestamp() + 2000


def test_429_without_retry_after_uses_default_backoff(home: Path, online: FakeServer) -> None:
    """A bare 429 still backs off (default interval), even against force."""
    write_claude_credentials(home)
    online.route(USAGE, Reply(429, b""))
    assert discover("claude_code").windows == ()
    discover("claude_code", force=True)
    assert online.count(USAGE) == 1


def test_401_is_stale_credentials_and_not_retried(
    home: Path, online: FakeServer, logs: pytest.LogCaptureFixture
) -> None:
    """401 → "stale credentials" note, one log line, and the same token is not sent again even with force."""
    write_claude_credentials(home)
    online.route(USAGE, Reply(401, {"type": "error", "error": {"type": "authentication_error"}}))
    obs = discover("claude_code")
    assert "stale credentials" in obs.note and obs.credential is True and obs.windows == ()
    assert len([r for r in logs.records if r.levelname == "WARNING"]) == 1
    discover("claude_code", force=True)
    assert online.count(USAGE) == 1
    write_claude_credentials(home, expires_in=7200)  # Claude refreshed its login: a new token generation
    online.route(USAGE, Reply(200, data_json("claude_oauth_usage.json")))
    assert discover("claude_code", force=True).source == "oauth"


def test_403_scope_error(home: Path, online: FakeServer) -> None:
    """403 is reported as a permission/scope problem and backs off."""
    write_claude_credentials(home)
    online.route(USAGE, Reply(403, {"type": "error", "error": {"type": "permission_error"}}))
    assert "permission" in discover("claude_code").note
    discover("claude_code", force=True)
    assert online.count(USAGE) == 1


@pytest.mark.parametrize(
    "reply",
    [
        Reply(500, {"error": "boom"}),
        Reply(502, "<html>Bad gateway</html>"),
        Reply(200, "<html><body>login</body></html>"),
        Reply(200, b'{"five_hour": '),
        Reply(200, b"[1, 2]"),
        Reply(200, {"five_hour": None, "seven_day": None, "unknown": {"x": 1}}),
        Reply(200, b"x" * (2 * 1024 * 1024)),
    ],
    ids=["500", "502-html", "200-html", "truncated", "array", "all-null", "huge"],
)
def test_bad_answers_give_no_windows_and_one_log_line(
    home: Path, online: FakeServer, logs: pytest.LogCaptureFixture, reply: Reply
) -> None:
    """5xx, HTML, partial JSON, wrong shapes, nulls and huge bodies: no windows, no exception, one warning."""
    write_claude_credentials(home)
    online.route(USAGE, reply)
    assert check_quota("claude_code") is None
    warnings = [r for r in logs.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert_no_secrets(logs.text)


def test_expired_token_is_never_sent(home: Path, online: FakeServer) -> None:
    """An expired token is reported as stale credentials and not sent (and never refreshed)."""
    creds = write_claude_credentials(home, expires_in=-7200)
    before = creds.read_bytes()
    obs = discover("claude_code")
    assert "stale credentials" in obs.note and "expired 2h ago" in obs.note
    assert online.count() == 0 and creds.read_bytes() == before


def test_inference_only_token_not_sent(home: Path, online: FakeServer) -> None:
    """A token without user:profile is not sent to the usage endpoint."""
    write_claude_credentials(home, scopes=["user:inference"])
    assert "user:profile" in discover("claude_code").note
    assert online.count() == 0


def test_account_mismatch_cache_ignored(home: Path) -> None:
    """A cache written for another account is ignored, even when fresh."""
    write_claude_json(home, {"five_hour": {"utilization": 5}}, account="me", cache_account="someone-else")
    assert check_quota("claude_code") is None


@pytest.mark.parametrize("content", [b"", b"{", b"\x00\xff garbage", b"[]", b"null"])
def test_garbage_files_do_not_raise(home: Path, content: bytes, logs: pytest.LogCaptureFixture) -> None:
    """Empty, partial and garbage .claude.json / .credentials.json: None, at most one log line."""
    (home / ".claude").mkdir()
    (home / ".claude" / ".credentials.json").write_bytes(content)
    (home / ".claude.json").write_bytes(content)
    assert check_quota("claude_code") is None
    assert len([r for r in logs.records if r.levelno >= 30]) <= 1


def test_offline_makes_no_request_and_runs_no_cli(
    home: Path, server: FakeServer, fake_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BHOGA_OFFLINE=1: a usable token and a stale cache, yet zero requests and no `claude` run."""
    monkeypatch.setenv("BHOGA_ANTHROPIC_BASE_URL", server.url)
    write_claude_credentials(home)
    write_claude_json(home, {"five_hour": {"utilization": 3}}, age=5 * 3600)
    marker = fake_claude(fake_bin, home, data("claude_p_usage.online_fake.txt").decode())
    obs = discover("claude_code", force=True)
    assert obs.source == "cache" and "5h old" in obs.note
    assert server.count() == 0 and not marker.exists()


def test_cli_last_resort_without_token(home: Path, online: FakeServer, fake_bin: Path) -> None:
    """No readable token: `claude -p /usage` is run (no shell) and its text parsed."""
    marker = fake_claude(fake_bin, home, data("claude_p_usage.online_fake.txt").decode())
    obs = discover("claude_code")
    assert obs.source == "cli"
    assert {w.key: w.pct_used for w in obs.windows} == {"burst": 37, "weekly": 61}
    assert json.loads(marker.read_text()) == ["-p", "/usage"]
    assert online.count() == 0


def test_cli_after_401(home: Path, online: FakeServer, fake_bin: Path) -> None:
    """A rejected token falls through to the CLI at once (Claude refreshes its own login)."""
    write_claude_credentials(home)
    online.route(USAGE, Reply(401, {"type": "error"}))
    fake_claude(fake_bin, home, data("claude_p_usage.online_fake.txt").decode())
    obs = discover("claude_code")
    assert obs.source == "cli" and "stale credentials" in obs.note


def test_cli_timeout_is_killed(home: Path, online: FakeServer, fake_bin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hanging `claude` is killed after the timeout; discovery returns no windows."""
    monkeypatch.setattr(claude, "CLI_TIMEOUT", 0.5)
    fake_claude(fake_bin, home, "Current session: 1% used · resets x\n", sleep=30)
    assert discover("claude_code").windows == ()


def test_cli_printing_nothing_useful(home: Path, online: FakeServer, fake_bin: Path) -> None:
    """`claude -p /usage` offline or logged out prints no windows: none are invented."""
    fake_claude(fake_bin, home, data("claude_p_usage.oauth_offline_nocache.txt").decode())
    assert discover("claude_code").windows == ()


def test_macos_keychain_with_hashed_service(
    home: Path, online: FakeServer, fake_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On macOS the login comes from `security find-generic-password` under the hashed service name."""
    monkeypatch.setattr(sys, "platform", "darwin")
    cfg = home / "claude-work"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("USER", "tester")
    expected = keychain_service_names({"CLAUDE_CONFIG_DIR": str(cfg)})[0]
    creds = {"claudeAiOauth": {"accessToken": CLAUDE_TOKEN, "expiresAt": 4102444800000, "scopes": ["user:profile"]}}
    write_exe(
        fake_bin,
        "security",
        (
            "import sys\nargs = sys.argv[1:]\n"
            f"ok = args == ['find-generic-password', '-a', 'tester', '-s', {expected!r}, '-w']\n"
            f"print({json.dumps(creds)!r} if ok else 'not found')\nsys.exit(0 if ok else 44)\n"
        ),
    )
    online.route(USAGE, Reply(200, data_json("claude_oauth_usage.json")))
    obs = discover("claude_code")
    assert obs.source == "oauth" and obs.credential is True
    assert online.requests[0].headers["authorization"] == f"Bearer {CLAUDE_TOKEN}"


def test_no_secret_anywhere(
    home: Path, online: FakeServer, fake_bin: Path, capsys: pytest.CaptureFixture[str], logs: pytest.LogCaptureFixture
) -> None:
    """After success, 429, 401 and garbage paths, no token appears in logs, stdout/stderr or bhoga's files."""
    creds = write_claude_credentials(home)
    for reply in (
        Reply(200, data_json("claude_oauth_usage.json")),
        Reply(500, "<html>x</html>"),
        Reply(429, b"", {"retry-after": "1"}),
        Reply(401, {"e": CLAUDE_TOKEN}),
    ):
        online.route(USAGE, reply)
        obs = discover("claude_code", force=True, gate=Gate(gate_path()))
        assert_no_secrets(repr(obs))
        # Clear the 429 back-off by hand so the next fault can be served in the same test.
        saved = json.loads(gate_path().read_text())
        saved["sources"]["claude_oauth"].pop("retry_until", None)
        saved["sources"]["claude_oauth"].pop("next_at", None)
        gate_path().write_text(json.dumps(saved))
    out = capsys.readouterr()
    assert_no_secrets(logs.text, out.out, out.err)
    assert_no_secrets_in_files(home, skip=(creds,))
    assert online.count(USAGE) == 4


def test_keychain_not_touched_when_cache_is_fresh(
    home: Path, online: FakeServer, fake_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the Keychain can prompt on macOS: with a fresh cache `security` is not run at all."""
    monkeypatch.setattr(sys, "platform", "darwin")
    marker = home / "security-ran"
    write_exe(fake_bin, "security", f"open({str(marker)!r}, 'w').write('x')\nraise SystemExit(44)")
    write_claude_json(home, data_json("oauth_usage_response.accepted.json"), age=30)
    obs = discover("claude_code")
    assert obs.source == "cache" and obs.credential is None
    assert not marker.exists()
    write_claude_json(home, data_json("oauth_usage_response.accepted.json"), age=7200)
    discover("claude_code")
    assert marker.exists()  # a stale cache needs the token, so the Keychain is asked
