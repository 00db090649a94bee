"""What a provider entry of the registry says (DESIGN §2): how it is paid for, how Hermes reaches it, how it
spells models. The records only; the entries themselves are `bhoga._providers.PROVIDERS`. Pure data: no I/O.
"""

from __future__ import annotations

from enum import StrEnum

from bhoga._record import record

__all__ = ["Endpoint", "Kind", "ModelNames", "Provider"]


class Kind(StrEnum):
    """How a provider is paid for, which decides how its quota is ranked."""

    SUBSCRIPTION = "subscription"
    METERED = "metered"


class ModelNames(StrEnum):
    """How the Hermes provider spells a model name (HERMES.md §5)."""

    HYPHENATED = "hyphenated"
    """Anthropic: `claude-sonnet-4-6` (a dotted version gets hyphens)."""
    COPILOT = "copilot"
    """Copilot: Claude models with a dotted version (`claude-sonnet-4.6`), others as they are."""
    BARE = "bare"
    """The bare name, dots kept (OpenAI, Codex)."""
    VENDOR = "vendor"
    """An aggregator's `vendor/model` id (OpenRouter)."""


@record
class Endpoint:
    """One way Hermes reaches a provider: the `model.*` keys bhoga writes for it (HERMES.md §3, §7)."""

    provider: str
    """Hermes' `model.provider` (a canonical id, or the name of a `providers:` entry bhoga writes)."""
    bills: tuple[str, ...] = ()
    """The variables Hermes bills on this endpoint, in its order of preference."""
    login: str | None = None
    """What Hermes uses when none of `bills` is set ("claude_login", "gh_cli", "hermes_auth:<name>"); None: the
    endpoint needs one of `bills` (a metered key)."""
    base_url: str | None = None
    api_mode: str | None = None
    entry: tuple[tuple[str, str], ...] = ()
    """Keys of the `providers.<provider>` entry this endpoint needs (a custom endpoint)."""
    names: ModelNames | None = None
    """How this endpoint spells models; None: the provider's `names`."""
    serves: tuple[str, ...] = ()
    """Model families it serves; empty: the provider's family (every vendor for family "any")."""

    @property
    def auth(self) -> str | None:
        """The login of Hermes' auth store this endpoint needs ("openai-codex"), if any."""
        if self.login is not None and self.login.startswith("hermes_auth:"):
            return self.login.split(":", 1)[1]
        return None


@record
class Provider:
    """One entry of the registry."""

    id: str
    kind: Kind
    family: str
    """"anthropic", "openai", "google", or "any" (Copilot serves every family)."""
    priority: int
    """Preference within a family, lower first (a subscription before the metered API of the same vendor)."""
    label: str
    endpoints: tuple[Endpoint, ...]
    """How bhoga writes this provider for Hermes; the first one whose credential Hermes sees is used."""
    names: ModelNames = ModelNames.BARE
    keys: tuple[str, ...] = ()
    """Variables Hermes reads for this provider (its environment, else `$HERMES_HOME/.env`), in its order."""
    hermes_auth: tuple[str, ...] = ()
    """Provider names in Hermes' auth store (`$HERMES_HOME/auth.json`) whose login counts for this provider."""
    aliases: tuple[tuple[str, str], ...] = ()
    """(name, endpoint provider): other `model.provider` names Hermes resolves to one of `endpoints`."""
    task_aliases: tuple[tuple[str, str], ...] = ()
    """Like `aliases`, but accepted by Hermes only in `auxiliary.*` (never as `model.provider`)."""
    counts: tuple[str, ...] = ()
    """Hermes providers bhoga never writes whose calls still spend this provider's quota (`copilot-acp`)."""
    hosts: tuple[str, ...] = ()
    """API hosts that identify this provider behind a custom endpoint (the Hermes plugin's turns)."""
    discovery: str | None = None
    """The module whose `discover` / `credential_fact` / `watched` read this provider's quota and login; None
    for a metered API, which is a candidate when Hermes sees one of `keys` (nothing is called)."""
    needs_verification: bool = False
    """A credential that may not be for this provider at all (a GitHub token without a Copilot seat): present
    is not enough, the provider must have accepted it (or Hermes' auth store must hold a login for it)."""
    quota_windows: tuple[str, str] = ("burst", "weekly")
    """Window names of a `set_quota` figure: the main one and the weekly one."""
    refresh_fix: str = ""
    """`bhoga doctor`'s fix for an expired or stale login."""
    rejected_fix: str = "replace the key or token"
    """`bhoga doctor`'s fix for a credential the provider answered 401/403 to."""

    @property
    def hermes_ids(self) -> tuple[str, ...]:
        """The Hermes `model.provider` values bhoga writes for this provider."""
        return tuple(e.provider for e in self.endpoints)
