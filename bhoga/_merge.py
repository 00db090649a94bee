"""Folding observations into provider quotas (pure): per window, per fact, the newest observation wins.

The same rule merges two processes' views of the state file, so a record written by another process is never
lost to an older one of ours, and vice versa.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bhoga._model import Observation, ProviderQuota, QuotaWindow

__all__ = ["combine", "from_observation"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _t(value: datetime | None) -> datetime:
    return value or _EPOCH


def from_observation(obs: Observation) -> ProviderQuota:
    """A provider quota holding exactly what `obs` says, stamped with its time."""
    windows = tuple(w if w.observed_at else replace(w, observed_at=obs.at) for w in obs.windows)
    throttle_news = obs.throttled_until is not None or obs.succeeded
    return ProviderQuota(
        provider_id=obs.provider_id,
        windows=windows,
        throttled_until=obs.throttled_until,
        credential=bool(obs.credential),
        updated_at=obs.at,
        note=obs.note,
        extra=obs.extra,
        throttle_observed_at=obs.at if throttle_news else None,
        credential_observed_at=obs.at if obs.credential is not None else None,
    )


def _windows(a: tuple[QuotaWindow, ...], b: tuple[QuotaWindow, ...]) -> tuple[QuotaWindow, ...]:
    merged = {w.key: w for w in a}
    for w in b:
        old = merged.get(w.key)
        if old is None or _t(w.observed_at) >= _t(old.observed_at):
            merged[w.key] = w
    return tuple(merged.values())


def combine(old: ProviderQuota | None, new: ProviderQuota) -> ProviderQuota:
    """`old` updated with `new`: each window, the throttle, the credential and the note by their own age."""
    if old is None:
        return new
    throttle_src = new if _t(new.throttle_observed_at) >= _t(old.throttle_observed_at) else old
    cred_src = new if _t(new.credential_observed_at) >= _t(old.credential_observed_at) else old
    newer = new if _t(new.updated_at) >= _t(old.updated_at) else old
    older = old if newer is new else new
    return replace(
        old,
        windows=_windows(old.windows, new.windows),
        throttled_until=throttle_src.throttled_until if throttle_src.throttle_observed_at else None,
        throttle_observed_at=throttle_src.throttle_observed_at,
        credential=cred_src.credential if cred_src.credential_observed_at else False,
        credential_observed_at=cred_src.credential_observed_at,
        updated_at=newer.updated_at,
        # Notes are about credentials ("stale credentials", "401"), so they age with the credential fact.
        note=cred_src.note,
        extra=tuple({**dict(older.extra), **dict(newer.extra)}.items()),
    )
