"""GitHub Copilot discovery: token precedence, the ghp_ refusal, and copilot_internal/user on loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bhoga.discovery import check_quota, credential_report, discover
from bhoga.discovery._gate import gate_path
from bhoga.discovery.copilot import find_token, parse_copilot_user
from tests.discovery_helpers import (
    CLASSIC_PAT,
    COPILOT_TOKEN,
    assert_no_secrets,
    data_json,
    write_exe,
)
from tests.fakeserver import FakeServer, Reply

USER = "/copilot_internal/user"
NOW = datetime(2026, 9, 20, tzinfo=UTC)


def test_parse_premium_interactions() -> None:
    """percent_remaining 66.2 → monthly window 33.8 % used, reset at the reset date 00:00 UTC."""
    window, extra, note = parse_copilot_user(data_json("copilot_user.json"), NOW)
    assert window is not None and note == ""
    assert window.name == "monthly" and window.pct_used == pytest.approx(33.8)
    assert window.resets_at == datetime(2026, 10, 1, tzinfo=UTC)
    assert window.window_min == 30 * 1440 and ("plan", "individual") in extra


def test_parse_token_billing_placeholder_is_unknown() -> None:
    """Zero-entitlement placeholders of token-billed business seats are not headroom: no window, a note."""
    window, _, note = parse_copilot_user(data_json("copilot_user_business_token_billing.json"), NOW)
    assert window is None and "unknown" in note


@pytest.mark.parametrize(
    "obj",
    [
        None,
        {},
        {"quota_snapshots": None},
        {"quota_snapshots": {"premium_interactions": "x"}},
        {"quota_snapshots": {"premium_interactions": {"percent_remaining": None, "entitlement": 5}}},
    ],
)
def test_parse_garbage(obj: object) -> None:
    """Nulls and wrong shapes give no window."""
    assert parse_copilot_user(obj, NOW)[0] is None


def test_parse_unlimited_and_missing_reset() -> None:
    """Unlimited premium requests give no window; a missing reset date leaves resets_at None."""
    assert parse_copilot_user({"quota_snapshots": {"premium_interactions": {"unlimited": True}}}, NOW)[0] is None
    w = parse_copilot_user(
        {"quota_snapshots": {"premium_interactions": {"percent_remaining": 10, "entitlement": 300}}}, NOW
    )[0]
    assert w is not None and w.resets_at is None and w.pct_used == 90


def test_token_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    """COPILOT_GITHUB_TOKEN → GH_TOKEN → GITHUB_TOKEN."""
    monkeypatch.setenv("GITHUB_TOKEN", "github_pat_three")
    assert find_token(use_gh=False)[0].origin == "GITHUB_TOKEN"  # type: ignore[union-attr]
    monkeypatch.setenv("GH_TOKEN", "gho_two")
    assert find_token(use_gh=False)[0].origin == "GH_TOKEN"  # type: ignore[union-attr]
    monkeypatch.setenv("COPILOT_GITHUB_TOKEN", "ghu_one")
    token, notes = find_token(use_gh=False)
    assert token is not None and token.origin == "COPILOT_GITHUB_TOKEN" and notes == []
    assert "ghu_one" not in repr(token)


def test_classic_pat_refused_and_never_sent(
    online: FakeServer, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture
) -> None:
    """A ghp_ token is skipped with a clear note and never sent; the next variable is used instead."""
    monkeypatch.setenv("COPILOT_GITHUB_TOKEN", CLASSIC_PAT)
    obs = discover("github-copilot")
    assert obs.credential is False and "classic ghp_ token" in obs.note and "COPILOT_GITHUB_TOKEN" in obs.note
    assert online.count() == 0
    monkeypatch.setenv("GITHUB_TOKEN", COPILOT_TOKEN)
    online.route(USER, Reply(200, data_json("copilot_user.json")))
    obs = discover("github-copilot")
    assert obs.credential is True and "classic ghp_ token" in obs.note
    assert [r.headers["authorization"] for r in online.requests] == [f"token {COPILOT_TOKEN}"]
    assert all(CLASSIC_PAT not in str(r.headers) for r in online.requests)
    assert_no_secrets(logs.text, repr(obs))


def test_gh_auth_token_is_last(online: FakeServer, fake_bin: Path) -> None:
    """Without variables, `gh auth token` supplies the token; a ghp_ from gh is refused too."""
    write_exe(fake_bin, "gh", f"print({COPILOT_TOKEN!r})")
    online.route(USER, Reply(200, data_json("copilot_user.json")))
    assert discover("github-copilot").source == "copilot"
    assert online.requests[0].headers["authorization"] == f"token {COPILOT_TOKEN}"
    write_exe(fake_bin, "gh", f"print({CLASSIC_PAT!r})")
    assert "classic ghp_" in discover("github-copilot", force=True).note and online.count() == 1


def test_request_headers_and_window(online: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The request carries the editor headers; the observation holds the monthly window."""
    monkeypatch.setenv("GH_TOKEN", COPILOT_TOKEN)
    online.route(USER, Reply(200, data_json("copilot_user.json")))
    windows = check_quota("github-copilot")
    assert windows is not None and windows["monthly"].pct_used == pytest.approx(33.8)
    h = online.requests[0].headers
    assert h["editor-version"].startswith("vscode/") and h["x-github-api-version"] == "2025-04-01"
    assert h["accept"] == "application/json"


def test_rare_polling_and_last_good(online: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Copilot is asked at most once per 15 min; in between the last good answer is returned."""
    monkeypatch.setenv("GH_TOKEN", COPILOT_TOKEN)
    online.route(USER, Reply(200, data_json("copilot_user.json")))
    discover("github-copilot")
    again = discover("github-copilot")
    assert again.source == "last-good" and again.windows and online.count() == 1


@pytest.mark.parametrize(
    "reply,blocked",
    [
        (Reply(401, {"message": "Bad credentials"}), True),
        (Reply(404, {"message": "Not Found"}), True),
        (Reply(429, b"", {"retry-after": "120"}), True),
        (Reply(500, "<html/>"), False),
        (Reply(200, "<html>sign in</html>"), False),
    ],
)
def test_faults(
    online: FakeServer, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture, reply: Reply, blocked: bool
) -> None:
    """Auth errors and 429 block further forced calls; every fault gives no window and one warning."""
    monkeypatch.setenv("GH_TOKEN", COPILOT_TOKEN)
    online.route(USER, reply)
    assert check_quota("github-copilot") is None
    assert len([r for r in logs.records if r.levelname == "WARNING"]) == 1
    # Let the 15-minute interval pass (by hand, in the shared gate file): only the blocks remain.
    gate = gate_path()
    saved = json.loads(gate.read_text())
    saved["sources"]["copilot_user"].pop("next_at", None)
    gate.write_text(json.dumps(saved))
    discover("github-copilot", force=True)
    assert online.count() == (1 if blocked else 2)
    assert_no_secrets(logs.text)


def test_doctor_fact_names_kind_not_value(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """credential_report says where the token came from and its kind, never the token."""
    monkeypatch.setenv("GH_TOKEN", COPILOT_TOKEN)
    fact = next(f for f in credential_report() if f.provider_id == "github-copilot")
    assert fact.found is True and "GH_TOKEN" in fact.summary and "OAuth app" in fact.summary
    assert_no_secrets(repr(credential_report()))
