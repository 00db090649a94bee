"""Quota discovery: what each provider's own files and usage endpoints say, with no model call.

Local files come first; the network is used only when `BHOGA_OFFLINE` is not set and the call gate allows
it (one call per source per interval, a server's `retry-after` honoured across processes). Tokens are read,
never refreshed, never logged. Every function here returns what it could read and never raises for a
fault outside bhoga (missing, garbage or huge files, HTTP errors, timeouts, broken CLIs).
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime
from types import ModuleType

from bhoga._model import Observation, QuotaWindow
from bhoga._paths import offline
from bhoga._providers import PROVIDERS, provider
from bhoga._record import replace

from ._common import CredentialFact, collect_failures, log_failure, utcnow
from ._gate import Gate
from ._hermes_view import fingerprint, seen
from .codex_files import get_codex_models

__all__ = [
    "CredentialFact",
    "check_quota",
    "credential_report",
    "discover",
    "discover_all",
    "get_codex_models",
    "source",
]

log = logging.getLogger(__name__)


def source(pid: str) -> ModuleType | None:
    """The discovery module of `pid` (its `discover`, `credential_fact` and optional `watched`); None for a
    metered API, which is found from the keys Hermes sees."""
    name = provider(pid).discovery
    return importlib.import_module(name) if name else None


def _api_key_observation(pid: str, now: datetime) -> Observation:
    """A metered API is a candidate when Hermes can see its key (shell or `$HERMES_HOME/.env`); nothing is
    called to find out more."""
    p = provider(pid)
    found = seen(p.keys)
    if not found:
        note = f"{' / '.join(p.keys)} not set for Hermes (shell or $HERMES_HOME/.env)"
        return Observation(pid, now, credential=False, source="env", note=note)
    # The endpoint Hermes will be sent to: another than the usual one is said (an OpenRouter key alone).
    names = {f.name for f in found}
    endpoint = next((e for e in p.endpoints if names & set(e.bills)), p.endpoints[0])
    extra = (("route", endpoint.provider),) if endpoint is not p.endpoints[0] else ()
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
    """One provider's observation. Raises ValueError for an unknown `pid`, nothing else.

    What failed on the way (an endpoint's error or timeout, an unreadable file: each logged once as a warning) is
    in the observation's `failures`, one line each, never a secret; `unasked` says a call was skipped (the call
    gate refused it) and nothing fresh was read instead.
    """
    provider(pid)
    when = now or utcnow()
    with collect_failures() as got:
        found = _discover(pid, when, force, gate)
    if got.lines or got.unasked:
        return replace(found, failures=tuple(got.lines), unasked=got.unasked)
    return found


def _discover(pid: str, when: datetime, force: bool, gate: Gate | None) -> Observation:
    try:
        module = source(pid)
        if module is None:
            return _api_key_observation(pid, when)
        found: Observation = module.discover(gate or Gate(), when, force=force, network=not offline())
        return found
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
    return [discover(pid, force=force, gate=gate, now=now) for pid in list(PROVIDERS)]


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
    for pid in list(PROVIDERS):
        try:
            module = source(pid)
            if module is not None:
                facts.append(module.credential_fact(now))
        except Exception as e:
            log_failure(log, "credential check failed", e)
    for pid, p in list(PROVIDERS.items()):
        if p.discovery is not None:
            continue
        found = seen(p.keys)
        summary = (
            f"{found[0].name} is set for Hermes ({', '.join(found[0].sources)})"
            if found
            else f"{' / '.join(p.keys)} not set for Hermes (shell or $HERMES_HOME/.env)"
        )
        fix = "" if found else f"add {p.keys[0]}=… to $HERMES_HOME/.env"
        facts.append(CredentialFact(pid, bool(found), summary, fix))
    return facts
