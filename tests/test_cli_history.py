"""`bhoga history`: the chart's values, its flip marks, its width, and the command on recorded history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bhoga._cli_history import Sample, render_history, series_value
from bhoga._flips import Flip, read_flips, record_flip
from bhoga._term import Style, strip_ansi

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
    burst = [Sample(NOW - 20 * H + i * 0.5 * H, (i * 7) % 100, None) for i in range(40)]
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
