"""Socket protocol v1 answers as lines: the daemon's one encoder (DESIGN §7, §8).

`encode_response` is the only place an answer (`bhoga._responses`) becomes a line; `response_json` is the JSON
object on the wire, which `status --json` prints too, and `bhoga._responses_decode` reads it back.
"""

from __future__ import annotations

from bhoga._model import RouterRecommendation
from bhoga._protocol import encode, error_line
from bhoga._protocol_json import recommendation_to_json
from bhoga._responses import (
    OK_LINE,
    ApplyAnswer,
    BestAnswer,
    DaemonInfo,
    Failure,
    HermesView,
    Ok,
    PassAnswer,
    PausedAnswer,
    PingAnswer,
    Response,
    StatusAnswer,
    Subscribed,
)

__all__ = ["encode_response", "response_json", "status_event"]


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
