"""`bhoga history`: the chart's values, its flip marks, its width, and the command on recorded history."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bhoga._flips import Flip, read_flips, record_flip
from bhoga.cli._history import Sample, render_history, series_value
from bhoga.cli._term import Style, strip_ansi
from tests.fixtures_daemon import DaemonProc, request, wait_until, write_hermes

BHOGA = Path(sys.executable).with_name("bhoga")

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def test_a_slot_shows_its_peak_carries_the_last_reading_and_drops_at_the_reset() -> None:
    """Inside a slot the highest reading; between readings the last one; after its reset 0; before any, None."""
    samples = [Sample(NOW - 5 * H, 20, NOW - 2 * H), Sample(NOW - 4.5 * H, 35, NOW - 2 * H)]
    assert series_value(samples, NOW - 6 * H, NOW - 5.5 * H) is None
    assert series_value(samples, NOW - 5 * H, NOW - 4 * H) == 35
    assert series_value(samples, NOW - 3 * H, NOW - 2.5 * H) == 35
    assert series_value(samples, NOW - 1 * H, NOW) == 0.0


def test_chart_marks_flips_in_their_column_and_fits_80_columns() -> None:
    """Each flip is a ▲ under the column of its time and listed below; no line is wider than 80 columns."""
    burst = [Sample(NOW - 20 * H + i * 0.5 * H, (i * 7) % 100) for i in range(40)]
    flips = [Flip(NOW - 12 * H, "claude-opus-4.6", "anthropic_api", "x" * 300), Flip(NOW - 40 * H, "m", "p", "old")]
    for style in (Style(), Style(color=True)):
        out = render_history({("claude_code", "burst"): burst}, flips, days=1, now=NOW, style=style)
        lines = [strip_ansi(line) for line in out.splitlines()]
        assert max(len(line) for line in lines) <= 80, out
        marks = next(line for line in lines if "▲" in line and "└" in line)
        col = marks.index("▲") - marks.index("└") - 1
        assert abs(col - 36) <= 1  # 12 h ago out of 24 h over 73 columns
        assert marks.count("▲") == 1  # the flip 40 h ago is outside the day shown
        assert any(line.startswith("  ▲ ") and "→ anthropic_api" in line for line in lines)
        assert "claude_code · 5-hour window" in out


def test_ascii_chart_when_the_terminal_is_not_utf8() -> None:
    """Without UTF-8 the chart uses ASCII levels and ^ for flips."""
    out = render_history(
        {("openai-codex", "weekly"): [Sample(NOW - 10 * H, 50)]},
        [Flip(NOW - 5 * H, "gpt-5.4", "openai_api", "why")],
        days=1,
        now=NOW,
        style=Style(unicode=False),
    )
    assert "█" not in out and "@" in out and "^" in out


def test_flips_log_round_trip_and_skips_damaged_lines(home: object) -> None:
    """record_flip appends a line read_flips gives back; a torn line is skipped, not fatal."""
    from bhoga._flips import flips_path

    record_flip("claude-opus-4.6", "anthropic_api", "claude_code exhausted", at=NOW - H)
    with flips_path().open("a") as f:
        f.write('{"t": 1, "model": "cut')
    record_flip("claude-opus-4.6", "claude_code", "reset", at=NOW)
    got = read_flips()
    assert [(f.to, f.at) for f in got] == [("anthropic_api", NOW - H), ("claude_code", NOW)]
    assert read_flips(since=NOW - 0.5 * H)[0].to == "claude_code"


def _write_history(home: Path, rows: list[tuple[str, str, datetime, float, datetime | None]]) -> None:
    """Lines in the history file's own format (bhoga._history), as the Router's worker writes them."""
    path = home / ".cache" / "bhoga" / "state-history.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        for pid, key, at, used, resets in rows:
            r = resets.timestamp() if resets else None
            f.write(json.dumps({"p": pid, "w": key, "t": at.timestamp(), "u": used, "r": r}) + "\n")


def bhoga(*args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([str(BHOGA), *args], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def test_history_command_charts_recorded_windows_and_lists_flips(home: Path) -> None:
    """`bhoga history` charts every recorded window and lists flips; PROVIDER filters; --json has the points."""
    now = datetime.now(UTC)
    reset = now + 2 * H
    rows = [("claude_code", "burst", now - (10 - i) * H, 10.0 * i, reset) for i in range(10)]
    rows += [("openai-codex", "weekly", now - 5 * H, 40.0, now + 100 * H), ("openai-codex", "weekly", now - H, 44.0,
             now + 100 * H)]  # fmt: skip
    _write_history(home, rows)
    record_flip("claude-opus-4.6", "anthropic_api", "claude_code 5h window 4% < reserve 10%", at=now - 3 * H)
    out = bhoga("history").stdout
    assert "claude_code · 5-hour window  90% used now" in out, out
    assert "openai-codex · weekly window  44% used now" in out
    assert "▲" in out and "claude-opus-4.6 → anthropic_api" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    only = bhoga("history", "openai-codex").stdout
    assert "openai-codex" in only and "claude_code ·" not in only
    data = json.loads(bhoga("history", "--json", "--days", "0.2").stdout)
    burst = next(w for w in data["windows"] if w["provider_id"] == "claude_code")
    assert [p["pct_used"] for p in burst["points"]] == [60.0, 70.0, 80.0, 90.0]  # the last 4.8 hours
    assert data["flips"][0]["to"] == "anthropic_api"
    bad = bhoga("history", "--days", "30")
    assert bad.returncode == 2 and "history is kept for 7 days" in bad.stderr


def test_history_without_readings_says_so() -> None:
    """No history recorded yet: one line saying where the readings come from, exit 0."""
    r = bhoga("history")
    assert r.returncode == 0 and "No readings recorded yet" in r.stdout
    assert json.loads(bhoga("history", "--json").stdout) == {"ok": True, "days": 1.0, "windows": [], "flips": []}


@pytest.mark.slow
def test_a_real_bhogad_records_history_and_flips_that_history_charts(home: Path, tmp_path: Path) -> None:
    """Readings bhogad takes and the flip it makes show up in `bhoga history` (recorded by the real daemon)."""
    write_hermes(home, "anthropic", "claude-opus-4.6", codex_login=False)
    daemon = DaemonProc(tmp_path / "bhogad.log", env={"ANTHROPIC_API_KEY": "sk-ant-api03-FAKE-history"})
    try:
        daemon.wait_ready()
        request({"op": "set_quota", "pid": "claude_code", "pct_remaining": 0})
        wait_until(lambda: read_flips(), what="bhogad to record its flip")
        wait_until(lambda: "claude_code · 5-hour window  100% used now" in bhoga("history").stdout, what="a reading")
    finally:
        assert daemon.stop() == 0
    out = bhoga("history", "claude_code").stdout
    assert "→ anthropic_api" in out and "▲" in out, out
