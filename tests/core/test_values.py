"""One home for lenient values, durations and window labels (`bhoga._values`), and everyone printing through it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bhoga._calibrate import calibrate, parse_retry_after
from bhoga._errorbody import read_error
from bhoga._model import ProviderQuota, QuotaWindow
from bhoga._routing import rank
from bhoga._values import (
    as_amount,
    as_float,
    from_epoch,
    human_duration,
    parse_iso,
    parse_time,
    retry_after_seconds,
    window_label,
)
from bhoga.cli._render import render_status
from tests.strategies import NOW


def test_human_duration_has_one_format() -> None:
    """Durations read '45s', '10m', '2h', '2h 5m', '3d', '3d 4h': two units, a zero second one left out."""
    spans = (45, 600, 7200, 7500, 7980, 259200, 273600, -5)
    assert [human_duration(s) for s in spans] == ["45s", "10m", "2h", "2h 5m", "2h 13m", "3d", "3d 4h", "0s"]
    assert human_duration(timedelta(hours=2, minutes=5, seconds=59)) == "2h 5m"


def test_window_labels() -> None:
    """Short labels for tables and reasons, long ones for chart titles: one table, "monthly" never "month"."""
    assert [window_label(n) for n in ("burst", "weekly", "monthly", "budget", "budget_weekly", "7m")] == [
        "5h",
        "7d",
        "monthly",
        "budget",
        "budget 7d",
        "7m",
    ]
    assert window_label("weekly", "opus") == "7d opus"
    assert window_label("weekly", "opus", long=True) == "weekly window (opus)"


def test_routing_reason_and_status_table_name_a_window_alike() -> None:
    """Copilot's monthly window is "monthly" in the routing reason and in the `bhoga status` table."""
    copilot = ProviderQuota(
        provider_id="github-copilot",
        windows=(QuotaWindow("monthly", 30.0, NOW + timedelta(days=3), 43200, "*", NOW),),
        credential=True,
    )
    reason = rank([copilot], "gpt-4.1", NOW)[0].reason
    assert "monthly window" in reason and "resets in 3d" in reason, reason
    answer = {
        "quotas": [
            {
                "provider_id": "github-copilot",
                "model": "*",
                "status": "ok",
                "credential": True,
                "windows": [
                    {
                        "name": "monthly",
                        "scope": "*",
                        "pct_used": 30.0,
                        "resets_at": (NOW + timedelta(days=3)).isoformat(),
                    }
                ],
            }
        ]
    }
    row = next(line for line in render_status(answer, from_daemon=False, now=NOW).splitlines() if "copilot" in line)
    assert " monthly " in row and "3d" in row, row


@pytest.mark.parametrize("value", [None, True, "", "x", "nan", "inf", float("-inf"), [], {}])
def test_garbage_is_no_value(value: object) -> None:
    """Nulls, bools, NaN, infinity and wrong types are no number and no time, never an exception."""
    assert as_float(value) is None and as_amount(value) is None
    assert from_epoch(value) is None and parse_iso(value) is None and parse_time(value) is None


def test_times_from_outside() -> None:
    """Epoch seconds and milliseconds are told apart by size; ISO text with Z or an offset is UTC; far dates: none."""
    assert parse_time(1_767_225_600) == parse_time(1_767_225_600_000) == datetime(2026, 1, 1, tzinfo=UTC)
    assert (
        parse_time("2026-01-01T01:00:00+01:00")
        == parse_time("2026-01-01T00:00:00Z")
        == datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert parse_iso("9999-12-31T00:00:00Z") is None and from_epoch(-1) is None and as_amount("-1") is None


def test_a_negative_retry_after_says_nothing_everywhere() -> None:
    """`retry-after: -5` is garbage to discovery and calibration alike (discovery used to read it as "retry now")."""
    assert retry_after_seconds("-5", NOW) is None and parse_retry_after("-5", NOW) is None
    assert retry_after_seconds("30", NOW) == 30.0
    assert retry_after_seconds("Thu, 01 Jan 1970 00:00:00 GMT", NOW) == 0.0


def test_header_and_body_ends_are_capped_alike() -> None:
    """A year's wait from a header or an error body is 31 days; zero is a second."""
    far = calibrate("openai_api", {"retry-after": str(365 * 86400)}, status_code=429, now=NOW).throttled_until
    body = read_error('{"error": {"type": "usage_limit_reached", "resets_in_seconds": 31536000}}', NOW).until
    assert far == body == NOW + timedelta(days=31)
    zero = calibrate("openai_api", {"retry-after": "0"}, status_code=429, now=NOW).throttled_until
    assert zero == NOW + timedelta(seconds=1)
