"""Pure parsers for Claude Code's quota sources, fed with the recorded sample payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bhoga.discovery.claude_parse import (
    keychain_account,
    keychain_service_names,
    parse_cached_usage,
    parse_cached_usage_bytes,
    parse_credentials,
    parse_usage,
    parse_usage_text,
)
from tests.discovery_helpers import data, data_json

NOW = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)


def by_key(windows: tuple) -> dict:  # type: ignore[type-arg]
    return {w.key: w for w in windows}


def test_usage_flat_windows_and_extra_usage() -> None:
    """five_hour → burst, seven_day → weekly, seven_day_sonnet → weekly@sonnet; extra_usage kept as facts."""
    windows, extra = parse_usage(data_json("claude_oauth_usage.json"), NOW)
    w = by_key(windows)
    assert set(w) == {"burst", "weekly", "weekly@sonnet"}
    assert (w["burst"].pct_used, w["burst"].window_min) == (48.0, 300)
    assert w["weekly"].pct_used == 64.0 and w["weekly"].window_min == 10080
    assert w["weekly@sonnet"].pct_used == 2.0
    assert w["burst"].resets_at == datetime(2026, 3, 2, 11, 0, 0, 521744, tzinfo=UTC)
    assert w["burst"].observed_at == NOW and w["burst"].source == "oauth"
    assert ("extra_usage", "enabled") in extra and ("extra_usage_monthly_limit", "1000") in extra


def test_usage_limits_array_preferred() -> None:
    """The 2026 `limits[]` entries are read, with weekly_scoped scoped by the model's family word."""
    windows, extra = parse_usage(data_json("claude_oauth_usage_limits.json"), NOW)
    w = by_key(windows)
    assert set(w) == {"burst", "weekly", "weekly@fable"}
    assert (w["burst"].pct_used, w["weekly"].pct_used, w["weekly@fable"].pct_used) == (11, 9, 5)
    assert ("extra_usage_utilization", "100") in extra and ("extra_usage_currency", "EUR") in extra


def test_usage_limits_win_over_flat_keys() -> None:
    """When limits[] and the flat keys disagree, limits[] wins (the flat keys can lag behind)."""
    obj = {
        "five_hour": {"utilization": 90, "resets_at": None},
        "limits": [
            {"kind": "session", "percent": 20, "resets_at": None},
            {"kind": "weekly_scoped", "percent": 7, "scope": {"model": {"display_name": "Opus 4.5"}}},
        ],
    }
    w = by_key(parse_usage(obj, NOW)[0])
    assert w["burst"].pct_used == 20 and w["weekly@opus"].pct_used == 7


def test_usage_nulls_and_opus() -> None:
    """Null resets and null windows are accepted; seven_day_opus becomes weekly@opus."""
    w = by_key(parse_usage(data_json("claude_oauth_usage_minimal_nulls.json"), NOW)[0])
    assert w["burst"].pct_used == 0.0 and w["burst"].resets_at is None
    assert w["weekly@opus"].pct_used == 0.0
    assert "weekly@sonnet" not in w


@pytest.mark.parametrize(
    "obj",
    [
        None,
        [],
        "x",
        3,
        {"five_hour": None},
        {"five_hour": {"utilization": "abc"}},
        {"five_hour": {"utilization": True}},
        {"limits": "x"},
        {"limits": [None, 1, {}]},
        {"extra_usage": None},
        {"five_hour": {"utilization": 10, "resets_at": "not a date"}},
    ],
)
def test_usage_garbage_is_no_window_not_an_error(obj: object) -> None:
    """Wrong types and nulls anywhere yield fewer windows, never an exception."""
    windows, _ = parse_usage(obj, NOW)
    assert all(w.resets_at is None for w in windows)
    assert len(windows) <= 1


def test_usage_clamps_percent() -> None:
    """Out-of-range percentages are clamped to 0–100."""
    w = by_key(parse_usage({"five_hour": {"utilization": 140}, "seven_day": {"utilization": -3}}, NOW)[0])
    assert (w["burst"].pct_used, w["weekly"].pct_used) == (100.0, 0.0)


def test_credentials_parse_and_expiry() -> None:
    """The claudeAiOauth login is read with its expiry (ms) and scopes; the token is not in repr."""
    creds = parse_credentials(data("claude_credentials_newer.json"))
    assert creds is not None
    assert creds.expires_at == datetime.fromtimestamp(1790000000, UTC)
    assert creds.scopes is not None and "user:profile" in creds.scopes and creds.can_read_usage
    assert creds.subscription_type == "pro"
    assert creds.access_token not in repr(creds)
    assert creds.expired(datetime.fromtimestamp(1790000001, UTC)) and not creds.expired(NOW - timedelta(days=400))


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"[]", b"null", b'{"claudeAiOauth": null}', b'{"claudeAiOauth": {"accessToken": ""}}']
)
def test_credentials_garbage(raw: bytes) -> None:
    """Empty, partial and wrong-shaped credentials read as "no login"."""
    assert parse_credentials(raw) is None


def test_credentials_mcp_only_keychain_item_is_not_a_login() -> None:
    """A Keychain item holding only mcpOAuth means "not logged in"."""
    assert parse_credentials(data("claude_keychain_mcp_only.json"), origin="keychain") is None


def test_credentials_without_expiry_count_as_expired() -> None:
    """A missing expiresAt is treated as expired; missing scopes are given the benefit of the doubt."""
    creds = parse_credentials(b'{"claudeAiOauth": {"accessToken": "sk-ant-oat01-x"}}')
    assert creds is not None and creds.expired(NOW) and creds.can_read_usage


def test_inference_only_token_cannot_read_usage() -> None:
    """A token without user:profile is known not to work for the usage endpoint."""
    creds = parse_credentials(b'{"claudeAiOauth": {"accessToken": "t", "expiresAt": 1, "scopes": ["user:inference"]}}')
    assert creds is not None and not creds.can_read_usage


def test_keychain_service_name_rule() -> None:
    """Hash suffix: first 8 hex of sha256(CLAUDE_CONFIG_DIR), the shared test vector; unsuffixed as fallback."""
    assert keychain_service_names({}) == ["Claude Code-credentials"]
    assert keychain_service_names({"CLAUDE_CONFIG_DIR": ""}) == ["Claude Code-credentials"]
    assert keychain_service_names({"CLAUDE_CONFIG_DIR": "/Users/test/.claude-work"}) == [
        "Claude Code-credentials-03abf0ee",
        "Claude Code-credentials",
    ]
    # CLAUDE_SECURESTORAGE_CONFIG_DIR wins when defined, even empty.
    assert keychain_service_names({"CLAUDE_SECURESTORAGE_CONFIG_DIR": "", "CLAUDE_CONFIG_DIR": "/x"}) == [
        "Claude Code-credentials"
    ]
    assert keychain_service_names({"CLAUDE_SECURESTORAGE_CONFIG_DIR": "/Users/test/.claude-work"})[0].endswith(
        "-03abf0ee"
    )


def test_keychain_account_rule() -> None:
    """$USER when it is a plain name, else claude-code-user."""
    assert keychain_account({"USER": "alice.b-1"}) == "alice.b-1"
    assert keychain_account({"USER": "a b"}) == "claude-code-user"
    assert keychain_account({}, "bob") == "bob"


def test_cached_usage_account_match() -> None:
    """The cache counts only for the account in oauthAccount; both absent compare equal, as in Claude."""
    doc = data_json("claude_dot_claude_json_cached_usage.json")
    cached = parse_cached_usage(doc)
    assert cached is not None and cached.fetched_at == datetime.fromtimestamp(1787188917.258, UTC)
    doc["oauthAccount"]["accountUuid"] = "someone-else"
    assert parse_cached_usage(doc) is None
    assert parse_cached_usage(data_json("claude.json.cachedUsageUtilization.json")) is not None
    assert parse_cached_usage({"cachedUsageUtilization": {"fetchedAtMs": 1, "utilization": {}}}) is not None
    assert parse_cached_usage({"cachedUsageUtilization": {"utilization": {}}}) is None
    assert parse_cached_usage("garbage") is None


def test_cached_usage_freshness_rule() -> None:
    """Fresh while 0 ≤ age ≤ 1 h; older or future-dated entries are not fresh."""
    cached = parse_cached_usage({"cachedUsageUtilization": {"fetchedAtMs": NOW.timestamp() * 1000, "utilization": {}}})
    assert cached is not None
    assert cached.fresh(NOW + timedelta(minutes=59)) and cached.fresh(NOW)
    assert not cached.fresh(NOW + timedelta(minutes=61))
    assert not cached.fresh(NOW - timedelta(seconds=5))


def test_usage_text_from_claude_p() -> None:
    """`claude -p "/usage"` lines become burst and weekly windows; a UTC reset is parsed."""
    w = by_key(parse_usage_text(data("claude_p_usage.online_fake.txt").decode(), NOW))
    assert (w["burst"].pct_used, w["weekly"].pct_used) == (37, 61)
    assert w["burst"].resets_at == datetime(2026, 11, 25, 22, 20, tzinfo=UTC)
    assert w["weekly"].resets_at == datetime(2026, 11, 28, 20, 20, tzinfo=UTC)
    assert w["burst"].source == "cli"


@pytest.mark.parametrize("name", ["claude_p_usage.oauth_offline_nocache.txt", "claude_p_usage.no_credentials.txt"])
def test_usage_text_without_numbers(name: str) -> None:
    """Output without usage lines (offline, logged out) yields no windows."""
    assert parse_usage_text(data(name).decode(), NOW) == ()


def test_usage_panel_variants() -> None:
    """The interactive panel layouts: label line then "N% used/remaining"; per-model weeks get a scope."""
    variants = data("claude_usage_panel_variants.txt").decode().split("\n=====\n")
    first = by_key(parse_usage_text(variants[0], NOW))
    assert set(first) == {"burst", "weekly", "weekly@sonnet"} and first["burst"].pct_used == 1
    second = by_key(parse_usage_text(variants[1], NOW))
    assert second["weekly@opus"].pct_used == 5 and second["weekly"].pct_used == 55
    third = by_key(parse_usage_text(variants[2], NOW))
    assert (third["burst"].pct_used, third["weekly"].pct_used) == (88, 60)  # "remaining" → used
    assert by_key(parse_usage_text(variants[3], NOW))["burst"].pct_used == 2


_USAGE = {"fetchedAtMs": 1787188917258, "accountUuid": "a", "utilization": {"five_hour": {"utilization": 46}}}
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["x", "y", "z"]), inner, max_size=3),
    max_leaves=4,
)


@st.composite
def _claude_docs(draw: st.DrawFn) -> dict[str, object]:
    """A .claude.json-like object: the two keys at the top, nested deeper, repeated, missing, or odd-valued."""
    doc: dict[str, object] = draw(st.dictionaries(st.sampled_from(["numStartups", "projects", "theme"]), _json_values))
    where = draw(st.sampled_from(["top", "nested", "both", "none"]))
    cache: object = draw(st.sampled_from([_USAGE, {**_USAGE, "accountUuid": "b"}, "text", None, [1, {"a": 2}]]))
    account: object = draw(st.sampled_from([{"accountUuid": "a"}, {"accountUuid": "b"}, {}, 3]))
    if where in ("top", "both"):
        doc["cachedUsageUtilization"] = cache
        doc["oauthAccount"] = account
    if where in ("nested", "both"):
        doc["projects"] = {"/p": {"cachedUsageUtilization": _USAGE, "oauthAccount": {"accountUuid": "a"}}}
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=_claude_docs(), indent=st.sampled_from([None, 1, 2, 4]))
def test_cached_usage_bytes_agrees_with_the_full_parse(doc: dict[str, object], indent: int | None) -> None:
    """Reading only the two top-level keys of a raw .claude.json gives the full parse's answer for any layout."""
    raw = json.dumps(doc, indent=indent).encode()
    assert parse_cached_usage_bytes(raw) == parse_cached_usage(doc)


def test_cached_usage_bytes_reads_the_sample_and_refuses_garbage() -> None:
    """The recorded Claude Code file is read without a full parse; empty, non-UTF-8 and non-objects give None."""
    raw = data("claude_dot_claude_json_cached_usage.json")
    assert parse_cached_usage_bytes(raw) == parse_cached_usage(json.loads(raw)) is not None
    # Cut off after the two keys (a writer caught mid-way): the full parse fails, so only the fast path reads it.
    cut = raw[: raw.rindex(b"}")]
    with pytest.raises(ValueError):
        json.loads(cut)
    assert parse_cached_usage_bytes(cut) == parse_cached_usage(json.loads(raw))
    for bad in (b"", None, b"\xff\xfe{", b"[1, 2]", b'{\n  "cachedUsageUtilization": {bro'):
        assert parse_cached_usage_bytes(bad) is None
