"""Socket protocol v1 answers read back: the clients' one decoder (DESIGN §7, §8).

`decode_response` is the only place a client turns an answer line back into a record (`bhoga._responses`). It
is lenient about what a newer or older bhogad may add or leave out (an absent `errors` is none), and strict about
the shape: anything else is a `ProtocolError`.
"""

from __future__ import annotations

import json

from bhoga._model import ANY_MODEL, RouterRecommendation
from bhoga._protocol import (
    ApplyRequest,
    BestRequest,
    PassRequest,
    PauseRequest,
    PingRequest,
    Request,
    ResumeRequest,
    StatusRequest,
    SubscribeRequest,
)
from bhoga._protocol_json import recommendation_from_json
from bhoga._responses import (
    OK,
    ApplyAnswer,
    BestAnswer,
    DaemonInfo,
    Discovered,
    Failure,
    HermesView,
    LastPass,
    PassAnswer,
    PausedAnswer,
    PingAnswer,
    Response,
    RouteView,
    StatusAnswer,
    Subscribed,
)
from bhoga.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["decode_response"]


def _ranked(obj: object) -> tuple[RouterRecommendation, ...]:
    if not isinstance(obj, list):
        return ()
    return tuple(r for r in map(recommendation_from_json, obj) if r is not None)


def _opt_str(obj: object) -> str | None:
    return obj if isinstance(obj, str) else None


def _hermes(obj: object) -> HermesView:
    h = obj if isinstance(obj, dict) else {}
    last = h.get("last_pass")
    return HermesView(
        path=_opt_str(h.get("path")),
        provider=_opt_str(h.get("provider")),
        model=_opt_str(h.get("model")),
        pinned=h.get("pinned") is True,
        pinned_since=_opt_str(h.get("pinned_since")),
        problem=_opt_str(h.get("problem")),
        last_pass=LastPass(str(last.get("outcome")), str(last.get("message"))) if isinstance(last, dict) else None,
    )


def _daemon(obj: object) -> DaemonInfo | None:
    if not isinstance(obj, dict):
        return None
    return DaemonInfo(
        pid=int(obj["pid"]),
        version=str(obj["version"]),
        started_at=str(obj["started_at"]),
        interval=float(obj["interval"]),
        config=_opt_str(obj.get("config")),
        watching=tuple(map(str, obj.get("watching") or ())),
        dropped_turns=int(obj.get("dropped_turns") or 0),
        turns_by_source={str(k): int(v) for k, v in (obj.get("turns_by_source") or {}).items()},
        last_turn_at={str(k): str(v) for k, v in (obj.get("last_turn_at") or {}).items()},
        received_turns=int(obj.get("received_turns") or 0),
        processed_turns=int(obj.get("processed_turns") or 0),
    )


def _errors(obj: object) -> tuple[str, ...]:
    """An answer's optional `errors`: () when absent (a bhogad older than the field) or not a list."""
    return tuple(map(str, obj)) if isinstance(obj, list) else ()


def _status(obj: dict[str, Any]) -> StatusAnswer:
    quotas = obj.get("quotas") or []
    routes = obj.get("routes") or []
    if not isinstance(quotas, list) or not all(isinstance(q, dict) for q in quotas) or not isinstance(routes, list):
        raise TypeError("quotas and routes must be lists of objects")
    return StatusAnswer(
        quotas=tuple(quotas),
        hermes=_hermes(obj.get("hermes")),
        routes=tuple(RouteView(str(r["model"]), _ranked(r.get("ranked"))) for r in routes),
        paused=obj.get("paused") is True,
        daemon=_daemon(obj.get("daemon")),
        policy=_opt_str(obj.get("policy")),
        errors=_errors(obj.get("errors")),
    )


def _discovered(obj: object) -> tuple[Discovered, ...]:
    if not isinstance(obj, list):
        return ()
    return tuple(
        Discovered(
            provider_id=str(d["provider_id"]),
            model=str(d.get("model") or ANY_MODEL),
            quota_pct=float(d.get("quota_pct", -1.0)),
            status=str(d.get("status")),
            note=str(d.get("note") or ""),
        )
        for d in obj
        if isinstance(d, dict)
    )


def _pass(obj: dict[str, Any]) -> PassAnswer:
    h = obj.get("hermes")
    if not isinstance(h, dict):
        raise TypeError("hermes must be an object")
    return PassAnswer(
        pid=int(obj["pid"]),
        joined=obj.get("joined") is True,
        started_at=str(obj.get("started_at") or ""),
        discovered=_discovered(obj.get("discovered")),
        outcome=str(h["outcome"]),
        changed=h.get("changed") is True,
        message=str(h.get("message") or ""),
        path=_opt_str(h.get("path")),
        provider=_opt_str(h.get("provider")),
        model=_opt_str(h.get("model")),
        errors=_errors(obj.get("errors")),
    )


def _answer(request: Request, obj: dict[str, Any]) -> Response:
    match request:
        case PingRequest():
            return PingAnswer(int(obj["pid"]), str(obj["version"]))
        case BestRequest():
            ranked = _ranked(obj.get("ranked"))
            return BestAnswer(recommendation_from_json(obj.get("recommendation")), ranked, _errors(obj.get("errors")))
        case StatusRequest():
            return _status(obj)
        case PauseRequest() | ResumeRequest():
            return PausedAnswer(obj.get("paused") is True)
        case ApplyRequest():
            return ApplyAnswer(
                changed=obj.get("changed") is True,
                provider=_opt_str(obj.get("provider")),
                reason=str(obj.get("reason") or ""),
                path=str(obj.get("path") or ""),
                diff=_opt_str(obj.get("diff")),
                route=_opt_str(obj.get("route")),
            )
        case SubscribeRequest():
            return Subscribed()
        case PassRequest():
            return _pass(obj)
    return OK


def decode_response(request: Request, line: bytes) -> Response:
    """The answer to `request` read from `line`; `ProtocolError` when it is not a protocol v1 answer."""
    try:
        obj = json.loads(line)
    except ValueError:
        raise ProtocolError("the answer is not JSON") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("ok"), bool):
        raise ProtocolError("the answer is not a protocol v1 object")
    if obj["ok"] is False:
        return Failure(str(obj.get("error") or "no reason given"))
    try:
        return _answer(request, obj)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"malformed {type(request).__name__} answer: {exc!s:.80}") from None
