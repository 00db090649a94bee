"""Header calibration: every provider's rate-limit headers, recorded samples, and garbage that never raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bhoga import calibrate, mark_throttled
from bhoga._calibrate import filter_headers, parse_go_duration, parse_retry_after
from tests.strategies import NOW

DATA = Path(__file__).parents[1] / "data" / "core"


def blocks(name: str) -> list[tuple[int, dict[str, str]]]:
    """The header blocks of a recorded sample file: (status, headers) per `HTTP/2 NNN` block."""
    out: list[tuple[int, dict[str, str]]] = []
    for line in (DATA / name).read_text().splitlines():
        if line.startswith("# Block") or (line.startswith("HTTP/") and (not out or out[-1][1])):
            out.append((200, {}))
        if line.startswith("HTTP/"):
            out[-1] = (int(line.split()[1]), out[-1][1])
        elif out and ":" in line and not line.startswith(("#", "{")):
            k, v = line.split(":", 1)
            out[-1][1][k.strip()] = v.strip()
    return [b for b in out if b[1]]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6m0s", 360.0),
        ("1m19.2s", 79.2),
        ("12ms", 0.012),
        ("0", 0.0),
        ("0s", 0.0),
        ("1h2m3s", 3723.0),
        ("17.2s", 17.2),
        ("250us", 0.00025),
        ("3µs", 3e-6),
        ("1s", 1.0),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    """OpenAI's Go-style reset durations parse to seconds (ms is tried before m)."""
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "bad", "6m0", "-1s", "1x", "m", "nan", "2026-01-01T00:00:00Z", None])
def test_go_duration_garbage_is_none(text: str | None) -> None:
    """Anything that is not a Go duration gives None, never a date and never an exception."""
    assert parse_go_duration(text) is None


def test_retry_after_seconds_and_http_date() -> None:
    """retry-after is seconds or an HTTP-date; 0 still gives a short floor; garbage gives None."""
    assert parse_retry_after("30", NOW) == NOW + timedelta(seconds=30)
    assert parse_retry_after("0", NOW) == NOW + timedelta(seconds=1)
    assert parse_retry_after("Wed, 25 Nov 2026 14:00:00 GMT", NOW) == datetime(2026, 11, 25, 14, tzinfo=UTC)
    for bad in ("soon", "-5", "nan", "inf", "", "Wed, 99 Foo"):
        assert parse_retry_after(bad, NOW) is None


def test_openai_sample_blocks() -> None:
    """OpenAI's documented headers give no throttle; an empty token bucket throttles for its Go-duration reset."""
    ok = [calibrate("openai_api", h, status_code=s, now=NOW) for s, h in blocks("openai_headers.txt") if s == 200]
    assert ok and all(o.throttled_until is None and o.credential for o in ok)
    empty = calibrate("openai_api", {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s"}, now=NOW)
    assert empty.throttled_until == NOW + timedelta(minutes=6)
    assert empty.windows == ()


def test_openai_429_sample() -> None:
    """A recorded OpenAI 429 throttles the provider."""
    for status, h in blocks("openai_headers.txt"):
        if status == 429:
            assert calibrate("openai_api", h, status_code=429, now=NOW).throttled_until is not None


def test_unified_headers_are_fractions_with_epoch_resets() -> None:
    """Unified utilization 0.35 means 35 % used; resets are epoch seconds; per-model sonnet window is scoped."""
    _, h = blocks("anthropic_headers_unified.txt")[1]
    obs = calibrate("claude_code", h, now=NOW)
    got = {w.key: (w.pct_used, w.resets_at) for w in obs.windows}
    assert got["burst"] == (pytest.approx(35.0), datetime.fromtimestamp(1790814600, UTC))
    assert got["weekly"][0] == pytest.approx(85.0)
    assert got["weekly@sonnet"][0] == pytest.approx(2.0)
    assert obs.throttled_until is None and obs.succeeded


def test_unified_rejected_is_a_throttle() -> None:
    """A 429 with unified status 'rejected' throttles until retry-after."""
    status, h = blocks("anthropic_headers_unified.txt")[2]
    obs = calibrate("claude_code", h, status_code=status, now=NOW)
    assert obs.throttled_until == NOW + timedelta(seconds=3600)
    assert any(w.name == "burst" and w.pct_used == 100.0 for w in obs.windows)


def test_rejected_status_without_429_still_throttles() -> None:
    """'rejected' on a window throttles until that window's reset even on a 200."""
    reset = NOW + timedelta(hours=3)
    h = {
        "anthropic-ratelimit-unified-5h-status": "rejected",
        "anthropic-ratelimit-unified-5h-reset": str(int(reset.timestamp())),
    }
    assert calibrate("claude_code", h, now=NOW).throttled_until == reset


def test_anthropic_api_key_buckets_only_throttle() -> None:
    """API-key buckets never become windows; an empty bucket throttles until its RFC 3339 reset."""
    for status, h in blocks("anthropic_headers_api.txt"):
        obs = calibrate("anthropic_api", h, status_code=status, now=NOW)
        assert obs.windows == ()
        assert (obs.throttled_until is not None) == (status == 429)
    h = {"anthropic-ratelimit-tokens-remaining": "0", "anthropic-ratelimit-tokens-reset": "2026-11-25T12:00:40Z"}
    assert calibrate("anthropic_api", h, now=NOW).throttled_until == NOW + timedelta(seconds=40)


def test_openrouter_epoch_millisecond_reset() -> None:
    """OpenRouter's X-RateLimit-Reset is epoch milliseconds."""
    _, h = blocks("openrouter_429.txt")[0]
    h.pop("retry-after", None)
    reset = NOW + timedelta(hours=2)
    obs = calibrate(
        "openai_api", {**h, "X-RateLimit-Reset": str(int(reset.timestamp() * 1000))}, status_code=429, now=NOW
    )
    assert obs.throttled_until == reset


def test_codex_windows_by_length_not_slot() -> None:
    """A weekly window arriving in the primary slot is named weekly; an empty secondary slot is ignored."""
    status, h = blocks("codex_headers.txt")[0]
    obs = calibrate("openai-codex", h, status_code=status, now=NOW)
    assert [(w.name, w.pct_used, w.window_min) for w in obs.windows] == [("weekly", 22.0, 10080)]


def test_codex_family_windows_are_scoped() -> None:
    """Per-family x-codex-<family>-* windows bind the models named by their limit name."""
    _, h = blocks("codex_headers.txt")[1]
    obs = calibrate("openai-codex", h, now=NOW)
    keys = {w.key for w in obs.windows}
    assert keys == {"burst", "weekly", "burst@gpt-5.3-codex-spark"}


def test_codex_429_sets_throttle_from_retry_after() -> None:
    """The Codex usage-limit 429 throttles for retry-after seconds."""
    status, h = blocks("codex_headers.txt")[2]
    assert calibrate("openai-codex", h, status_code=status, now=NOW).throttled_until == NOW + timedelta(hours=2)


def test_header_names_are_case_insensitive() -> None:
    """Mixed-case names are read like lowercase ones."""
    obs = calibrate("claude_code", {"Anthropic-RateLimit-Unified-5H-Utilization": "0.5"}, now=NOW)
    assert obs.windows[0].pct_used == 50.0


def test_metered_provider_never_gets_subscription_windows() -> None:
    """Unified headers passed with an API provider id do not create rankable windows."""
    assert calibrate("anthropic_api", {"anthropic-ratelimit-unified-5h-utilization": "0.5"}, now=NOW).windows == ()


def test_401_marks_the_credential_rejected_not_absent() -> None:
    """A 401/403 says the credential was rejected (it is still there); a 2xx says it works."""
    for code in (401, 403):
        obs = calibrate("anthropic_api", {}, status_code=code, now=NOW)
        assert obs.credential is None and obs.verdict == "rejected"
    ok = calibrate("anthropic_api", {}, status_code=200, now=NOW)
    assert ok.credential is True and ok.verdict == "verified"


def test_mark_throttled_precedence() -> None:
    """retry-after beats a window reset, which beats the default back-off."""
    assert mark_throttled("openai_api", {"retry-after": "5"}, now=NOW).throttled_until == NOW + timedelta(seconds=5)
    h = {
        "x-codex-primary-used-percent": "100",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-at": str(int((NOW + timedelta(hours=3)).timestamp())),
    }
    assert mark_throttled("openai-codex", h, now=NOW).throttled_until == NOW + timedelta(hours=3)
    assert mark_throttled("openai_api", None, now=NOW).throttled_until == NOW + timedelta(seconds=60)


def test_filter_headers_drops_secrets() -> None:
    """Only rate-limit headers survive; authorization, cookies and keys never do."""
    h = {
        "Authorization": "Bearer sk-ant-oat01-SECRET",
        "x-api-key": "sk-SECRET",
        "Cookie": "s=SECRET",
        "Retry-After": "3",
        "x-ratelimit-remaining-tokens": "9",
        "openai-organization": "org-SECRET",
    }
    assert filter_headers(h) == {"retry-after": "3", "x-ratelimit-remaining-tokens": "9"}
    assert filter_headers([("x-codex-plan-type", "pro"), ("set-cookie", "x")]) == {"x-codex-plan-type": "pro"}
    assert filter_headers(42) == {}
    assert filter_headers(None) == {}


hostile_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "nan",
            "NaN",
            "-1",
            "-0",
            "inf",
            "1e309",
            "0x10",
            "6m0s",
            "   ",
            "Wed, 21 Oct 2026 07:28:00 GMT",
            "1" * 400,
            "True",
            "\x00",
        ]
    ),
)
hostile_names = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "retry-after",
            "anthropic-ratelimit-unified-5h-utilization",
            "anthropic-ratelimit-unified-5h-reset",
            "anthropic-ratelimit-unified-7d-status",
            "x-ratelimit-remaining-tokens",
            "x-ratelimit-reset-tokens",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
            "x-codex-primary-used-percent",
            "x-codex-primary-window-minutes",
            "x-codex-primary-reset-at",
            "x-codex-a-secondary-used-percent",
            "x-codex-a-secondary-window-minutes",
            "anthropic-ratelimit-tokens-remaining",
            "retry-after-ms",
        ]
    ),
)


@given(
    st.dictionaries(hostile_names, hostile_values, max_size=12),
    st.sampled_from(["claude_code", "openai-codex", "openai_api", "anthropic_api", "github-copilot", "bogus"]),
    st.integers(min_value=-1, max_value=999),
)
def test_arbitrary_headers_never_raise(headers: dict[str, str], pid: str, status: int) -> None:
    """Any header dict, status and provider id gives an observation with sane values and no exception."""
    obs = calibrate(pid, headers, status_code=status, now=NOW)
    for w in obs.windows:
        assert 0.0 <= w.pct_used <= 100.0
    if obs.throttled_until is not None:
        assert NOW < obs.throttled_until <= NOW + timedelta(days=31)
    mark_throttled(pid, headers, now=NOW)


@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.lists(st.integers()),
        st.lists(st.tuples(st.integers(), st.text())),
        st.dictionaries(st.integers(), st.integers()),
    )
)
def test_odd_header_containers_never_raise(headers: object) -> None:
    """Headers that are not a mapping of strings are ignored, not fatal."""
    calibrate("claude_code", headers, status_code=429, now=NOW)
