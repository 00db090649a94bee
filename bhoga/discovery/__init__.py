"""Quota discovery: what each provider's own files and usage endpoints say, with no model call.

Local files come first; the network is used only when `BHOGA_OFFLINE` is not set and the call gate allows
it (one call per source per interval, a server's `retry-after` honoured across processes). Tokens are read,
never refreshed, never logged. Every function here returns what it could read and never raises for a
fault outside bhoga (missing, garbage or huge files, HTTP errors, timeouts, broken CLIs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bhoga._model import Observation, QuotaWindow
from bhoga._paths import offline
from bhoga._providers import PROVIDERS, provider

from ._common import CredentialFact, log_failure, utcnow
from ._gate import Gate
from ._hermes_view import fingerprint, seen
from .claude import claude_credential_fact, discover_claude
from .codex import codex_credential_fact, discover_codex
from .codex_files import get_codex_models
from .copilot import copilot_credential_fact, discover_copilot

__all__ = ["CredentialFact", "check_quota", "credential_report", "discover", "discover_all", "get_codex_models"]

log = logging.getLogger(__name__)

_API_KEYS: dict[str, tuple[str, ...]] = {
    "anthropic_api": ("ANTHROPIC_API_KEY",),
    "openai_api": ("OPENAI_API_KEY", "OPENROUTER_API_KEY"),
}
_Source = Callable[..., Observation]
_SOURCES: dict[str, _Source] = {
    "claude_code": discover_claude,
    "openai-codex": discover_codex,
    "github-copilot": discover_copilot,
}


def _api_key_observation(pid: str, now: datetime) -> Observation:
    """A metered API is a candidate when Hermes can see its key (shell or `$HERMES_HOME/.env`); nothing is
    called to find out more."""
    found = seen(_API_KEYS[pid])
    extra: tuple[tuple[str, str], ...] = ()
    if pid == "openai_api" and [f.name for f in found] == ["OPENROUTER_API_KEY"]:
        extra = (("route", "openrouter"),)
    if not found:
        note = f"{' / '.join(_API_KEYS[pid])} not set for Hermes (shell or $HERMES_HOME/.env)"
        return Observation(pid, now, credential=False, source="env", note=note)
    first = found[0]
    where = " and ".join({"env": "the environment", "hermes_env": "$HERMES_HOME/.env"}[s] for s in first.sources)
    sources = tuple(dict.fromkeys(s for f in found for s in f.sources))
    return Observation(
        pid,
        now,
        credential=True,
        source="env",
        note=f"{first.name} is set in {where}",
        extra=extra,
        sources=sources,
        marker=fingerprint(first.value),
    )


def discover(pid: str, *, force: bool = False, gate: Gate | None = None, now: datetime | None = None) -> Observation:
    """One provider's observation. Raises ValueError for an unknown `pid`, nothing else."""
    provider(pid)
    when = now or utcnow()
    if pid in _API_KEYS:
        return _api_key_observation(pid, when)
    try:
        return _SOURCES[pid](gate or Gate(), when, force=force, network=not offline())
    except Exception as e:
        log_failure(log, f"{pid} discovery failed", e)
        return Observation(pid, when, source="none", note=f"discovery failed: {type(e).__name__}")


def discover_all(*, force: bool = False, interval: float | None = None) -> list[Observation]:
    """An observation for every provider, local files first, the network only when allowed. Never raises.

    `force` skips the local "too soon" rule (one call per source per `interval`, default 5 min) but never a
    server's retry-after or an auth back-off.
    """
    gate = Gate() if interval is None else Gate(interval=interval)
    now = utcnow()
    return [discover(pid, force=force, gate=gate, now=now) for pid in PROVIDERS]


def check_quota(pid: str) -> dict[str, QuotaWindow] | None:
    """The windows discovery finds for `pid` now, keyed "burst", "weekly", "weekly@opus", "monthly" ...

    None when nothing could be read (and always for the metered APIs, which have no windows to discover).
    Raises ValueError for an unknown provider id.
    """
    obs = discover(pid)
    return {w.key: w for w in obs.windows} or None


def credential_report() -> list[CredentialFact]:
    """Read-only facts about every provider's login for `bhoga doctor`: found, kind, state, fix. No secrets."""
    now = utcnow()
    facts: list[CredentialFact] = []
    checks: tuple[Callable[[], CredentialFact], ...] = (
        lambda: claude_credential_fact(now),
        lambda: codex_credential_fact(now),
        copilot_credential_fact,
    )
    for fn in checks:
        try:
            facts.append(fn())
        except Exception as e:
            log_failure(log, "credential check failed", e)
    for pid, names in _API_KEYS.items():
        found = seen(names)
        summary = (
            f"{found[0].name} is set for Hermes ({', '.join(found[0].sources)})"
            if found
            else f"{' / '.join(names)} not set for Hermes (shell or $HERMES_HOME/.env)"
        )
        fix = "" if found else f"add {names[0]}=… to $HERMES_HOME/.env"
        facts.append(CredentialFact(pid, bool(found), summary, fix))
    return facts
