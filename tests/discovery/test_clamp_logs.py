"""Values from outside are clamped and logs stay readable (DESIGN §8.4): every throttle and reset at most 31
days ahead, an out-of-range date or number loses that value only, the log says the wait actually stored,
no raw control bytes reach a log line, and "token rejected" is not mistaken for a secret."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bhoga import Router
from bhoga._calibrate import calibrate
from bhoga.discovery import discover
from bhoga.discovery._common import log_failure
from bhoga.discovery.claude_parse import parse_usage
from bhoga.discovery.codex_parse import parse_wham
from bhoga.discovery.copilot import parse_copilot_user
from tests.discovery_helpers import write_claude_credentials
from tests.fakeserver import FakeServer, Reply

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MONTH = timedelta(days=31)
YEAR_3000 = "32503680000"  # epoch seconds


@pytest.mark.parametrize(
    ("pid", "status", "headers"),
    [
        ("anthropic_api", 429, {"retry-after": "999999999"}),
        ("anthropic_api", 200, {"anthropic-ratelimit-requests-remaining": "0",
                                "anthropic-ratelimit-requests-reset": "2999-01-01T00:00:00Z"}),
        ("openai_api", 200, {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "99999h"}),
        ("openai_api", 200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": YEAR_3000 + "000"}),
        ("claude_code", 200, {"anthropic-ratelimit-unified-status": "rejected",
                              "anthropic-ratelimit-unified-reset": YEAR_3000}),
        ("claude_code", 429, {"anthropic-ratelimit-unified-5h-status": "rejected",
                              "anthropic-ratelimit-unified-5h-utilization": "1.0",
                              "anthropic-ratelimit-unified-5h-reset": YEAR_3000}),
    ],
)  # fmt: skip
def test_every_throttle_from_headers_is_at_most_31_days(pid: str, status: int, headers: dict[str, str]) -> None:
    """429, a 200 with an empty bucket and a unified `rejected` all end at most 31 days from now."""
    obs = calibrate(pid, headers, status_code=status, now=NOW)
    assert obs.throttled_until is not None
    assert NOW < obs.throttled_until <= NOW + MONTH


def test_router_caps_resets_and_throttles_it_stores(tmp_path: Path) -> None:
    """Whatever an observation says, the Router keeps resets and throttle ends within 31 days."""
    with Router(state_path=tmp_path / "s.json", eager=False, daemon=False) as r:
        r.record_turn("claude_code", "claude-opus-4.6", headers={
            "anthropic-ratelimit-unified-5h-utilization": "0.5",
            "anthropic-ratelimit-unified-5h-reset": YEAR_3000,
            "anthropic-ratelimit-unified-status": "rejected",
            "anthropic-ratelimit-unified-reset": YEAR_3000,
        })  # fmt: skip
        r.flush()
        q = r.quotas()["claude_code:*"]
    now = datetime.now(UTC)
    assert q.throttled_until is not None and q.throttled_until <= now + MONTH
    assert all(w.resets_at is None or w.resets_at <= now + MONTH for w in q.windows)


def test_codex_out_of_range_reset_loses_that_value_only() -> None:
    """A `reset_after_seconds` of 1e300 is capped; the other window of the answer is kept as it was."""
    obj = {
        "plan_type": "plus",
        "rate_limit": {
            "primary_window": {"used_percent": 20, "limit_window_seconds": 18000, "reset_after_seconds": 1e300},
            "secondary_window": {"used_percent": 40, "limit_window_seconds": 604800, "reset_after_seconds": 3600},
        },
    }
    windows, _extra = parse_wham(obj, NOW)
    by_name = {w.name: w for w in windows}
    assert set(by_name) == {"burst", "weekly"}
    assert by_name["burst"].resets_at is not None and by_name["burst"].resets_at <= NOW + MONTH
    assert by_name["weekly"].resets_at == NOW + timedelta(hours=1)


@pytest.mark.parametrize("date", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00Z", "10000-01-01"])
def test_copilot_absurd_reset_date_keeps_the_window(date: str) -> None:
    """An impossible quota reset date drops the date, not the Copilot window."""
    obj = {
        "copilot_plan": "individual",
        "quota_reset_date_utc": date,
        "quota_snapshots": {"premium_interactions": {"percent_remaining": 60.0, "entitlement": 300}},
    }
    window, _extra, _note = parse_copilot_user(obj, NOW)
    assert window is not None and window.pct_used == pytest.approx(40.0)
    assert window.resets_at is None


def test_claude_absurd_reset_keeps_the_other_windows() -> None:
    """A five-hour reset in year 9999 with a negative offset loses its date; the weekly window is untouched."""
    obj = {
        "five_hour": {"utilization": 30.0, "resets_at": "9999-12-31T23:59:59-12:00"},
        "seven_day": {"utilization": 10.0, "resets_at": "2026-06-03T00:00:00+00:00"},
    }
    windows, _extra = parse_usage(obj, NOW, "oauth")
    by_name = {w.name: w for w in windows}
    assert by_name["burst"].pct_used == 30.0 and by_name["burst"].resets_at is None
    assert by_name["weekly"].resets_at == datetime(2026, 6, 3, tzinfo=UTC)


def test_claude_discovery_survives_an_absurd_reset_end_to_end(home: Path, online: FakeServer) -> None:
    """Through the real endpoint: the provider's discovery still yields its windows."""
    write_claude_credentials(home)
    online.route("/api/oauth/usage", Reply(200, {
        "five_hour": {"utilization": 30.0, "resets_at": "9999-12-31T23:59:59-12:00"},
        "seven_day": {"utilization": 10.0, "resets_at": "2099-01-01T00:00:00+00:00"},
    }))  # fmt: skip
    obs = discover("claude_code", force=True)
    assert {w.name for w in obs.windows} >= {"burst", "weekly"}, obs.note


def test_log_says_the_wait_stored_not_the_raw_one(
    home: Path, online: FakeServer, logs: pytest.LogCaptureFixture
) -> None:
    """A 429 asking for 10^9 s is logged as the 24 h the gate actually keeps."""
    write_claude_credentials(home)
    online.route("/api/oauth/usage", Reply(429, {"error": "slow down"}, {"retry-after": "1000000000"}))
    discover("claude_code", force=True)
    lines = [r.getMessage() for r in logs.records if "Claude usage endpoint" in r.getMessage()]
    assert any("waiting 86400s" in ln for ln in lines), lines
    assert not any("1000000000" in ln for ln in lines), lines


def test_token_rejected_is_not_masked(home: Path, online: FakeServer, logs: pytest.LogCaptureFixture) -> None:
    """A 401 is logged as "token rejected (expired or revoked)", readable, not as a masked secret."""
    write_claude_credentials(home)
    online.route("/api/oauth/usage", Reply(401, {"error": "invalid"}))
    discover("claude_code", force=True)
    text = "\n".join(r.getMessage() for r in logs.records)
    assert "HTTP 401: token rejected (expired or revoked)" in text, text
    assert "***" not in text


def test_log_lines_escape_raw_bytes_and_stay_bounded(caplog: pytest.LogCaptureFixture) -> None:
    """Control characters and terminal escapes from a server are escaped; the line is cut at 300 characters."""
    caplog.set_level(logging.WARNING)
    log = logging.getLogger("bhoga.discovery.test")
    log_failure(log, "Codex app-server", "error -1: \x1b[2J\x1b]0;pwned\x07\x00\r\nfake log line" + "x" * 1000)
    (msg,) = [r.getMessage() for r in caplog.records]
    assert "\x1b" not in msg and "\x00" not in msg and "\n" not in msg and "\r" not in msg and "\x07" not in msg
    assert "\\x1b[2J" in msg
    assert len(msg) < 340
