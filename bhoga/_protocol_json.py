"""The JSON shapes of quotas and recommendations in protocol v1 answers, and their inverses.

`bhoga._protocol` re-exports these; they live apart so the request parser stays one concern.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bhoga._merge import credential_state, needs_verification
from bhoga._model import ANY_MODEL, ProviderQuota, ProviderStatus, QuotaWindow, RouterRecommendation
from bhoga.errors import ProtocolError

# Annotations only: `bhoga._pace` is loaded by whoever computes paces.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from bhoga._pace import Pace

__all__ = ["pace_to_json", "quota_from_json", "quota_to_json", "recommendation_from_json", "recommendation_to_json"]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def recommendation_to_json(rec: RouterRecommendation | None) -> dict[str, object] | None:
    """A recommendation as the JSON object the `best` and `status` responses carry; None stays null."""
    if rec is None:
        return None
    return {
        "provider_id": rec.provider_id,
        "model_id": rec.model_id,
        "quota_pct": rec.quota_pct,
        "status": str(rec.status),
        "hermes_model": rec.hermes_model,
        "priority": rec.priority,
        "reason": rec.reason,
        "binding_window": rec.binding_window,
        "resets_at": _iso(rec.resets_at),
    }


def recommendation_from_json(obj: object) -> RouterRecommendation | None:
    """The inverse of `recommendation_to_json`; `ProtocolError` when the object is not one."""
    if obj is None:
        return None
    try:
        assert isinstance(obj, dict)
        return RouterRecommendation(
            provider_id=str(obj["provider_id"]),
            model_id=str(obj["model_id"]),
            quota_pct=float(obj["quota_pct"]),
            status=ProviderStatus(obj["status"]),
            hermes_model=str(obj["hermes_model"]),
            priority=int(obj["priority"]),
            reason=str(obj["reason"]),
            binding_window=str(obj.get("binding_window") or ""),
            resets_at=_dt(obj.get("resets_at")),
        )
    except (AssertionError, KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed recommendation in response: {exc!s:.80}") from None


def pace_to_json(p: Pace | None) -> dict[str, object]:
    """A window's `"pace"` object (DESIGN §8.7): rate and runs-out time, null when unknown or not before reset."""
    if p is None:
        return {"pct_per_hour": None, "runs_out_at": None}
    return {"pct_per_hour": p.pct_per_hour, "runs_out_at": _iso(p.runs_out_at)}


def _window_to_json(w: QuotaWindow, pace: Pace | None) -> dict[str, object]:
    return {
        "name": w.name,
        "pct_used": w.pct_used,
        "resets_at": _iso(w.resets_at),
        "window_min": w.window_min,
        "scope": w.scope,
        "observed_at": _iso(w.observed_at),
        "source": w.source,
        "pace": pace_to_json(pace),
    }


def quota_to_json(q: ProviderQuota, paces: Mapping[tuple[str, str], Pace] | None = None) -> dict[str, object]:
    """A provider's quota as the JSON object the `status` response lists; `paces` from `Router.paces()`."""
    return {
        "provider_id": q.provider_id,
        "model": q.model,
        "windows": [_window_to_json(w, (paces or {}).get((q.provider_id, w.key))) for w in q.windows],
        "throttled_until": _iso(q.throttled_until),
        "credential": q.credential,
        "updated_at": _iso(q.updated_at),
        "note": q.note,
        "extra": dict(q.extra),
        "quota_pct": q.quota_pct,
        "status": str(q.status),
        "credential_state": credential_state(q),
        "credential_sources": list(q.credential_sources),
    }


def _verdict_of(pid: object, state: object) -> str:
    # The answer carries the derived state, not the fingerprints: rebuild a record that derives the same state.
    if state == "rejected" or (state == "verified" and needs_verification(pid)):
        return str(state)
    return ""


def quota_from_json(obj: object) -> ProviderQuota:
    """The inverse of `quota_to_json`; `ProtocolError` when the object is not one."""
    try:
        assert isinstance(obj, dict)
        windows = tuple(
            QuotaWindow(
                name=str(w["name"]),
                pct_used=float(w["pct_used"]),
                resets_at=_dt(w.get("resets_at")),
                window_min=int(w.get("window_min") or 0),
                scope=str(w.get("scope") or ANY_MODEL),
                observed_at=_dt(w.get("observed_at")),
                source=str(w.get("source") or ""),
            )
            for w in obj.get("windows") or ()
        )
        return ProviderQuota(
            provider_id=str(obj["provider_id"]),
            model=str(obj.get("model") or ANY_MODEL),
            windows=windows,
            throttled_until=_dt(obj.get("throttled_until")),
            credential=bool(obj.get("credential")),
            updated_at=_dt(obj.get("updated_at")),
            note=str(obj.get("note") or ""),
            extra=tuple((str(k), str(v)) for k, v in (obj.get("extra") or {}).items()),
            quota_pct=float(obj.get("quota_pct", -1.0)),
            status=ProviderStatus(obj.get("status", "unknown")),
            credential_sources=tuple(str(x) for x in obj.get("credential_sources") or ()),
            verdict=_verdict_of(obj.get("provider_id"), obj.get("credential_state")),
        )
    except (AssertionError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"malformed quota in response: {exc!s:.80}") from None
