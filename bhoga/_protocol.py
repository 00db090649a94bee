"""Socket protocol v1 (DESIGN §7): limits, typed requests and how they are written, the JSON of quotas and picks.

One JSON object per line, UTF-8, at most `MAX_LINE` bytes. `encode_request` is the one way a request becomes a
line; `bhoga._protocol_parse.parse_request` reads one back, strictly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from bhoga._model import ANY_MODEL
from bhoga._protocol_headers import MAX_HEADER_VALUE, MAX_HEADERS
from bhoga._protocol_json import (
    quota_from_json,
    quota_to_json,
    recommendation_from_json,
    recommendation_to_json,
)
from bhoga._record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, TypeAlias

__all__ = [
    "APPLY_WAIT",
    "MAX_HEADERS",
    "MAX_HEADER_VALUE",
    "MAX_LINE",
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
    "op_of",
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
