"""Protocol v1 parsing and the JSON shapes of quotas and recommendations (bhoga._protocol)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bhoga._model import ProviderQuota, ProviderStatus, QuotaWindow, RouterRecommendation
from bhoga._protocol import (
    MAX_LINE,
    ApplyRequest,
    BestRequest,
    PauseRequest,
    PingRequest,
    PinRequest,
    Request,
    ResumeRequest,
    SetQuotaRequest,
    StatusRequest,
    TurnRequest,
    encode,
    error_line,
    quota_from_json,
    quota_to_json,
    recommendation_from_json,
    recommendation_to_json,
)
from bhoga._protocol_parse import OPS, parse_request
from bhoga._providers import PROVIDERS
from bhoga.errors import ProtocolError


def _line(obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\n"


VALID = [
    ({"v": 1, "op": "ping"}, PingRequest()),
    ({"v": 1, "op": "status"}, StatusRequest()),
    ({"v": 1, "op": "pause"}, PauseRequest()),
    ({"v": 1, "op": "resume"}, ResumeRequest()),
    ({"v": 1, "op": "best", "model": "claude-opus-4"}, BestRequest("claude-opus-4")),
    (
        {
            "v": 1,
            "op": "turn",
            "pid": "anthropic_api",
            "model": "claude-opus-4",
            "input_tokens": 1200,
            "output_tokens": 800,
            "status_code": 429,
            "headers": {"retry-after": "30"},
        },
        TurnRequest("anthropic_api", "claude-opus-4", 1200, 800, 429, {"retry-after": "30"}),
    ),
    ({"v": 1, "op": "turn", "pid": "openai-codex", "model": "gpt-5"}, TurnRequest("openai-codex", "gpt-5")),
    (
        {
            "v": 1,
            "op": "turn",
            "pid": "openai-codex",
            "model": "gpt-5",
            "status_code": 429,
            "source": "hermes",
            "error": '{"error":{"type":"usage_limit_reached",\n"resets_in_seconds":60}}',
        },
        TurnRequest(
            "openai-codex",
            "gpt-5",
            0,
            0,
            429,
            {},
            '{"error":{"type":"usage_limit_reached",\n"resets_in_seconds":60}}',
            "hermes",
        ),
    ),
    (
        {"v": 1, "op": "turn", "pid": "openai-codex", "model": "gpt-5", "error": "x" * 4096, "source": "s" * 64},
        TurnRequest("openai-codex", "gpt-5", error="x" * 4096, source="s" * 64),
    ),
    (
        {"v": 1, "op": "set_quota", "pid": "claude_code", "pct_remaining": 90, "weekly_pct": 60, "model": "*"},
        SetQuotaRequest("claude_code", 90.0, 60.0, "*"),
    ),
    ({"v": 1, "op": "set_quota", "pid": "openai_api", "pct_remaining": 12.5}, SetQuotaRequest("openai_api", 12.5)),
    (
        {"v": 1, "op": "set_quota", "pid": "github-copilot", "pct_remaining": 0, "weekly_pct": None},
        SetQuotaRequest("github-copilot", 0.0),
    ),
]


@pytest.mark.parametrize(("obj", "expected"), VALID)
def test_valid_requests_parse_to_typed_records(obj: dict[str, object], expected: object) -> None:
    """Every op of DESIGN §7 parses into its frozen request record, with defaults filled in."""
    assert parse_request(_line(obj)) == expected
    assert parse_request(_line(obj).rstrip(b"\n")) == expected


TURN = {"v": 1, "op": "turn", "pid": "claude_code", "model": "claude-opus-4"}

INVALID = [
    (b"", "invalid JSON"),
    (b"not json", "invalid JSON"),
    (b"\xff\xfe{}", "not valid UTF-8"),
    (b'{"v":1,"op":"ping"', "invalid JSON"),
    (b"[1,2]", "must be a JSON object"),
    (b'"ping"', "must be a JSON object"),
    (b"[" * 100_000 + b"]" * 100_000, "line longer"),
    (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
    (b'{"v":1,"op":"turn","pid":"claude_code","model":"m","input_tokens":' + b"9" * 5000 + b"}", "too large"),
    (b'{"v":1,"op":"set_quota","pid":"claude_code","pct_remaining":NaN}', "not a number"),
    (b'{"v":1,"op":"set_quota","pid":"claude_code","pct_remaining":Infinity}', "not a number"),
    (_line({"op": "ping"}), "version"),
    (_line({"v": 2, "op": "ping"}), "version"),
    (_line({"v": True, "op": "ping"}), "version"),
    (_line({"v": 1.0, "op": "ping"}), "version"),
    (_line({"v": "1", "op": "ping"}), "version"),
    (_line({"v": 1}), "unknown op"),
    (_line({"v": 1, "op": "reboot"}), "unknown op"),
    (_line({"v": 1, "op": ["ping"]}), "unknown op"),
    (_line({"v": 1, "op": "ping", "extra": 1}), "unknown field 'extra'"),
    (_line({**TURN, "pid": "nope"}), "unknown provider 'nope'"),
    (_line({**TURN, "pid": 3}), "unknown provider int"),
    (_line({k: v for k, v in TURN.items() if k != "pid"}), "missing field 'pid'"),
    (_line({k: v for k, v in TURN.items() if k != "model"}), "missing field 'model'"),
    (_line({**TURN, "model": ""}), "printable"),
    (_line({**TURN, "model": "x" * 300}), "printable"),
    (_line({**TURN, "model": "a\nb"}), "printable"),
    (_line({**TURN, "model": "\ud800"}), "printable"),
    (_line({**TURN, "model": {"nested": {"deep": 1}}}), "must be a string"),
    (_line({**TURN, "input_tokens": True}), "must be an integer"),
    (_line({**TURN, "input_tokens": 1.5}), "must be an integer"),
    (_line({**TURN, "input_tokens": "12"}), "must be an integer"),
    (_line({**TURN, "input_tokens": -1}), "between 0 and"),
    (_line({**TURN, "output_tokens": 10**30}), "between 0 and"),
    (_line({**TURN, "status_code": 99}), "between 100 and 599"),
    (_line({**TURN, "status_code": 600}), "between 100 and 599"),
    (_line({**TURN, "error": "x" * 4097}), "longer than 4096"),
    (_line({**TURN, "error": 429}), "'error' must be a string"),
    (_line({**TURN, "source": "s" * 65}), "longer than 64"),
    (_line({**TURN, "source": "her\nmes"}), "printable"),
    (_line({**TURN, "source": ["hermes"]}), "'source' must be a string"),
    (b'{"v":1,"op":"turn","pid":"claude_code","model":"m","error":"\\ud800"}', "not valid Unicode"),
    (_line({**TURN, "headers": ["retry-after", "3"]}), "object of strings"),
    (_line({**TURN, "headers": {"retry-after": 3}}), "strings"),
    (_line({**TURN, "headers": {"retry-after": {"a": 1}}}), "strings"),
    (_line({**TURN, "headers": {"retry-after": "x" * 2000}}), "strings"),
    (_line({**TURN, "headers": {"retry-after": "a\u0000b"}}), "non-printable"),
    (_line({**TURN, "headers": {f"x-ratelimit-{i}": "1" for i in range(200)}}), "more than 128"),
    (_line({"v": 1, "op": "set_quota", "pid": "claude_code"}), "missing field 'pct_remaining'"),
    (_line({"v": 1, "op": "set_quota", "pid": "claude_code", "pct_remaining": 101}), "between 0 and 100"),
    (_line({"v": 1, "op": "set_quota", "pid": "claude_code", "pct_remaining": -0.1}), "between 0 and 100"),
    (_line({"v": 1, "op": "set_quota", "pid": "claude_code", "pct_remaining": False}), "must be a number"),
    (b'{"v":1,"op":"set_quota","pid":"claude_code","pct_remaining":5,"weekly_pct":1e400}', "between 0 and 100"),
    (
        _line({"v": 1, "op": "set_quota", "pid": "claude_code", "pct_remaining": 5, "weekly_pct": "5"}),
        "must be a number",
    ),
    (_line({"v": 1, "op": "best"}), "missing field 'model'"),
    (_line({"v": 1, "op": "best", "model": None}), "missing field 'model'"),
    (_line({"v": 1, "op": "best", "model": 7}), "must be a string"),
]


@pytest.mark.parametrize(("line", "message"), INVALID)
def test_invalid_requests_raise_one_line_protocol_errors(line: bytes, message: str) -> None:
    """Bad input of every kind becomes a ProtocolError whose one-line message says what is wrong."""
    with pytest.raises(ProtocolError) as info:
        parse_request(line)
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert len(text) < 200


def test_line_limit_is_exactly_max_line_bytes() -> None:
    """A request of exactly MAX_LINE bytes (newline not counted) is accepted; one byte more is refused."""
    body = json.dumps(TURN).encode()
    line = body[:-1] + b" " * (MAX_LINE - len(body)) + b"}"
    assert len(line) == MAX_LINE
    assert isinstance(parse_request(line + b"\n"), TurnRequest)
    with pytest.raises(ProtocolError, match="longer than"):
        parse_request(b" " + line + b"\n")


def test_turn_headers_are_reduced_to_the_rate_limit_allow_list() -> None:
    """Only rate-limit header names survive parsing; authorization, cookies and keys are dropped."""
    req = parse_request(
        _line(
            {
                **TURN,
                "headers": {
                    "Authorization": "Bearer sk-ant-secret-planted",
                    "cookie": "session=planted",
                    "x-api-key": "sk-planted",
                    "Retry-After": "30",
                    "anthropic-ratelimit-unified-5h-utilization": "0.4",
                },
            }
        )
    )
    assert isinstance(req, TurnRequest)
    assert req.headers == {"retry-after": "30", "anthropic-ratelimit-unified-5h-utilization": "0.4"}
    assert "planted" not in repr(req)


def test_encode_writes_one_compact_utf8_line() -> None:
    """encode() gives exactly one line; newlines inside strings are escaped and UTF-8 is kept."""
    raw = encode({"ok": False, "error": "a\nb", "why": "→"})
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    assert json.loads(raw) == {"ok": False, "error": "a\nb", "why": "→"}
    assert "→".encode() in raw
    assert json.loads(error_line("two\nlines")) == {"ok": False, "error": "two lines"}


def test_recommendation_round_trips_through_json() -> None:
    """recommendation_from_json(recommendation_to_json(r)) == r, including the reset time; None stays None."""
    rec = RouterRecommendation(
        "claude_code",
        "claude-opus-4",
        0.42,
        ProviderStatus.OK,
        "claude-opus-4",
        1,
        "most headroom",
        "burst",
        datetime(2026, 1, 1, 12, tzinfo=UTC),
    )
    obj = json.loads(encode({"r": recommendation_to_json(rec)}))["r"]
    back = recommendation_from_json(obj)
    assert back == rec and back is not None and back.resets_at == rec.resets_at
    assert recommendation_to_json(None) is None and recommendation_from_json(None) is None
    with pytest.raises(ProtocolError):
        recommendation_from_json({"provider_id": "x"})


def test_quota_round_trips_through_json() -> None:
    """quota_from_json(quota_to_json(q)) == q for a quota with windows, throttle and extras."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    q = ProviderQuota(
        "claude_code",
        "*",
        (
            QuotaWindow("burst", 40.0, now + timedelta(hours=2), 300, "*", now, "header"),
            QuotaWindow("weekly", 70.0, None, 10080, "opus", now, "oauth"),
        ),
        now + timedelta(minutes=5),
        True,
        now,
        "a note",
        (("plan", "max"),),
        0.3,
        ProviderStatus.THROTTLED,
    )
    assert quota_from_json(json.loads(encode(quota_to_json(q)))) == q
    with pytest.raises(ProtocolError):
        quota_from_json([])


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
_request_like = st.fixed_dictionaries(
    {"v": st.sampled_from([1, 1, 1, 2, True, "1"]), "op": st.sampled_from([*OPS, "x", 1])},
    optional={
        "pid": st.sampled_from([*PROVIDERS, "nope", 3, None]),
        "model": _json | st.text(max_size=300),
        "input_tokens": _json,
        "status_code": st.integers(0, 1000) | _json,
        "pct_remaining": st.floats() | st.integers(-5, 200) | _json,
        "weekly_pct": _json,
        "headers": st.dictionaries(st.text(max_size=30), st.text(max_size=30) | _json, max_size=5) | _json,
        "error": st.text(max_size=5000) | _json,
        "source": st.text(max_size=80) | _json,
        "extra": _json,
    },
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000) | _request_like.map(lambda d: json.dumps(d).encode()))
def test_parse_request_only_ever_raises_protocol_error(line: bytes) -> None:
    """Whatever arrives, parse_request returns a request record or raises ProtocolError, nothing else."""
    try:
        req = parse_request(line)
    except ProtocolError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(req, Request)
    if isinstance(req, TurnRequest):
        assert req.pid in PROVIDERS and type(req.input_tokens) is int
        encode({"headers": req.headers, "model": req.model})  # whatever was accepted can be written back out


def test_apply_pin_and_unpin_requests() -> None:
    """apply takes a model and optional booleans dry_run/aux (bools only); pin and unpin take nothing."""
    assert parse_request(b'{"v":1,"op":"apply","model":"claude-opus-4.6","dry_run":true}') == ApplyRequest(
        "claude-opus-4.6", True, False
    )
    assert parse_request(b'{"v":1,"op":"pin"}') == PinRequest(True)
    assert parse_request(b'{"v":1,"op":"unpin"}') == PinRequest(False)
    for bad in (
        b'{"v":1,"op":"apply"}',
        b'{"v":1,"op":"apply","model":"m","dry_run":1}',
        b'{"v":1,"op":"pin","model":"m"}',
    ):
        with pytest.raises(ProtocolError):
            parse_request(bad)
