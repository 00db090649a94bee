"""Socket protocol v1 (DESIGN §7): typed requests, strict parsing, and the JSON shapes of quotas and picks.

One JSON object per line, UTF-8, at most `MAX_LINE` bytes. Parsing is strict because anything on the machine
running as the user may write to the socket: unknown ops, unknown fields, wrong types (a bool is not a
number), out-of-range numbers, unknown provider ids and lone surrogates are all refused with a one-line
`ProtocolError`, and the connection goes on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping

from bhoga._model import ANY_MODEL
from bhoga._protocol_headers import MAX_HEADER_VALUE, MAX_HEADERS, turn_headers
from bhoga._protocol_json import (
    quota_from_json,
    quota_to_json,
    recommendation_from_json,
    recommendation_to_json,
)
from bhoga._providers import PROVIDERS
from bhoga._record import field, record
from bhoga.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final, TypeAlias

    from bhoga._protocol_fast import TurnBatch

__all__ = [
    "APPLY_WAIT",
    "MAX_HEADERS",
    "MAX_HEADER_VALUE",
    "MAX_LINE",
    "OPS",
    "VERSION",
    "ApplyRequest",
    "BestRequest",
    "PassRequest",
    "PauseRequest",
    "PinRequest",
    "PingRequest",
    "Request",
    "ResumeRequest",
    "SetQuotaRequest",
    "StatusRequest",
    "SubscribeRequest",
    "TurnRequest",
    "encode",
    "encode_request",
    "error_line",
    "fast_decoders",
    "op_of",
    "parse_request",
    "quota_from_json",
    "quota_to_json",
    "recommendation_from_json",
    "recommendation_to_json",
]

VERSION: Final = 1
MAX_LINE: Final = 65_536
"""Longest accepted line in bytes, without its newline."""
MAX_TOKENS: Final = 1_000_000_000
MAX_TEXT: Final = 256
"""Longest model name or header name."""
MAX_ERROR: Final = 4096
"""Longest `error` text of a turn (the error message or response body of a failed call)."""
MAX_SOURCE: Final = 64
APPLY_WAIT: Final = 6.0
"""Seconds a client waits for bhogad's answer to `apply`: bhogad first waits out a save of Hermes' config in progress
as `bhoga apply` does alone (`bhoga.hermes.BUSY_TRIES` tries, each waiting up to `SETTLE` for quiet, `SETTLE`
apart: 3.5 s at most), after the pass it may be running (up to twice `SETTLE`). A client that gave up sooner would
take bhogad for gone and write the config itself as well."""


@record
class PingRequest:
    """`{"v":1,"op":"ping"}`: is the daemon there."""


@record
class TurnRequest:
    """One model call a harness made, with the rate-limit headers of its response (already filtered)."""

    pid: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    """The error message or body of a failed call; limits it names become throttles."""
    source: str | None = None
    """Who sent the turn (`hermes` for the Hermes plugin); counted in `status`, never routed on."""


@record
class SetQuotaRequest:
    """A person's or harness's own reading of a provider's headroom, percent remaining 0-100."""

    pid: str
    pct_remaining: float
    weekly_pct: float | None = None
    model: str = ANY_MODEL


@record
class BestRequest:
    """Which provider should serve `model` now."""

    model: str


@record
class StatusRequest:
    """Everything the daemon knows: quotas, the Hermes route, current picks."""


@record
class SubscribeRequest:
    """Keep this connection: the daemon pushes `{"event":"status",...}` lines whenever its state changes."""


@record
class PauseRequest:
    """Stop writing the Hermes config until resumed."""


@record
class ResumeRequest:
    """Write the Hermes config again."""


@record
class ApplyRequest:
    """Route Hermes to the best provider for `model` now (the daemon is the one writer, DESIGN §8.2)."""

    model: str
    dry_run: bool = False
    aux: bool = False


@record
class PinRequest:
    """Pin Hermes' current route (`pinned`), or hand it back to bhogad."""

    pinned: bool


@record
class PassRequest:
    """Run one discovery + Hermes pass now and answer with what it did (`bhogad --once` while bhogad runs,
    DESIGN §8.2); a request arriving while one runs joins it."""


Request: TypeAlias = (
    PingRequest
    | TurnRequest
    | SetQuotaRequest
    | BestRequest
    | StatusRequest
    | PauseRequest
    | ResumeRequest
    | ApplyRequest
    | PinRequest
    | SubscribeRequest
    | PassRequest
)

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
_OP_NAMES: Final[dict[type, str]] = {
    TurnRequest: "turn",
    SetQuotaRequest: "set_quota",
    BestRequest: "best",
    StatusRequest: "status",
    PingRequest: "ping",
    PauseRequest: "pause",
    ResumeRequest: "resume",
    ApplyRequest: "apply",
    SubscribeRequest: "subscribe",
    PassRequest: "pass",
}
"""The op of each request type (`PinRequest` is `pin` or `unpin` by its field)."""


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


def encode(obj: Mapping[str, object]) -> bytes:
    """A JSON object as one UTF-8 line ending in a newline (the framing of every line on the socket)."""
    return (json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n").encode()


def _fields(request: Request) -> dict[str, object]:
    match request:
        case TurnRequest():
            body: dict[str, object] = {
                "pid": request.pid,
                "model": request.model,
                "input_tokens": request.input_tokens,
                "output_tokens": request.output_tokens,
                "status_code": request.status_code,
                "headers": request.headers,
            }
            if request.error:
                body["error"] = request.error
            if request.source:
                body["source"] = request.source
            return body
        case SetQuotaRequest():
            body = {"pid": request.pid, "pct_remaining": request.pct_remaining, "model": request.model}
            if request.weekly_pct is not None:
                body["weekly_pct"] = request.weekly_pct
            return body
        case BestRequest():
            return {"model": request.model}
        case ApplyRequest():
            return {"model": request.model, "dry_run": request.dry_run, "aux": request.aux}
    return {}


def op_of(request: Request) -> str:
    """The `op` name `request` travels under."""
    if type(request) is PinRequest:
        return "pin" if request.pinned else "unpin"
    return _OP_NAMES[type(request)]


def encode_request(request: Request) -> bytes:
    """`request` as the line `parse_request` reads back into an equal request (the one way requests are built)."""
    return encode({"v": VERSION, "op": op_of(request), **_fields(request)})


def error_line(message: str) -> bytes:
    """The response line for a refused request: `{"ok":false,"error":...}`."""
    return encode({"ok": False, "error": " ".join(message.split())})
