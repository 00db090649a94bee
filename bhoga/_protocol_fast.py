"""The daemon's fast path for `turn` lines: msgspec decodes straight into a typed record (DESIGN §7, issue 15).

`parse_request` tries this first for lines that may be turns. The record's types and limits (version, op,
provider ids, integer ranges, string lengths, at most 128 headers of at most 1,024 characters) are checked by
msgspec in C while it decodes; what msgspec cannot say (printable text, the header allow-list) is checked here.
It returns a `TurnRequest` only when every rule of the standard-library parser holds and None otherwise, so
that parser then answers, with its exact error: the two never disagree (a property test holds them to it).
msgspec is loaded with this module, on the first turn the daemon parses, never by `import bhoga`.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

import msgspec

from bhoga._protocol import MAX_ERROR, MAX_SOURCE, MAX_TEXT, MAX_TOKENS, VERSION, TurnRequest
from bhoga._protocol_headers import MAX_HEADER_VALUE, MAX_HEADERS, kept_headers
from bhoga._providers import PROVIDERS

__all__ = ["fast_turn"]

_Pid: Any = Literal[tuple(PROVIDERS)]  # the provider ids, checked in C
_Tokens = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]
_Value = Annotated[str, msgspec.Meta(max_length=MAX_HEADER_VALUE)]


class _Turn(msgspec.Struct, forbid_unknown_fields=True):
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
_Error: Final = msgspec.MsgspecError


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
