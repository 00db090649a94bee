"""The daemon's msgspec path for `turn` lines answers exactly what the standard-library parser answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bhoga._protocol_fast import fast_turn
from bhoga._protocol_parse import _parse_json, parse_request
from bhoga.errors import ProtocolError

TURN = json.loads((Path(__file__).parents[1] / "data" / "wire" / "anthropic_turn.json").read_text())["turn"]


def _std(line: bytes) -> object:
    try:
        return _parse_json(line)
    except ProtocolError as exc:
        return ("error", str(exc))


_odd_str = st.sampled_from(["", " x", "x ", "a\tb", "\x00", "é", "\u2028", "x" * 300, "X-Ratelimit-Y", "ok"]) | st.text(
    max_size=20
)
_any = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([0, 1, 99, 100, 200, 429, 599, 600, 10**9, 10**9 + 1, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False),
    _odd_str,
    st.just([]),
    st.just({}),
)
_header_names = st.sampled_from([*TURN["headers"], "Retry-After", " retry-after", "x-codex-a", "ratelimit-x"])
_header_values = _odd_str | st.sampled_from(list(TURN["headers"].values()))
_headers = st.dictionaries(_header_names | st.text(max_size=12), _header_values, max_size=20)
_CHANGES: dict[str, st.SearchStrategy[Any]] = {
    "v": st.sampled_from([1, 1.0, True, 2, "1"]),
    "op": st.sampled_from(["turn", "best", "Turn"]),
    "pid": st.sampled_from(["claude_code", "openai-codex", "openai_api", "nobody", ""]) | _any,
    "model": _odd_str | _any,
    "input_tokens": _any,
    "output_tokens": _any,
    "status_code": _any,
    "headers": _headers | _any,
    "error": _odd_str | _any | st.just("e" * 4097),
    "source": _odd_str | _any,
    "extra": _any,
}
# A realistic turn with up to three fields changed (to right and wrong values) and some optional ones left out.
_changes = st.lists(st.sampled_from(list(_CHANGES)), max_size=3, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({k: _CHANGES[k] for k in keys})
)
_dropped = st.sets(st.sampled_from(["input_tokens", "output_tokens", "status_code", "headers", "model"]), max_size=2)


@settings(max_examples=1500, deadline=None)
@given(_changes, _dropped, st.booleans())
def test_fast_turns_equal_the_standard_parse(changes: dict[str, Any], dropped: set[str], ascii_only: bool) -> None:
    """For any mix of right and wrong fields, the fast path gives the standard parser's request or steps aside."""
    obj = {k: v for k, v in {**TURN, **changes}.items() if k not in dropped}
    line = json.dumps(obj, ensure_ascii=ascii_only).encode()
    fast = fast_turn(line)
    if fast is not None:
        assert _std(line) == fast
    try:
        assert parse_request(line) == _std(line)
    except ProtocolError as exc:
        assert _std(line) == ("error", str(exc))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=40), st.integers(min_value=0, max_value=2000))
def test_fast_path_never_accepts_a_broken_line(junk: bytes, at: int) -> None:
    """Bytes spliced into a valid turn: the fast path accepts only what the standard parser accepts, equal."""
    line = json.dumps(TURN).encode()
    at %= len(line)
    spliced = line[:at] + junk + line[at:]
    fast = fast_turn(spliced)
    if fast is not None:
        assert _std(spliced) == fast


def test_the_sample_turn_takes_the_fast_path() -> None:
    """The realistic 17-header Anthropic turn is decoded by msgspec and keeps its 11 rate-limit headers."""
    line = json.dumps(TURN).encode()
    fast = fast_turn(line)
    assert fast is not None and fast == _std(line)
    assert len(fast.headers) == 11 and all(k.startswith("anthropic-ratelimit-") for k in fast.headers)


def test_msgspec_loads_with_the_daemons_first_turn_not_with_bhoga() -> None:
    """`import bhoga`, a Router and the client leave msgspec unloaded; parsing the first turn loads it."""
    code = f"""
import sys, bhoga, bhoga._client
print("msgspec" in sys.modules)
from bhoga._protocol_parse import parse_request
parse_request({json.dumps(TURN).encode()!r})
print("msgspec" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["False", "True"]
