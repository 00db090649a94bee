"""The original bhoga README's quick start, run for real (minus the network): local quota files, a Router,
record_turn, apply_to_hermes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bhoga import Router, apply_to_hermes
from tests.discovery_helpers import write_claude_credentials, write_claude_json

ACCOUNT = "00000000-0000-4000-8000-0000000000a1"
ACCESS_TOKEN = "sk-ant-oat01-QUICKSTARTFAKETOKEN"


def plant_claude_code(home: Path, used_5h: float, used_7d: float) -> None:
    """A logged-in Claude Code whose own usage cache (fetched a minute ago) says how much is used."""
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    write_claude_credentials(home, token=ACCESS_TOKEN, refresh=None)
    usage = {
        "five_hour": {"utilization": used_5h, "resets_at": soon},
        "seven_day": {"utilization": used_7d, "resets_at": soon},
    }
    write_claude_json(home, usage, account=ACCOUNT, cache_account=ACCOUNT)


def test_quick_start(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Router() discovers Claude Code at 80 % left, a 429 on the API is recorded, and Hermes is pointed at the
    subscription with the user's comments kept."""
    plant_claude_code(home, used_5h=20, used_7d=10)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-QUICKSTARTFAKEKEY")
    (home / ".hermes").mkdir()
    config = home / ".hermes" / "config.yaml"
    config.write_text("# my Hermes settings\nmodel:\n  default: gpt-5.4  # chosen by hand\n  provider: openai-api\n")

    router = Router()  # background quota discovery starts immediately
    deadline = time.monotonic() + 30
    while router.best_for("claude-opus-4") is None and time.monotonic() < deadline:
        time.sleep(0.05)
    rec = router.best_for("claude-opus-4")
    assert rec is not None
    assert (rec.provider_id, rec.quota_pct, rec.hermes_model) == ("claude_code", 0.8, "claude-opus-4")

    router.record_turn(
        pid="anthropic_api",
        model="claude-opus-4",
        input_tokens=1200,
        output_tokens=800,
        headers={"retry-after": "30", "authorization": "Bearer sk-ant-api03-QUICKSTARTFAKEKEY"},
        status_code=429,
    )
    router.flush()
    statuses = {k: q.status for k, q in router.quotas().items()}
    assert statuses["anthropic_api:*"] == "throttled"

    assert apply_to_hermes(router, "claude-opus-4") is True
    text = config.read_text()
    assert "# my Hermes settings" in text and "provider: anthropic" in text and "default: claude-opus-4" in text
    assert apply_to_hermes(router, "claude-opus-4") is False  # nothing changed: not written again
    router.close()
    state = (home / ".cache" / "bhoga" / "state.json").read_text()
    assert "QUICKSTART" not in state and "QUICKSTART" not in text
