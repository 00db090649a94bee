"""bhogad remembers the models in use across a restart (bhoga._inuse): proved with real bhogad subprocesses, a
fake GitHub API on 127.0.0.1 and the real `bhoga` CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bhoga._paths import state_path
from tests.fakeserver import FakeServer, Reply
from tests.fixtures_daemon import DaemonProc, launch, request, wait_until

pytestmark = pytest.mark.slow

COPILOT_USER = "/copilot_internal/user"
GH_TOKEN = "gho_FAKEinuseCOPILOTtoken0123456789"
GEMINI = "gemini-2.5-pro"
GPT = "gpt-5.4"


def best(model: str) -> dict[str, Any]:
    """`bhoga best MODEL --json` as a user runs it."""
    args = [sys.executable, "-m", "bhoga", "best", model, "--json"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode in (0, 1), done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def copilot_ready(d: DaemonProc) -> bool:
    quotas = request({"op": "status"}).get("quotas") or []
    return any(q.get("provider_id") == "github-copilot" and q.get("credential_state") == "verified" for q in quotas)


def test_a_restarted_bhogad_keeps_copilot_for_gemini_asked_before_the_restart(
    tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """bhogad is asked for Gemini (Copilot, at 30 % left, is its only route) and restarted; the new bhogad, never
    asked for Gemini, still keeps Copilot for it: `bhoga best gpt-5.4` goes to the OpenAI API, where before
    Gemini was asked it went to Copilot."""
    now = datetime.now(UTC)
    copilot = {
        "copilot_plan": "individual",
        "quota_reset_date_utc": (now + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "quota_snapshots": {
            "premium_interactions": {"entitlement": 300, "percent_remaining": 30.0, "unlimited": False}
        },
    }
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    with FakeServer() as server:
        server.route(COPILOT_USER, Reply(200, copilot))
        monkeypatch.delenv("BHOGA_OFFLINE")
        monkeypatch.setenv("BHOGA_GITHUB_API_URL", server.url)
        monkeypatch.setenv("COPILOT_GITHUB_TOKEN", GH_TOKEN)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-FAKE-inuse-openai-0123456789")
        monkeypatch.setenv("PATH", str(empty_bin))  # no claude, codex or gh CLI to fall back on
        d = launch(start, tmp_path)
        wait_until(lambda: copilot_ready(d), what=lambda: f"Copilot verified\n{d.log()}")
        before = best(GPT)
        assert before["source"] == "bhogad" and before["recommendation"]["provider_id"] == "github-copilot", before
        asked = request({"op": "best", "model": GEMINI})
        assert asked["recommendation"]["provider_id"] == "github-copilot", asked
        assert d.stop() == 0
        assert GEMINI in json.loads(state_path().read_text())["models_in_use"]

        d = launch(start, tmp_path)
        wait_until(lambda: copilot_ready(d), what=lambda: f"Copilot verified again\n{d.log()}")
        after = best(GPT)
        assert d.stop() == 0
    assert after["source"] == "bhogad" and after["recommendation"]["provider_id"] == "openai_api", after
    assert f"kept for {GEMINI}" in after["recommendation"]["reason"]
    assert GH_TOKEN not in d.log()
