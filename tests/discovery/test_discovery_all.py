"""discover_all, check_quota and credential_report across providers; offline mode; the HTTP helper's
timeouts and caps; the call gate shared between processes."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bhoga._model import QuotaWindow
from bhoga.discovery import check_quota, credential_report, discover_all
from bhoga.discovery._gate import Gate
from bhoga.discovery._http import http_get
from tests.discovery_helpers import (
    API_KEY,
    COPILOT_TOKEN,
    assert_no_secrets,
    write_claude_credentials,
    write_claude_json,
    write_codex_auth,
)
from tests.fakeserver import FakeServer, Reply

NOW = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)


def test_one_observation_per_provider(home: Path) -> None:
    """discover_all returns exactly one observation for each provider, even with nothing installed."""
    found = discover_all()
    assert sorted(o.provider_id for o in found) == sorted(
        ["claude_code", "anthropic_api", "openai-codex", "openai_api", "github-copilot"]
    )
    assert all(o.windows == () for o in found)


def test_api_keys_are_credential_presence(monkeypatch: pytest.MonkeyPatch, online: FakeServer) -> None:
    """A set API key makes the metered provider a candidate; nothing is called; OpenRouter alone is noted."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("OPENROUTER_API_KEY", API_KEY)
    by = {o.provider_id: o for o in discover_all()}
    assert by["anthropic_api"].credential is True and by["openai_api"].credential is True
    assert ("route", "openrouter") in by["openai_api"].extra
    assert online.count() == 0
    assert check_quota("anthropic_api") is None
    assert_no_secrets(repr(by))


def test_offline_makes_not_one_request(home: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """BHOGA_OFFLINE=1 with every credential present and every cache stale: the server sees zero requests."""
    for var, suffix in (
        ("BHOGA_ANTHROPIC_BASE_URL", ""),
        ("BHOGA_CHATGPT_BASE_URL", "/backend-api"),
        ("BHOGA_GITHUB_API_URL", ""),
    ):
        monkeypatch.setenv(var, server.url + suffix)
    monkeypatch.setenv("GH_TOKEN", COPILOT_TOKEN)
    write_claude_credentials(home)
    write_claude_json(home, {"five_hour": {"utilization": 1}}, age=7200)
    write_codex_auth(home)
    discover_all(force=True)
    assert server.count() == 0
    monkeypatch.setenv("BHOGA_OFFLINE", "0")
    discover_all(force=True)
    assert server.count() == 3  # the same setup online reaches every endpoint once


def test_unknown_provider_is_a_value_error() -> None:
    """check_quota with an unknown id names the valid ones."""
    with pytest.raises(ValueError, match="claude_code"):
        check_quota("nope")


def test_credential_report_without_secrets(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Doctor facts cover every provider, say found/expired/missing, and contain no secret."""
    write_claude_credentials(home, expires_in=-60)
    write_codex_auth(home)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    facts = {f.provider_id: f for f in credential_report()}
    assert set(facts) == {"claude_code", "openai-codex", "github-copilot", "anthropic_api", "openai_api"}
    assert facts["claude_code"].found is True and "expired" in facts["claude_code"].summary
    assert "claude" in facts["claude_code"].fix
    assert facts["openai-codex"].found is True and "pro plan" in facts["openai-codex"].summary
    assert facts["github-copilot"].found is False and facts["github-copilot"].fix
    assert facts["openai_api"].found is True and facts["anthropic_api"].found is False
    assert_no_secrets(repr(facts))


def test_http_timeout_on_hung_server(online: FakeServer) -> None:
    """A server that never answers is given up after the timeout (status 0, a reason)."""
    online.route("/slow", Reply(200, {"a": 1}, delay=3))
    r = http_get(online.url + "/slow", {}, timeout=0.5)
    assert r.status == 0 and r.error


def test_http_dripping_body_bounded_by_total_deadline(online: FakeServer) -> None:
    """A body dripping 16 bytes every 0.2 s is abandoned once the total deadline passes."""
    online.route("/drip", Reply(200, b"x" * 4096, drip=0.2))
    t0 = time.monotonic()
    r = http_get(online.url + "/drip", {}, timeout=0.6)
    assert r.body == b"" and "timeout" in r.error
    assert time.monotonic() - t0 < 10  # bounded, not 50 s of dripping (generous for a loaded machine)


def test_http_caps_body_and_refuses_redirects(online: FakeServer) -> None:
    """Bodies over the cap are refused; a redirect is not followed (a token must not travel on)."""
    online.route("/big", Reply(200, b"y" * 5000))
    assert "larger" in http_get(online.url + "/big", {}, max_bytes=1000).error
    online.route("/moved", Reply(302, b"", {"Location": online.url + "/other"}))
    r = http_get(online.url + "/moved", {"Authorization": "Bearer x"})
    assert r.status == 302 and online.count("/other") == 0


def test_http_connection_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A closed port is status 0 with a reason, not an exception."""
    monkeypatch.delenv("BHOGA_OFFLINE")
    assert http_get("http://127.0.0.1:9/x", {}).status == 0
    assert http_get("file:///etc/passwd", {}).error == "unsupported URL scheme"


def test_gate_interval_and_force_only_for_a_new_login(tmp_path: Path) -> None:
    """One claim per interval; force skips the interval only for a new login (another credential marker),
    never for the same one, and never a server's retry-after."""
    gate = Gate(tmp_path / "g.json", interval=300)
    assert gate.claim("k", NOW) is None
    assert gate.claim("k", NOW + timedelta(seconds=299)) is not None
    assert gate.claim("k", NOW + timedelta(seconds=299), force=True) is not None
    assert gate.claim("k", NOW + timedelta(seconds=300)) is None
    assert gate.claim("k", NOW + timedelta(seconds=301), force=True, marker="login-2") is None
    assert gate.claim("k", NOW + timedelta(seconds=302), force=True, marker="login-2") is not None
    gate.retry_after("k", NOW, 7200)
    assert gate.claim("k", NOW + timedelta(hours=1), force=True) is not None
    assert Gate(tmp_path / "g.json").claim("k", NOW + timedelta(hours=2, seconds=1)) is None


def test_gate_retry_after_floor_and_auth_marker(tmp_path: Path) -> None:
    """retry-after 0 still waits a minute; an auth block lifts when the credential marker changes."""
    gate = Gate(tmp_path / "g.json")
    gate.retry_after("k", NOW, 0)
    assert gate.claim("k", NOW + timedelta(seconds=30), force=True) is not None
    assert gate.claim("k", NOW + timedelta(seconds=61), force=True) is None
    gate.auth_failed("a", NOW, "gen1")
    assert gate.claim("a", NOW, force=True, marker="gen1") is not None
    assert gate.claim("a", NOW, force=True, marker="gen2") is None


def test_gate_last_good_round_trip_and_garbage(tmp_path: Path) -> None:
    """The last good answer survives a reload; a garbage gate file is replaced, not fatal."""
    path = tmp_path / "g.json"
    w = QuotaWindow("burst", 12.5, NOW, 300, "*", NOW, "oauth")
    Gate(path).good("p", NOW, (w,), (("plan", "max"),))
    lg = Gate(path).last_good("p")
    assert lg is not None and lg.windows == (w,) and lg.extra == (("plan", "max"),) and lg.at == NOW
    path.write_text("{garbage")
    assert Gate(path).last_good("p") is None and Gate(path).claim("p", NOW) is None
    assert json.loads(path.read_text())["sources"]["p"]["last_call"] == NOW.timestamp()


def test_gate_shared_between_processes(tmp_path: Path) -> None:
    """A claim made in another process (under the same file lock) blocks this one."""
    path = tmp_path / "g.json"
    code = (
        "import sys; from datetime import datetime, UTC; from pathlib import Path; "
        "from bhoga.discovery._gate import Gate; "
        f"print(Gate(Path({str(path)!r})).claim('k', datetime.now(UTC)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "None"
    assert Gate(path).claim("k", datetime.now(UTC)) is not None


def test_unwritable_gate_refuses_calls(tmp_path: Path) -> None:
    """If the gate file cannot be written, no call is allowed (never hammer an endpoint blind)."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert Gate(blocker / "sub" / "g.json").claim("k", NOW) is not None


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a self-signed certificate")
def test_https_verifies_certificates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TLS verification is on: a self-signed loopback server is refused before any request (or token) is sent."""
    monkeypatch.delenv("BHOGA_OFFLINE")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-days",
            "1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    with FakeServer(tls=ctx) as srv:
        srv.route("/x", Reply(200, {"ok": True}))
        r = http_get(srv.url + "/x", {"Authorization": "Bearer sk-ant-oat01-TESTSECRET"})
        assert r.status == 0 and "CERTIFICATE" in r.error.upper()
        assert srv.count() == 0
