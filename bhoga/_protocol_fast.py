"""The daemon's fast path for `turn` lines: msgspec decodes straight into a typed record (DESIGN §7, issue 15).

`parse_request` tries this first for lines that may be turns. The record's types and limits (version, op,
provider ids, integer ranges, string lengths, at most 128 headers of at most 1,024 characters) are checked by
msgspec in C while it decodes; what msgspec cannot say (printable text, the header allow-list) is checked here.
It returns a `TurnRequest` only when every rule of the standard-library parser holds and None otherwise, so
that parser then answers, with its exact error: the two never disagree (a property test holds them to it).
msgspec is loaded with this module, on the first turn the daemon parses, never by `import bhoga`.

`fast_turns` takes a whole run of turn lines from one read at once (one msgspec call for all of them, no Python
per line), and says for each run either "all of these are valid turns" or None, and the daemon then answers that
run line by line, each with its own answer or error.
"""

from __future__ import annotations

from collections import Counter
from operator import attrgetter
from typing import Annotated, Any, Final, Literal

import msgspec

from bhoga._protocol import MAX_ERROR, MAX_SOURCE, MAX_TEXT, MAX_TOKENS, VERSION, TurnRequest
from bhoga._protocol_headers import MAX_HEADER_VALUE, MAX_HEADERS, kept_headers, turn_headers
from bhoga._providers import PROVIDERS
from bhoga._record import record
from bhoga.errors import ProtocolError

__all__ = ["TurnBatch", "fast_turn", "fast_turns"]

_Pid: Any = Literal[tuple(PROVIDERS)]  # the provider ids, checked in C
_Tokens = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]
_Value = Annotated[str, msgspec.Meta(max_length=MAX_HEADER_VALUE)]


class _Turn(msgspec.Struct, forbid_unknown_fields=True, gc=False):  # no cycles: strings, numbers, a dict of strings
    v: Literal[VERSION]  # type: ignore[valid-type]
    op: Literal["turn"]
    pid: _Pid
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT)]
    input_tokens: _Tokens = 0
    output_tokens: _Tokens = 0
    status_code: Annotated[int, msgspec.Meta(ge=100, le=599)] = 200
    headers: Annotated[dict[str, _Value], msgspec.Meta(max_length=MAX_HEADERS)] | None = None
    error: Annotated[str, msgspec.Meta(max_length=MAX_ERROR)] | None = None
    source: Annotated[str, msgspec.Meta(max_length=MAX_SOURCE)] | None = None


_decode: Final = msgspec.json.Decoder(_Turn).decode
_decode_list: Final = msgspec.json.Decoder(list[_Turn]).decode
_Error: Final = msgspec.MsgspecError
_ROW: Final = attrgetter("pid", "model", "status_code", "source", "error")
_HEADERS: Final = attrgetter("headers")
_OPEN: Final = ord("{")


def fast_turn(line: bytes) -> TurnRequest | None:
    """The turn on `line`, or None when the standard parser must decide (another op, or anything doubtful)."""
    try:
        t = _decode(line)
    except _Error:
        return None
    model, headers, source = t.model, t.headers, t.source
    if not model.isprintable() or (source is not None and not source.isprintable()):
        return None
    if headers:
        kept = kept_headers(headers)
        if kept is None:
            return None
    else:
        kept = {}
    # msgspec refuses lone surrogates, so every string it decoded encodes as UTF-8.
    return TurnRequest(
        t.pid, model, t.input_tokens, t.output_tokens, t.status_code, kept, t.error or None, source or None
    )


@record
class TurnBatch:
    """A run of valid turn lines: how many, counted by (pid, model, status_code, source), and per distinct
    (pid, model, status_code, source, error, header names) the newest turn, its headers reduced to the allow-list.

    An older turn with the same fields and header names says nothing its newer one does not (the Router parses
    only the newest per provider, status, error and header names anyway), so only those are built; every turn
    is still counted."""

    total: int
    counts: dict[tuple[str, str, int, str | None], int]
    newest: tuple[TurnRequest, ...]


def fast_turns(run: bytes) -> TurnBatch | None:
    """The turns of `run` (complete lines joined by newlines, no final newline) when EVERY line is a valid turn
    whose text needs no check msgspec cannot make; None when the lines must be answered one by one.

    The lines are decoded in one call as the array `[line1\n,line2\n,...]`. That array has exactly one element
    per line, each its line (up to trailing whitespace, which a line alone may have too), when every line starts
    with `{` and the array decodes into as many turns as there are lines: a raw newline cannot sit inside a JSON
    string, and a turn holds no array and no unknown field, so no element can reach across a separator (after
    `,` inside an object only a name may follow, never the next line's `{`); so each line starts an element,
    and equal counts leave one per line.
    Text that is ASCII without escapes or DEL decodes to printable strings only, so every check `fast_turn`
    makes beyond msgspec's holds for all of them, and the header filter cannot fail (DESIGN §7)."""
    if (
        run[:1] != b"{"
        or run[-1:] == b"\n"
        or b'"turn"' not in run
        or not run.isascii()
        or b"\\" in run
        or b"\x7f" in run
    ):
        return None
    n = 1
    find = run.find
    at = find(b"\n")
    while at >= 0:  # every line starts with "{"; a loop of finds beats a two-byte count on this interpreter
        if run[at + 1] != _OPEN:
            return None
        n += 1
        at = find(b"\n", at + 1)
    try:
        turns = _decode_list(b"[" + run.replace(b"\n", b"\n,") + b"]")
    except _Error:
        return None
    if len(turns) != n:
        return None
    # Per distinct (fields, header names) the index of its newest turn, and how many, by C loops only (a dict
    # keeps the last index of each key); a harness sends one such key turn after turn.
    try:
        keys = list(zip(map(_ROW, turns), map(tuple, map(_HEADERS, turns)), strict=True))
    except TypeError:  # "headers": null somewhere
        keys = [(_ROW(t), tuple(t.headers) if t.headers else ()) for t in turns]
    counts: dict[tuple[str, str, int, str | None], int] = {}
    if keys.count(keys[-1]) == n:  # all alike: one pass of comparisons instead of two of hashing and comparing
        last = {keys[-1]: n - 1}
        counts[keys[-1][0][:4]] = n
    else:
        last = dict(zip(keys, range(n), strict=True))
        for (row, _names), times in Counter(keys).items():
            counts[row[:4]] = counts.get(row[:4], 0) + times
    newest: list[TurnRequest] = []
    for i in sorted(last.values()):
        t = turns[i]
        try:
            kept = turn_headers(t.headers)
        except ProtocolError:  # cannot happen with printable text; the line-by-line path would say why
            return None
        newest.append(
            TurnRequest(
                t.pid, t.model, t.input_tokens, t.output_tokens, t.status_code, kept, t.error or None, t.source or None
            )
        )
    return TurnBatch(n, counts, tuple(newest))
