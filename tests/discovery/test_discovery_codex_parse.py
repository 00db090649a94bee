"""Pure parsers for Codex CLI's quota sources, fed with the recorded sample payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bhoga.discovery.codex_parse import (
    jwt_claims,
    parse_app_server,
    parse_codex_auth,
    parse_rate_limits,
    parse_rollout_tail,
    parse_wham,
)
from tests.discovery_helpers import codex_access_token, data, data_json

NOW = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)


def by_key(windows: tuple) -> dict:  # type: ignore[type-arg]
    return {w.key: w for w in windows}


def test_rollout_current_shape() -> None:
    """The 0.169.0 token_count line: primary 300 min → burst, secondary 10080 → weekly, resets_at epoch s."""
    fams = parse_rollout_tail(data("rollout_token_count_event.jsonl"))
    when, rl = fams["codex"]
    assert when == datetime(2026, 11, 25, 20, 20, 50, 991000, tzinfo=UTC)
    w = by_key(parse_rate_limits(rl, when)[0])
    assert (w["burst"].pct_used, w["weekly"].pct_used) == (42.0, 17.0)
    assert w["burst"].resets_at == datetime.fromtimestamp(1795641622, UTC)
    assert w["burst"].observed_at == when and w["weekly"].window_min == 10080


def test_rollout_newest_event_per_family() -> None:
    """The newest event of each limit_id wins; a non-main family is scoped to its model name."""
    fams = parse_rollout_tail(data("codex_rollout.jsonl"))
    assert set(fams) == {"codex", "codex_bengalfox"}
    w = by_key(parse_rate_limits(fams["codex"][1], fams["codex"][0])[0])
    assert w["burst"].pct_used == 23.0  # the later of the two "codex" events
    windows, extra = parse_rate_limits(fams["codex_bengalfox"][1], fams["codex_bengalfox"][0])
    spark = by_key(windows)
    assert spark["weekly@gpt-5.3-codex-spark"].pct_used == 100.0
    assert ("limit_reached@gpt-5.3-codex-spark", "rate_limit_reached") in extra


def test_rollout_legacy_shapes() -> None:
    """0.4x `resets_in_seconds` (299/10079 min) and the oldest flat shape are both read."""
    lines = data("codex_rollout_legacy.jsonl").split(b"\n")
    when, rl = parse_rollout_tail(b"\n".join(lines[:6]))["codex"]
    w = by_key(parse_rate_limits(rl, when)[0])
    assert (w["burst"].window_min, w["weekly"].window_min) == (299, 10079)
    assert w["weekly"].pct_used == 7.0
    assert w["burst"].resets_at == when + timedelta(seconds=17387)
    when, flat = parse_rollout_tail(data("codex_rollout_legacy.jsonl"))["codex"]
    f = by_key(parse_rate_limits(flat, when)[0])
    assert (f["burst"].pct_used, f["weekly"].pct_used) == (12.5, 40.0)
    assert f["burst"].resets_at is None


def test_weekly_in_primary_slot_is_weekly() -> None:
    """Windows are classified by length: a 10080-min primary is weekly; a 0-min secondary is absent."""
    rl = {
        "limit_id": "codex",
        "primary": {"used_percent": 22, "window_minutes": 10080, "resets_at": 1790426679},
        "secondary": {"used_percent": 0, "window_minutes": 0, "resets_at": None},
    }
    assert list(by_key(parse_rate_limits(rl, NOW)[0])) == ["weekly"]


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"garbage\n{not json",
        b'{"type":"event_msg","payload":{"type":"token_count","rate_limits":null}}',
        b'{"timestamp":"bad","payload":{"type":"token_count","rate_limits":{}}}',
        b'{"timestamp":"2026-01-01T00:00:00Z","payload":{"type":"token_count","rate_limits":{"primary":null}}}',
    ],
)
def test_rollout_garbage(blob: bytes) -> None:
    """Partial, garbage and null-filled lines give no windows and no exception."""
    fams = parse_rollout_tail(blob)
    assert all(parse_rate_limits(rl, t)[0] == () for t, rl in fams.values())


def test_wham_usage() -> None:
    """wham/usage: windows by limit_window_seconds, per-model additional limits, plan and credits as facts."""
    windows, extra = parse_wham(data_json("codex_wham_usage.json"), NOW)
    w = by_key(windows)
    assert (w["burst"].pct_used, w["weekly"].pct_used) == (22, 43)
    assert w["weekly@gpt-5.3-codex-spark"].pct_used == 100
    assert w["burst"].resets_at == datetime.fromtimestamp(1766948068, UTC) and w["burst"].source == "wham"
    assert ("plan", "plus") in extra and ("credits_balance", "0") in extra


def test_wham_weekly_primary_and_reset_after() -> None:
    """Weekly in primary with a null secondary; reset_after_seconds is used when reset_at is missing."""
    obj = data_json("codex_wham_usage_weekly_primary.json")
    assert list(by_key(parse_wham(obj, NOW)[0])) == ["weekly"]
    del obj["rate_limit"]["primary_window"]["reset_at"]
    assert parse_wham(obj, NOW)[0][0].resets_at == NOW + timedelta(seconds=155800)


@pytest.mark.parametrize(
    "obj",
    [
        None,
        {},
        {"rate_limit": None},
        {"rate_limit": {"primary_window": "x"}},
        {"additional_rate_limits": [None, {"rate_limit": None}]},
    ],
)
def test_wham_nulls(obj: object) -> None:
    """Null windows and wrong shapes give no windows."""
    assert parse_wham(obj, NOW)[0] == ()


def test_app_server_result() -> None:
    """account/rateLimits/read: every family of rateLimitsByLimitId; windowDurationMins names them."""
    lines = [json.loads(x) for x in data("codex_app_server_rate_limits.jsonl").splitlines()]
    result = next(x["result"] for x in lines if x.get("id") == 3 and "result" in x)
    windows, extra = parse_app_server(result, NOW)
    w = by_key(windows)
    assert (w["burst"].pct_used, w["weekly"].pct_used, w["weekly@gpt-5.3-codex-spark"].pct_used) == (22, 43, 100)
    assert w["burst"].source == "app-server" and ("plan", "plus") in extra
    only_main = data_json("app_server_account_rateLimits_read.response.json")["result"]
    assert set(by_key(parse_app_server(only_main, NOW)[0])) == {"burst", "weekly"}
    assert parse_app_server({"rateLimits": None}, NOW) == ((), ())


def test_auth_modes() -> None:
    """ChatGPT mode reads token, account and plan; API-key mode has no plan windows; garbage is None."""
    auth = parse_codex_auth(data("codex_auth.json"))
    assert auth is not None and auth.mode == "chatgpt" and auth.plan == "plus"
    assert auth.account_id == "00000000-0000-4000-8000-00000000acc1"
    assert auth.expires_at == datetime.fromtimestamp(1768089600, UTC)
    assert auth.access_token not in repr(auth)
    api = parse_codex_auth(data("codex_auth_apikey.json"))
    assert api is not None and api.mode == "apikey" and api.access_token == ""
    assert parse_codex_auth(b"{") is None and parse_codex_auth(b"[]") is None


def test_auth_camel_case_tokens() -> None:
    """Old camelCase token keys are accepted."""
    tok = codex_access_token(2_000_000_000)
    auth = parse_codex_auth(json.dumps({"tokens": {"accessToken": tok, "accountId": "a"}}).encode())
    assert auth is not None and auth.mode == "chatgpt" and auth.account_id == "a" and auth.plan == "pro"


def test_jwt_claims_garbage() -> None:
    """A token that is not a JWT has no claims."""
    assert jwt_claims("nope") == {} and jwt_claims("a.!!!.c") == {}
