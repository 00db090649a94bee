"""Credentials as Hermes sees them (DESIGN §8.1): sources, states, and evidence no keyless process erases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bhoga._merge import combine, credential_state, from_observation
from bhoga._model import Observation, ProviderQuota, QuotaWindow
from bhoga._protocol import quota_to_json
from bhoga._router import Router
from bhoga._routing import rank, should_switch
from bhoga.discovery import discover_all

KEY = "sk-ant-api03-FAKEhermesENVkey0000"
NOW = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)


def _hermes_env(home: Path, text: str) -> None:
    d = home / ".hermes"
    d.mkdir(exist_ok=True)
    (d / ".env").write_text(text)


def test_key_in_hermes_env_makes_the_api_a_candidate(home: Path) -> None:
    """ANTHROPIC_API_KEY only in $HERMES_HOME/.env (dotenv syntax) makes anthropic_api a candidate, source
    hermes_env, and status JSON names the source, never the value."""
    _hermes_env(home, f"# keys for hermes\nexport ANTHROPIC_API_KEY='{KEY}'  \nOTHER=1\n")
    by = {o.provider_id: o for o in discover_all()}
    assert by["anthropic_api"].credential is True
    assert by["anthropic_api"].sources == ("hermes_env",)
    assert by["openai_api"].credential is False
    with Router(state_path=home / "s.json", eager=False, daemon=False, owner=True) as r:
        r.discover()
        assert r.ranked("claude-opus-4.6")[0].provider_id == "anthropic_api"
        entry = quota_to_json(r.quotas()["anthropic_api:*"])
    assert entry["credential_state"] == "verified" and entry["credential_sources"] == ["hermes_env"]
    assert KEY not in json.dumps(entry) and KEY not in (home / "s.json").read_text()


def test_keyless_router_never_erases_the_owners_key(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The owner saw the key; a later non-owner discovery in a shell without it leaves the key known."""
    state = home / "s.json"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-FAKEownerKEY000000")
    with Router(state_path=state, eager=False, daemon=False, owner=True) as owner:
        owner.discover()
    monkeypatch.delenv("OPENAI_API_KEY")
    with Router(state_path=state, eager=False, daemon=False, owner=False) as keyless:
        keyless.discover()
        assert keyless.quotas()["openai_api:*"].credential is True
    with Router(state_path=state, eager=False, daemon=False, owner=True) as owner:
        assert owner.ranked("gpt-5.5")[0].provider_id == "openai_api"
        owner.discover()  # the owner itself no longer sees it: now it is absent
        assert owner.ranked("gpt-5.5") == ()
        assert credential_state(owner.quotas()["openai_api:*"]) == "absent"


def _copilot(verdict: str = "", sources: tuple[str, ...] = ("env",), marker: str = "a") -> ProviderQuota:
    w = QuotaWindow("monthly", 10.0, NOW + timedelta(days=1), 43200, "*", NOW, "copilot")
    obs = Observation("github-copilot", NOW, (w,), credential=True, sources=sources, verdict=verdict, marker=marker)
    return from_observation(obs)


def _claude(used: float) -> ProviderQuota:
    w = QuotaWindow("burst", used, NOW + timedelta(hours=3), 300, "*", NOW, "oauth")
    return from_observation(Observation("claude_code", NOW, (w,), credential=True, sources=("claude_login",)))


def test_unverified_github_token_ranks_after_verified_and_is_never_chosen() -> None:
    """A GitHub token Copilot never accepted ranks after a verified subscription even below its reserve."""
    ranked = rank([_copilot(), _claude(95.0)], "claude-sonnet-4.6", NOW)
    assert [r.provider_id for r in ranked] == ["claude_code", "github-copilot"]
    assert "not yet accepted" in ranked[1].reason
    assert should_switch("github-copilot", [_copilot(), _claude(95.0)], "claude-sonnet-4.6", NOW)[0]
    # Verified by the endpoint, or by a Copilot login in Hermes' auth store: ranked on its quota again.
    for q in (_copilot("verified"), _copilot(sources=("hermes_auth",))):
        assert rank([q, _claude(95.0)], "claude-sonnet-4.6", NOW)[0].provider_id == "github-copilot"
        assert credential_state(q) == "verified"
    assert credential_state(_copilot()) == "unverified"


def test_rejected_until_the_credential_changes() -> None:
    """A 401 turn rejects the key in use; the same key stays rejected, another key starts over."""
    key_a = from_observation(
        Observation("anthropic_api", NOW, credential=True, sources=("env",), marker="fp-a", source="env")
    )
    turn_401 = from_observation(Observation("anthropic_api", NOW + timedelta(seconds=1), verdict="rejected"))
    q = combine(key_a, turn_401)
    assert credential_state(q) == "rejected"
    assert rank([q], "claude-opus-4.6", NOW) == ()
    same_again = Observation(
        "anthropic_api", NOW + timedelta(seconds=2), credential=True, sources=("env",), marker="fp-a"
    )
    assert credential_state(combine(q, from_observation(same_again))) == "rejected"
    other = Observation("anthropic_api", NOW + timedelta(seconds=3), credential=True, sources=("env",), marker="fp-b")
    q2 = combine(q, from_observation(other))
    assert credential_state(q2) == "verified"
    assert rank([q2], "claude-opus-4.6", NOW)[0].provider_id == "anthropic_api"


def test_drain_soonest_anti_flap_speaks_reset_time() -> None:
    """Under drain-soonest, Copilot 42 % resetting in 1 day beats Claude Code 50 % resetting in 4 days; a reset
    sooner by less than the margin's share of the time left is no reason to move."""

    def sub(pid: str, used: float, days: float) -> ProviderQuota:
        name = "monthly" if pid == "github-copilot" else "weekly"
        w = QuotaWindow(name, used, NOW + timedelta(days=days), 0, "*", NOW, "t")
        return ProviderQuota(pid, windows=(w,), credential=True, verdict="verified")

    qs = [sub("claude_code", 50.0, 4), sub("github-copilot", 58.0, 1)]
    switch, why = should_switch("claude_code", qs, "claude-sonnet-4.6", NOW, policy="drain-soonest")
    assert switch and "drain-soonest" in why, why
    assert not should_switch("claude_code", qs, "claude-sonnet-4.6", NOW, policy="headroom")[0]
    close = [sub("claude_code", 50.0, 4), sub("github-copilot", 58.0, 3.8)]
    switch, why = should_switch("claude_code", close, "claude-sonnet-4.6", NOW, policy="drain-soonest")
    assert not switch and "within" in why, why
