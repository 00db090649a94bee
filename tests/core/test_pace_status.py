"""`bhoga status` shows each window's pace, computed from the recorded history beside the state file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bhoga._history import HistoryStore, Point, history_path
from bhoga._model import ProviderQuota, QuotaWindow
from bhoga._state import StateStore


def _plant(state: Path, now: datetime) -> datetime:
    resets = now + timedelta(hours=3)
    w = QuotaWindow("burst", 40.0, resets, 300, "*", now, "oauth")
    weekly = QuotaWindow("weekly", 10.0, now + timedelta(days=3), 10080, "*", now, "oauth")
    StateStore(state).merge_and_save(
        {"claude_code": ProviderQuota("claude_code", windows=(w, weekly), credential=True)}
    )
    HistoryStore(history_path(state)).append(
        ("claude_code", "burst", Point(now - timedelta(minutes=m), 40.0 - m / 2, resets)) for m in (60, 40, 20)
    )
    return resets


def _status(home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["BHOGA_SOCKET"] = str(home / "no-daemon.sock")
    out = subprocess.run(
        [sys.executable, "-m", "bhoga", "status", *args], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_status_json_carries_pace_per_window(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """10 → 40 % in an hour is 30 %/h: the 5 h window runs out in 2 h, before its reset in 3 h; 7 d is unknown."""
    state = home / "state.json"
    monkeypatch.setenv("BHOGA_STATE", str(state))
    now = datetime.now(UTC)
    _plant(state, now)
    doc = json.loads(_status(home, "--json"))
    (claude,) = [q for q in doc["quotas"] if q["provider_id"] == "claude_code" and q["model"] == "*"]
    paces = {w["name"]: w["pace"] for w in claude["windows"]}
    assert paces["weekly"] == {"pct_per_hour": None, "runs_out_at": None}
    assert paces["burst"]["pct_per_hour"] == 30.0
    out = datetime.fromisoformat(paces["burst"]["runs_out_at"])
    assert abs((out - (now + timedelta(hours=2))).total_seconds()) < 60


def test_status_text_shows_when_it_runs_out(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The human status says the 5 h window runs out in about 2 h at this pace."""
    state = home / "state.json"
    monkeypatch.setenv("BHOGA_STATE", str(state))
    _plant(state, datetime.now(UTC))
    text = _status(home)
    assert "out in 1h 5" in text or "out in 2h" in text, text


@pytest.mark.slow
def test_daemon_status_carries_pace(home: Path, tmp_path: Path) -> None:
    """bhogad's `status` answer gives each window its pace from the history beside its state file."""
    from bhoga._paths import state_path
    from tests.fixtures_daemon import DaemonProc, request

    now = datetime.now(UTC)
    _plant(state_path(), now)
    daemon = DaemonProc(tmp_path / "bhogad.log")
    try:
        daemon.wait_ready()
        doc = request({"op": "status"})
    finally:
        daemon.kill()
    (claude,) = [q for q in doc["quotas"] if q["provider_id"] == "claude_code" and q["model"] == "*"]
    burst = next(w for w in claude["windows"] if w["name"] == "burst")
    assert burst["pace"]["pct_per_hour"] == 30.0
    assert burst["pace"]["runs_out_at"] is not None
