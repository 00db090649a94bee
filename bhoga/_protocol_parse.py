"""Socket protocol v1 requests read strictly (DESIGN §7): one line in, one typed request or a `ProtocolError`.

Anything on the machine running as the user may write to the socket, so nothing is taken on trust: unknown ops,
unknown fields, wrong types (a bool is not a number), out-of-range numbers, unknown provider ids and lone
surrogates are all refused with a one-line reason, and the connection goes on. Turn lines try msgspec's decoder
first (`bhoga._protocol_fast`), held to the standard-library parser here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping

from bhoga._model import ANY_MODEL
from bhoga._protocol import (
    MAX_ERROR,
    MAX_LINE,
    MAX_SOURCE,
    MAX_TEXT,
    MAX_TOKENS,
    VERSION,
    ApplyRequest,
    BestRequest,
    PassRequest,
    PauseRequest,
    PingRequest,
    PinRequest,
    Request,
    ResumeRequest,
    SetQuotaRequest,
    StatusRequest,
    SubscribeRequest,
    TurnRequest,
)
from bhoga._protocol_headers import turn_headers
from bhoga._providers import PROVIDERS
from bhoga.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

    from bhoga._protocol_fast import TurnBatch

__all__ = ["OPS", "fast_decoders", "parse_request"]

_PING = PingRequest()
_STATUS = StatusRequest()
_PAUSE = PauseRequest()
_RESUME = ResumeRequest()
_SUBSCRIBE = SubscribeRequest()
_PASS = PassRequest()


def _reject_constant(name: str) -> None:
    raise ProtocolError(f"{name} is not a number JSON allows")


# parse_constant only runs for NaN/Infinity, so the C scanner keeps its fast path for everything else.
_decode: Callable[[str], Any] = json.JSONDecoder(parse_constant=_reject_constant).decode


def _text(obj: Mapping[str, Any], key: str, *, default: str | None = None) -> str:
    value = obj.get(key, default)
    if value is None:
        raise ProtocolError(f"missing field {key!r}")
    if type(value) is not str:
        raise ProtocolError(f"field {key!r} must be a string")
    if not value or len(value) > MAX_TEXT or not value.isprintable():
        raise ProtocolError(f"field {key!r} must be 1-{MAX_TEXT} printable characters")
    return value


def _pid(obj: Mapping[str, Any]) -> str:
    pid = obj.get("pid")
    if type(pid) is not str or pid not in PROVIDERS:
        if pid is None:
            raise ProtocolError("missing field 'pid'")
        shown = repr(pid)[:40] if type(pid) is str else type(pid).__name__
        raise ProtocolError(f"unknown provider {shown}; choose one of: {', '.join(PROVIDERS)}")
    return pid


def _int(obj: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = obj.get(key, default)
    if type(value) is not int:  # bools are ints to Python, never to this protocol
        raise ProtocolError(f"field {key!r} must be an integer")
    if not low <= value <= high:
        raise ProtocolError(f"field {key!r} must be between {low} and {high}")
    return value


def _pct(obj: Mapping[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not int and type(value) is not float:
        raise ProtocolError(f"field {key!r} must be a number")
    if not (math.isfinite(value) and 0 <= value <= 100):
        raise ProtocolError(f"field {key!r} must be between 0 and 100")
    return float(value)


def _check_keys(obj: Mapping[str, Any], allowed: frozenset[str]) -> None:
    if len(obj) > len(allowed) or not obj.keys() <= allowed:
        extra = sorted(set(obj) - allowed)
        shown = ", ".join(repr(k[:40]) for k in extra[:3])
        raise ProtocolError(f"unknown field {shown} for op {obj['op']!r}")


_BASE = frozenset({"v", "op"})
_TURN_KEYS = _BASE | {"pid", "model", "input_tokens", "output_tokens", "status_code", "headers", "error", "source"}
_QUOTA_KEYS = _BASE | {"pid", "pct_remaining", "weekly_pct", "model"}
_BEST_KEYS = _BASE | {"model"}
_APPLY_KEYS = _BASE | {"model", "dry_run", "aux"}


def _turn(obj: dict[str, Any]) -> Request:
    _check_keys(obj, _TURN_KEYS)
    return TurnRequest(
        _pid(obj),
        _text(obj, "model"),
        _int(obj, "input_tokens", 0, 0, MAX_TOKENS),
        _int(obj, "output_tokens", 0, 0, MAX_TOKENS),
        _int(obj, "status_code", 200, 100, 599),
        turn_headers(obj.get("headers")),
        _optional_text(obj, "error", MAX_ERROR, printable=False),
        _optional_text(obj, "source", MAX_SOURCE, printable=True),
    )


def _optional_text(obj: Mapping[str, Any], key: str, limit: int, *, printable: bool) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not str:
        raise ProtocolError(f"field {key!r} must be a string")
    if len(value) > limit:
        raise ProtocolError(f"field {key!r} is longer than {limit} characters")
    if printable and not value.isprintable():
        raise ProtocolError(f"field {key!r} must be printable characters")
    # An error body may hold newlines; lone surrogates (invalid UTF-8 once re-encoded) never pass.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError(f"field {key!r} is not valid Unicode") from None
    return value or None


def _set_quota(obj: dict[str, Any]) -> Request:
    _check_keys(obj, _QUOTA_KEYS)
    pid = _pid(obj)
    pct = _pct(obj, "pct_remaining")
    if pct is None:
        raise ProtocolError("missing field 'pct_remaining'")
    return SetQuotaRequest(pid, pct, _pct(obj, "weekly_pct"), _text(obj, "model", default=ANY_MODEL))


def _best(obj: dict[str, Any]) -> Request:
    _check_keys(obj, _BEST_KEYS)
    return BestRequest(_text(obj, "model"))


def _flag(obj: Mapping[str, Any], key: str) -> bool:
    value = obj.get(key, False)
    if type(value) is not bool:
        raise ProtocolError(f"field {key!r} must be true or false")
    return value


def _apply(obj: dict[str, Any]) -> Request:
    _check_keys(obj, _APPLY_KEYS)
    return ApplyRequest(_text(obj, "model"), _flag(obj, "dry_run"), _flag(obj, "aux"))


def _bare(request: Request) -> Callable[[dict[str, Any]], Request]:
    def parse(obj: dict[str, Any]) -> Request:
        _check_keys(obj, _BASE)
        return request

    return parse


_PARSERS: dict[str, Callable[[dict[str, Any]], Request]] = {
    "turn": _turn,
    "set_quota": _set_quota,
    "best": _best,
    "status": _bare(_STATUS),
    "ping": _bare(_PING),
    "pause": _bare(_PAUSE),
    "resume": _bare(_RESUME),
    "apply": _apply,
    "pin": _bare(PinRequest(True)),
    "unpin": _bare(PinRequest(False)),
    "subscribe": _bare(_SUBSCRIBE),
    "pass": _bare(_PASS),
}
OPS: Final = tuple(_PARSERS)


def fast_decoders() -> tuple[Callable[[bytes], TurnRequest | None], Callable[[bytes], TurnBatch | None]]:
    """msgspec's decoders of one turn line and of a run of them, imported when first asked for (never at
    `import bhoga`); without msgspec, two that always decline, so the standard parser answers every line."""
    try:
        from bhoga._protocol_fast import fast_turn, fast_turns  # noqa: PLC0415
    except ImportError:
        return _declined, _declined
    return fast_turn, fast_turns


def _declined(data: bytes) -> None:
    return None


def _load_fast_turn(line: bytes) -> TurnRequest | None:
    global _fast_turn
    _fast_turn = fast_decoders()[0]
    return _fast_turn(line)


_fast_turn: Callable[[bytes], TurnRequest | None] = _load_fast_turn


def parse_request(line: bytes) -> Request:
    """Parse one request line (with or without its newline); `ProtocolError` with a one-line reason."""
    if len(line) > MAX_LINE + 1:
        raise ProtocolError(f"line longer than {MAX_LINE} bytes")
    if b'"turn"' in line and (fast := _fast_turn(line)) is not None:
        return fast
    return _parse_json(line)


def _parse_json(line: bytes) -> Request:
    """`parse_request` with the standard-library decoder: the reference the fast path is held to."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("line is not valid UTF-8") from None
    try:
        obj = _decode(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise ProtocolError("invalid JSON: nested too deeply") from None
    except ValueError:  # an integer literal longer than Python's int_max_str_digits
        raise ProtocolError("invalid JSON: number too large") from None
    if type(obj) is not dict:
        raise ProtocolError("a request must be a JSON object")
    if obj.get("v") != VERSION or type(obj.get("v")) is not int:
        raise ProtocolError(f'unsupported protocol version; send "v":{VERSION}')
    op = obj.get("op")
    parser = _PARSERS.get(op) if type(op) is str else None
    if parser is None:
        raise ProtocolError(f"unknown op; choose one of: {', '.join(OPS)}")
    return parser(obj)
