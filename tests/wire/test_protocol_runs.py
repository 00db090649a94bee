"""A run of turn lines decoded at once (`fast_turns`) says exactly what the standard parser says line by line, or
steps aside so the lines are answered one by one."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bhoga._protocol import TurnRequest
from bhoga._protocol_fast import TurnBatch, fast_turns
from bhoga._protocol_parse import _parse_json
from bhoga.errors import ProtocolError

TURN = json.loads((Path(__file__).parents[1] / "data" / "wire" / "anthropic_turn.json").read_text())["turn"]
LINE = json.dumps(TURN).encode()


def _std(line: bytes) -> object:
    try:
        return _parse_json(line)
    except ProtocolError as exc:
        return ("error", str(exc))


def _kind(r: TurnRequest) -> tuple[object, ...]:
    return (r.pid, r.status_code, r.error, tuple(r.headers))


def _check_equal(lines: list[bytes]) -> TurnBatch | None:
    """`fast_turns` of the joined lines is None, or every line is a valid turn and the batch says what the
    standard parses say: the count, the counts by (pid, model, status, source), and per kind the newest."""
    batch = fast_turns(b"\n".join(lines))
    if batch is None:
        return None
    parsed = [_std(line) for line in lines]
    assert all(type(p) is TurnRequest for p in parsed), parsed
    requests: list[TurnRequest] = parsed  # type: ignore[assignment]
    assert batch.total == len(lines)
    counts: Counter[tuple[object, ...]] = Counter()
    for (pid, model, status, source), n in batch.counts.items():
        counts[pid, model, status, source or None] += n  # "" and no source are the same to the parser
    assert counts == Counter((r.pid, r.model, r.status_code, r.source) for r in requests)
    newest = {_kind(r): r for r in requests}  # the last of each kind (header names as the allow-list kept them)
    assert {_kind(r): r for r in batch.newest} == newest
    return batch


_fields = st.fixed_dictionaries(
    {},
    optional={
        "pid": st.sampled_from(["claude_code", "openai-codex", "openai_api", "nobody", 3]),
        "model": st.sampled_from(["m", "", "é", "a\\tb", "x" * 300, 5]),
        "status_code": st.sampled_from([200, 429, 99, 600, True, "200"]),
        "error": st.sampled_from([None, "", "rate_limit_error", 'quoted "x"']),
        "source": st.sampled_from([None, "", "hermes", "\u2028"]),
        "headers": st.sampled_from([None, {}, {"retry-after": "5"}, {"Retry-After": " 5 "}, {"a": 1}]),
        "op": st.sampled_from(["turn", "ping", "best"]),
        "extra": st.just(1),
    },
)
_junk = st.sampled_from([b"", b" ", b"{", b"}", b"[]", b"{}", b'{"v":1,"op":"ping"}', b"\r", b"\xff", b"null"])


@st.composite
def _line(draw: st.DrawFn) -> bytes:
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(_junk)
    obj: dict[str, Any] = {**TURN, **draw(_fields)}
    line = json.dumps(obj, ensure_ascii=draw(st.booleans())).encode()
    if choice == 1:  # cut, padded or doubled
        at = draw(st.integers(0, len(line)))
        return draw(st.sampled_from([line[:at], line + b" ", b" " + line, line + b"," + line, line[at:]]))
    return line


@settings(max_examples=1500, deadline=None)
@given(st.lists(_line(), min_size=1, max_size=8))
def test_a_run_of_lines_decodes_to_what_the_lines_say_one_by_one(lines: list[bytes]) -> None:
    """For any mix of good, bad, cut and doubled lines, a run is taken whole only when every line is a valid turn,
    and then with the standard parser's counts and newest turn per kind."""
    _check_equal(lines)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(0, len(LINE)), min_size=1, max_size=6))
def test_lines_cut_anywhere_are_never_glued_back_into_turns(cuts: list[int]) -> None:
    """Realistic turns split into lines at arbitrary places: taken whole only when each line is a turn by itself."""
    text = LINE * 4
    at = sorted({c * 4 % len(text) for c in cuts} - {0})
    lines = [text[a:b] for a, b in zip([0, *at], [*at, len(text)], strict=True)]
    _check_equal(lines)


def test_two_half_turns_and_a_doubled_line_are_not_taken() -> None:
    """Lines that would parse as the right number of turns only when glued across lines are answered one by one."""
    head = b'{"v":1,"op":"turn","pid":"claude_code"'
    tail = b'"model":"m","input_tokens":1}'
    two = b'{"v":1,"op":"turn","pid":"claude_code","model":"a"},{"v":1,"op":"turn","pid":"claude_code","model":"b"}'
    assert [_std(line)[0] for line in (head, tail, two)] == ["error"] * 3  # type: ignore[index]
    assert fast_turns(b"\n".join([head, tail, two])) is None
    assert fast_turns(b"\n".join([two, head, tail])) is None
    in_string = [b'{"v":1,"op":"turn","pid":"claude_code","model":"m', b'x"}', two]
    assert fast_turns(b"\n".join(in_string)) is None


def test_the_sample_turns_are_taken_whole_with_their_headers_filtered() -> None:
    """64 realistic 17-header turns: one batch, 64 counted, one newest turn with only its 11 rate-limit headers."""
    batch = _check_equal([LINE] * 64)
    assert batch is not None and batch.total == 64
    assert batch.counts == {("claude_code", "claude-sonnet-4-6", 200, None): 64}
    (newest,) = batch.newest
    assert len(newest.headers) == 11 and all(k.startswith("anthropic-ratelimit-") for k in newest.headers)


def test_the_newest_of_each_kind_is_kept_in_order() -> None:
    """Turns of two providers and a 429 interleaved: the last of each kind, in the order they came."""
    codex = {**TURN, "pid": "openai-codex", "headers": {"x-codex-primary-used-percent": "40"}}
    refused = {**TURN, "status_code": 429, "error": "rate_limit_error"}
    later = {**TURN, "headers": {**TURN["headers"], "anthropic-ratelimit-unified-5h-utilization": "0.5"}}
    newer_codex = {**codex, "headers": {"x-codex-primary-used-percent": "50"}}
    lines = [json.dumps(o).encode() for o in (TURN, codex, refused, newer_codex, later)]
    batch = _check_equal(lines)
    assert batch is not None
    assert [(r.pid, r.status_code, r.error) for r in batch.newest] == [
        ("claude_code", 429, "rate_limit_error"),
        ("openai-codex", 200, None),
        ("claude_code", 200, None),
    ]
    assert batch.newest[1].headers == {"x-codex-primary-used-percent": "50"}
    assert batch.newest[2].headers["anthropic-ratelimit-unified-5h-utilization"] == "0.5"


def test_text_msgspec_cannot_vouch_for_is_answered_line_by_line() -> None:
    """Non-ASCII, escapes or DEL anywhere in the run send it line by line (the printable checks live there)."""
    for odd in ("é", "a\\u0000b", "\x7f", "\\"):
        line = LINE.replace(b"claude-sonnet-4-6", odd.encode())
        assert fast_turns(b"\n".join([LINE, line, LINE])) is None
