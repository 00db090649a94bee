"""Records shared by every part of bhoga: quota windows, observations, provider quotas, recommendations.

All of them are frozen; change one with `bhoga._record.replace`. Times are aware datetimes in UTC.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from bhoga._record import field, record

__all__ = [
    "ANY_MODEL",
    "ESTIMATE",
    "Observation",
    "ProviderQuota",
    "ProviderStatus",
    "QuotaWindow",
    "RouterRecommendation",
    "window_name",
]

ANY_MODEL = "*"
ESTIMATE = "estimate"
"""`QuotaWindow.source` of a window raised by counted turns (`bhoga._turncount`), never recorded as history."""


class ProviderStatus(StrEnum):
    """How usable a provider is right now for one model."""

    OK = "ok"
    """Headroom above the reserve (or a metered API that can take a request)."""
    LOW = "low"
    """A known headroom below the reserve: usable, but only when nothing better is."""
    THROTTLED = "throttled"
    """A 429 or a rate-limit header says wait until a known time."""
    EXHAUSTED = "exhausted"
    """A window is at 100 % and has not reset yet."""
    UNKNOWN = "unknown"
    """The provider exists (a credential, a turn) but its quota has not been read."""


@record
class QuotaWindow:
    """One usage window of a provider, e.g. Claude's 5-hour window.

    Attributes:
        name: "burst" (5 h), "weekly" (7 d), "monthly" (Copilot), "budget" (a set_quota on a metered API),
            or the same names with a `scope` for per-model windows (Opus weekly is "weekly" scoped "opus").
        pct_used: percent used, 0-100.
        resets_at: when the window starts over, or None when unknown.
        window_min: the window's length in minutes, 0 when unknown.
        scope: "*" when the window binds every model of the provider, else a lowercase substring of the model
            names it binds ("opus", "sonnet", or a full model id for a per-model set_quota).
        observed_at: when this value was read; per window, the newest observation wins.
        source: where it came from ("oauth", "cache", "rollout", "header", "set_quota", ...).
    """

    name: str
    pct_used: float
    resets_at: datetime | None = None
    window_min: int = 0
    scope: str = ANY_MODEL
    observed_at: datetime | None = None
    source: str = ""

    def applies_to(self, model: str) -> bool:
        """Whether this window limits requests for `model`."""
        return self.scope == ANY_MODEL or self.scope in model.lower()

    @property
    def key(self) -> str:
        """The identity used for newest-wins merging: name plus scope."""
        return self.name if self.scope == ANY_MODEL else f"{self.name}@{self.scope}"


@record
class Observation:
    """Something learned about one provider at one moment; the only way quota state changes.

    Discovery, response headers, `set_quota` and recorded turns all become observations, and one pure merge
    folds them into `ProviderQuota` records.
    """

    provider_id: str
    at: datetime
    windows: tuple[QuotaWindow, ...] = ()
    throttled_until: datetime | None = None
    credential: bool | None = None
    """True: a credential was found or used; False: it is gone; None: no news about it."""
    succeeded: bool = False
    """A request just went through, so any throttle noted before `at` is over."""
    source: str = ""
    note: str = ""
    """One line for people, e.g. "stale credentials: token expired 2h ago"; never a secret."""
    extra: tuple[tuple[str, str], ...] = ()
    """Small facts worth showing (plan type, extra-usage state) as (key, value) pairs."""
    sources: tuple[str, ...] = ()
    """Where the credential was seen ("env", "hermes_env", "hermes_auth", "claude_login", ...); names only."""
    verdict: str = ""
    """What the provider said about the credential: "verified", "rejected", or "" (no news)."""
    marker: str = ""
    """A fingerprint of the credential this observation is about (never the secret), "" when unknown."""
    failures: tuple[str, ...] = ()
    """What failed while it was made (an endpoint's error, an unreadable file), one line each; never a secret.
    Told to whoever asked for the discovery; not part of the quota state."""
    unasked: bool = False
    """Discovery skipped a call (a minimum interval, a server's retry-after, an auth back-off) and read nothing
    fresh instead: no news on whether the source works. Not part of the quota state."""


@record
class ProviderQuota:
    """Everything bhoga knows about one provider account.

    `quotas()` keys these "pid:model"; windows that bind one model only carry that model in their scope.
    """

    provider_id: str
    model: str = ANY_MODEL
    windows: tuple[QuotaWindow, ...] = ()
    throttled_until: datetime | None = None
    credential: bool = False
    updated_at: datetime | None = None
    note: str = ""
    extra: tuple[tuple[str, str], ...] = ()
    quota_pct: float = -1.0
    """Headroom 0.0-1.0 over the windows binding `model`, -1.0 when unknown (computed when read)."""
    status: ProviderStatus = ProviderStatus.UNKNOWN
    throttle_observed_at: datetime | None = None
    credential_observed_at: datetime | None = None
    credential_sources: tuple[str, ...] = ()
    """Where the credential was last seen; names only (ages with `credential`)."""
    credential_marker: str = ""
    """Fingerprint of the credential last seen (ages with `credential`)."""
    verdict: str = ""
    """"verified" or "rejected" by the provider for the credential `verdict_marker`; "" when never checked."""
    verdict_marker: str = ""
    verdict_observed_at: datetime | None = None

    def window(self, name: str) -> QuotaWindow | None:
        """The account-wide window called `name`, if known."""
        for w in self.windows:
            if w.name == name and w.scope == ANY_MODEL:
                return w
        return None


@record
class RouterRecommendation:
    """The provider to use for a model, and why.

    Attributes:
        provider_id: bhoga's provider id (DESIGN §2).
        model_id: the model asked for.
        quota_pct: headroom 0.0-1.0 of the binding window, -1.0 when unknown.
        status: how usable the provider is.
        hermes_model: the model name Hermes should send to that provider.
        priority: the provider's priority (1 is preferred).
        reason: one line a person can read, e.g. "claude_code 5h window 4% < reserve 10% → anthropic_api".
        binding_window: the window that sets `quota_pct` ("burst", "weekly", ...), "" when none.
        resets_at: when the binding window resets, or when a throttle ends.
    """

    provider_id: str
    model_id: str
    quota_pct: float
    status: ProviderStatus
    hermes_model: str
    priority: int
    reason: str
    binding_window: str = ""
    resets_at: datetime | None = field(default=None, compare=False)


def window_name(minutes: int) -> str:
    """Name a window by its length, never by the slot it arrived in (Codex moves the weekly one to "primary").

    300 min → "burst", 10080 min → "weekly", about a month → "monthly", anything else "<n>m".
    """
    if 240 <= minutes <= 360:
        return "burst"
    if 9000 <= minutes <= 11000:
        return "weekly"
    if 40000 <= minutes <= 45000:
        return "monthly"
    return f"{minutes}m"
