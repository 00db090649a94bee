"""Socket protocol v1 answers as types (DESIGN §7, §8): one encoder for the daemon, one decoder for its clients.

The daemon's handler returns one of these records; `encode_response` is the only place an answer becomes a
line, and `decode_response` the only place a client turns a line back into a record, so a field added to an
answer is added here once. Quotas in `status` stay the JSON objects of `quota_to_json` (they carry derived
fields such as paces and credential states that a `ProviderQuota` does not hold); `quota_from_json` reads one.
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
    encode,
    error_line,
)
from bhoga._protocol_json import recommendation_from_json, recommendation_to_json
from bhoga._record import field, record
from bhoga.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final, TypeAlias

__all__ = [
    "OK",
    "ApplyAnswer",
    "BestAnswer",
    "DaemonInfo",
    "Discovered",
    "Failure",
    "HermesView",
    "LastPass",
    "Ok",
    "PassAnswer",
    "PausedAnswer",
    "PingAnswer",
    "Response",
    "RouteView",
    "StatusAnswer",
    "Subscribed",
    "decode_response",
    "encode_response",
    "status_event",
]


@record
class Ok:
    """`{"ok":true}`: the request was taken (turn, set_quota, pin, unpin)."""


OK: Final = Ok()
OK_LINE: Final = b'{"ok":true}\n'


@record
class Failure:
    """`{"ok":false,"error":...}`: the request was refused, for the one-line reason given."""

    error: str


@record
class PingAnswer:
    """bhogad's answer to `ping`: its process id and version."""

    pid: int
    version: str


@record
class BestAnswer:
    """The pick for a model (None: no candidate) and every candidate, best first (the pick is `ranked[0]`)."""

    recommendation: RouterRecommendation | None
    ranked: tuple[RouterRecommendation, ...] = ()
    errors: tuple[str, ...] = ()
    """What bhogad's discoveries last failed at and has not got through since (`discovery failed: <pid>: <why>`)."""


@record
class PausedAnswer:
    """Whether Hermes writes are paused after a `pause` or `resume`."""

    paused: bool


@record
class ApplyAnswer:
    """What `apply` did (DESIGN §8.2): `diff` only for a dry run, `route` only for a real one."""

    changed: bool
    provider: str | None
    reason: str
    path: str
    diff: str | None = None
    route: str | None = None


@record
class Subscribed:
    """The answer to `subscribe`; status pushes follow on the same connection."""


@record
class LastPass:
    """How bhogad's last pass over Hermes' config ended, and its one-line message."""

    outcome: str
    message: str


@record
class HermesView:
    """Hermes' route as bhoga last saw it, whether bhoga may change it, and why it is unknown if it is."""

    path: str | None
    provider: str | None
    model: str | None
    pinned: bool = False
    pinned_since: str | None = None
    problem: str | None = None
    last_pass: LastPass | None = None


@record
class RouteView:
    """The ranking for one routed model: the pick and every candidate, best first."""

    model: str
    ranked: tuple[RouterRecommendation, ...]

    @property
    def recommendation(self) -> RouterRecommendation | None:
        return self.ranked[0] if self.ranked else None


@record
class DaemonInfo:
    """bhogad's own facts in `status`; `received_turns` = `processed_turns` + queued, `dropped_turns` lost."""

    pid: int
    version: str
    started_at: str
    interval: float
    config: str | None
    watching: tuple[str, ...] = ()
    dropped_turns: int = 0
    turns_by_source: dict[str, int] = field(default_factory=dict)
    last_turn_at: dict[str, str] = field(default_factory=dict)
    received_turns: int = 0
    processed_turns: int = 0


@record
class StatusAnswer:
    """Everything known: quotas (the `quota_to_json` objects), Hermes' route, the routed models' rankings, and
    the daemon's own facts (None when the CLI computed the answer itself, without a daemon)."""

    quotas: tuple[dict[str, Any], ...]
    hermes: HermesView
    routes: tuple[RouteView, ...]
    paused: bool
    daemon: DaemonInfo | None = None
    policy: str | None = None
    """The routing policy the answer was ranked under (None from a bhogad older than this field)."""
    errors: tuple[str, ...] = ()
    """Discovery failures, `discovery failed: <pid>: <why>` each: bhogad's last ones per provider (until that
    provider gets through), or the CLI's own discovery's; empty from a bhogad older than this field."""


@record
class Discovered:
    """One quota as a `pass` left it: headroom 0.0-1.0 (-1.0 unknown), status, and discovery's note (which says
    when a usage endpoint was not called, and why)."""

    provider_id: str
    model: str
    quota_pct: float
    status: str
    note: str = ""


@record
class PassAnswer:
    """What a `pass` did (DESIGN §8.2): the quotas after its discovery, how its Hermes pass ended (`outcome` as in
    `status`'s `last_pass`; `changed` when it rewrote the config), and anything that failed on the way.

    `joined` says the request arrived while a pass was running and got that pass's answer."""

    pid: int
    joined: bool
    started_at: str
    discovered: tuple[Discovered, ...]
    outcome: str
    changed: bool
    message: str
    path: str | None = None
    provider: str | None = None
    model: str | None = None
    errors: tuple[str, ...] = ()


Response: TypeAlias = (
    Ok | Failure | PingAnswer | BestAnswer | PausedAnswer | ApplyAnswer | Subscribed | StatusAnswer | PassAnswer
)


def _ranked_json(ranked: tuple[RouterRecommendation, ...]) -> list[object]:
    return [recommendation_to_json(r) for r in ranked]


def _hermes_json(h: HermesView) -> dict[str, object]:
    last = {"outcome": h.last_pass.outcome, "message": h.last_pass.message} if h.last_pass else None
    return {
        "path": h.path,
        "provider": h.provider,
        "model": h.model,
        "last_pass": last,
        "pinned": h.pinned,
        "pinned_since": h.pinned_since,
        "problem": h.problem,
    }


def _daemon_json(d: DaemonInfo) -> dict[str, object]:
    return {
        "pid": d.pid,
        "version": d.version,
        "started_at": d.started_at,
        "interval": d.interval,
        "config": d.config,
        "watching": list(d.watching),
        "dropped_turns": d.dropped_turns,
        "turns_by_source": dict(d.turns_by_source),
        "last_turn_at": dict(d.last_turn_at),
        "received_turns": d.received_turns,
        "processed_turns": d.processed_turns,
    }


def _pass_json(p: PassAnswer) -> dict[str, object]:
    return {
        "ok": True,
        "pid": p.pid,
        "joined": p.joined,
        "started_at": p.started_at,
        "discovered": [
            {
                "provider_id": d.provider_id,
                "model": d.model,
                "quota_pct": d.quota_pct,
                "status": d.status,
                "note": d.note,
            }
            for d in p.discovered
        ],
        "hermes": {
            "outcome": p.outcome,
            "changed": p.changed,
            "message": p.message,
            "path": p.path,
            "provider": p.provider,
            "model": p.model,
        },
        "errors": list(p.errors),
    }


def response_json(response: Response) -> dict[str, object]:
    """`response` as the JSON object on the wire (what `status --json` prints, too)."""
    match response:
        case Ok():
            return {"ok": True}
        case Failure():
            return {"ok": False, "error": " ".join(response.error.split())}
        case PingAnswer():
            return {"ok": True, "pid": response.pid, "version": response.version}
        case BestAnswer():
            return {
                "ok": True,
                "recommendation": recommendation_to_json(response.recommendation),
                "ranked": _ranked_json(response.ranked),
                "errors": list(response.errors),
            }
        case PausedAnswer():
            return {"ok": True, "paused": response.paused}
        case ApplyAnswer():
            body: dict[str, object] = {
                "ok": True,
                "changed": response.changed,
                "provider": response.provider,
                "reason": response.reason,
                "path": response.path,
            }
            if response.diff is not None:
                body["diff"] = response.diff
            if response.route is not None:
                body["route"] = response.route
            return body
        case Subscribed():
            return {"ok": True, "subscribed": True}
        case PassAnswer():
            return _pass_json(response)
        case StatusAnswer():
            return {
                "ok": True,
                "quotas": list(response.quotas),
                "hermes": _hermes_json(response.hermes),
                "routes": [
                    {
                        "model": r.model,
                        "recommendation": recommendation_to_json(r.recommendation),
                        "ranked": _ranked_json(r.ranked),
                    }
                    for r in response.routes
                ],
                "paused": response.paused,
                "daemon": _daemon_json(response.daemon) if response.daemon else None,
                "policy": response.policy,
                "errors": list(response.errors),
            }
    raise TypeError(f"not a response: {type(response).__name__}")


def encode_response(response: Response) -> bytes:
    """`response` as one answer line."""
    if type(response) is Ok:
        return OK_LINE
    if type(response) is Failure:
        return error_line(response.error)
    return encode(response_json(response))


def status_event(status: StatusAnswer) -> bytes:
    """The line pushed to `subscribe`d connections: the status answer with `"event":"status"` in front."""
    return encode({"event": "status", **response_json(status)})


# -- the client's side ---------------------------------------------------------------------------------------


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
