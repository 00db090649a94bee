"""Folding observations into provider quotas (pure): per window, per fact, the newest observation wins.

The same rule merges two processes' views of the state file, so a record written by another process is never
lost to an older one of ours, and vice versa.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bhoga._model import Observation, ProviderQuota, QuotaWindow
from bhoga._providers import PROVIDERS
from bhoga._record import replace

__all__ = [
    "CREDENTIAL_STATES",
    "MAX_AHEAD",
    "cap_ahead",
    "combine",
    "credential_state",
    "from_observation",
    "needs_verification",
]

CREDENTIAL_STATES = ("verified", "unverified", "rejected", "absent")


def needs_verification(pid: object) -> bool:
    """Whether a credential for `pid` may not be for it at all (the registry's `needs_verification`): present
    is not enough, the provider must have accepted it (or Hermes' auth store must hold a login for it)."""
    p = PROVIDERS.get(pid) if isinstance(pid, str) else None
    return p is not None and p.needs_verification


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_AHEAD = timedelta(days=31)
"""No reset, retry-after or throttle end taken from outside lies further ahead than this (DESIGN §8.4): a server
asking for a year's wait, or a clock gone wrong, costs a provider at most a month."""


def cap_ahead(t: datetime | None, now: datetime) -> datetime | None:
    """`t`, but never later than `now` + `MAX_AHEAD`."""
    if t is None:
        return None
    limit = now + MAX_AHEAD
    return limit if t > limit else t


def _t(value: datetime | None) -> datetime:
    return value or _EPOCH


def from_observation(obs: Observation) -> ProviderQuota:
    """A provider quota holding exactly what `obs` says, stamped with its time."""
    windows = tuple(
        replace(w, observed_at=w.observed_at or obs.at, resets_at=cap_ahead(w.resets_at, obs.at)) for w in obs.windows
    )
    throttle_news = obs.throttled_until is not None or obs.succeeded
    return ProviderQuota(
        provider_id=obs.provider_id,
        windows=windows,
        throttled_until=cap_ahead(obs.throttled_until, obs.at),
        credential=bool(obs.credential),
        updated_at=obs.at,
        note=obs.note,
        extra=obs.extra,
        throttle_observed_at=obs.at if throttle_news else None,
        credential_observed_at=obs.at if obs.credential is not None else None,
        credential_sources=obs.sources if obs.credential is not None else (),
        credential_marker=obs.marker if obs.credential is not None else "",
        verdict=obs.verdict,
        verdict_marker=obs.marker if obs.verdict else "",
        verdict_observed_at=obs.at if obs.verdict else None,
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
    cred_other = old if cred_src is new else new
    sources, marker = cred_src.credential_sources, cred_src.credential_marker
    if cred_src.credential and not sources and cred_other.credential:
        # A turn proves a credential works without saying where it lives: keep what discovery said.
        sources, marker = cred_other.credential_sources, marker or cred_other.credential_marker
    verdict_src = new if _t(new.verdict_observed_at) >= _t(old.verdict_observed_at) else old
    verdict_marker = verdict_src.verdict_marker
    if verdict_src.verdict and not verdict_marker:
        # A turn's 401 is about whatever credential is in use now.
        verdict_marker = marker
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
        credential_sources=sources,
        credential_marker=marker,
        verdict=verdict_src.verdict if verdict_src.verdict_observed_at else "",
        verdict_marker=verdict_marker,
        verdict_observed_at=verdict_src.verdict_observed_at,
    )


def credential_state(q: ProviderQuota) -> str:
    """One of `CREDENTIAL_STATES` for `q` (DESIGN §8.1).

    A verdict counts only for the credential it was given about: a new key or token (another fingerprint)
    starts over. A rejected credential stays rejected until its file or variable changes.
    """
    if not q.credential:
        return "absent"
    same = not q.verdict_marker or not q.credential_marker or q.verdict_marker == q.credential_marker
    if q.verdict == "rejected" and same:
        return "rejected"
    if q.verdict == "verified" and same:
        return "verified"
    if needs_verification(q.provider_id) and "hermes_auth" not in q.credential_sources:
        return "unverified"
    return "verified"
