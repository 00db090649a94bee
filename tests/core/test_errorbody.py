"""Error bodies become throttles with the right end, the same as the response headers would give."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bhoga import calibrate
from bhoga._errorbody import read_error

DATA = json.loads((Path(__file__).parents[1] / "data" / "errors" / "cases.json").read_text())
NOW = datetime.fromisoformat(DATA["now"])
CASES: dict[str, dict[str, Any]] = DATA["cases"]


def _expected(expect: dict[str, Any] | None) -> datetime | None:
    if expect is None:
        return None
    if "seconds" in expect:
        return NOW + timedelta(seconds=expect["seconds"])
    return datetime.fromisoformat(expect["at"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_error_body_alone_gives_the_throttle_end(name: str) -> None:
    """Each recorded error shape, with no headers at all, throttles the provider until the end it names."""
    case = CASES[name]
    obs = calibrate(case["pid"], {}, status_code=case["status"], now=NOW, error=case["error"])
    assert obs.throttled_until == _expected(case["expect"])


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if "headers" in c))
def test_body_only_equals_headers_only(name: str) -> None:
    """A harness that only knows the error body gets the same throttle end as one that only has the headers."""
    case = CASES[name]
    by_headers = calibrate(case["pid"], case["headers"], status_code=case["status"], now=NOW)
    by_body = calibrate(case["pid"], {}, status_code=case["status"], now=NOW, error=case["error"])
    both = calibrate(case["pid"], case["headers"], status_code=case["status"], now=NOW, error=case["error"])
    assert by_body.throttled_until == by_headers.throttled_until == both.throttled_until


def test_limit_in_a_stream_error_without_http_status() -> None:
    """A usage limit reported with no HTTP status (599: an in-stream error) still throttles; a 2xx never does."""
    err = CASES["codex_usage_limit_seconds_only"]["error"]
    assert calibrate("openai-codex", {}, status_code=599, now=NOW, error=err).throttled_until == NOW + timedelta(
        seconds=3600
    )
    assert calibrate("openai-codex", {}, status_code=200, now=NOW, error=err).throttled_until is None
    plain = calibrate("openai-codex", {}, status_code=599, now=NOW, error="Connection reset by peer")
    assert plain.throttled_until is None


def test_far_resets_are_capped_at_31_days() -> None:
    """A reset years away loses only that value: the throttle is capped at 31 days from now."""
    err = '{"error":{"type":"usage_limit_reached","resets_in_seconds":999999999}}'
    assert read_error(err, NOW).until == NOW + timedelta(days=31)


def test_openrouter_body_headers_are_read_as_headers() -> None:
    """OpenRouter's metadata.headers reach the header parser (names lowercased, then filtered)."""
    hint = read_error(CASES["openrouter_free_per_day"]["error"], NOW)
    assert hint.limited and hint.headers["x-ratelimit-remaining"] == "0"


@given(st.text(max_size=600))
def test_any_text_never_raises(text: str) -> None:
    """Arbitrary error text never raises and never yields a throttle beyond 31 days."""
    hint = read_error(text, NOW)
    assert hint.until is None or NOW < hint.until <= NOW + timedelta(days=31)


@pytest.mark.parametrize(
    "text",
    [
        "{" * 5000,
        "Error code: 429 - {'a': " + "[" * 3000 + "}",
        "{'error': {'type': 'usage_limit_reached', 'resets_at': 1e400}}",
    ],
)
def test_hostile_bodies_are_harmless(text: str) -> None:
    """Deep nesting, huge numbers and broken literals give no hint or a capped one, never an exception."""
    hint = read_error(text, NOW)
    assert hint.until is None or hint.until <= NOW + timedelta(days=31)
