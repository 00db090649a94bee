"""Credentials as Hermes sees them (DESIGN §8.1): its `.env` (which wins over the shell) and its auth store.

The routes bhoga writes are for Hermes, so a key counts when Hermes can see it, wherever this process runs.
Only names, sources and fingerprints leave this module, never a value.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os

from bhoga._providers import PROVIDERS
from bhoga._record import record
from bhoga.errors import BhogaError

__all__ = ["Seen", "fingerprint", "hermes_auth_logins", "hermes_env", "seen"]

log = logging.getLogger(__name__)


def fingerprint(value: str) -> str:
    """A short digest that tells two credentials apart without revealing either."""
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:16]


def hermes_env() -> dict[str, str]:
    """The variables of Hermes' `$HERMES_HOME/.env` (the live profile's), empty when there is none."""
    try:
        from bhoga.hermes._home import _dotenv_values, hermes_dir  # noqa: PLC0415 - only discovery needs it

        return _dotenv_values(hermes_dir() / ".env")
    except (BhogaError, OSError) as exc:
        log.debug("Hermes .env not read: %s", exc)
        return {}


def hermes_auth_logins() -> frozenset[str]:
    """bhoga providers with a login in Hermes' auth store (`$HERMES_HOME/auth.json`), by the registry's
    `hermes_auth` names: "openai-codex", "github-copilot"."""
    try:
        from bhoga.hermes._home import _read_text, hermes_dir  # noqa: PLC0415

        data = json.loads(_read_text(hermes_dir() / "auth.json", 4 * 1024 * 1024))
    except (BhogaError, OSError, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return frozenset()
    if not isinstance(data, dict):
        return frozenset()
    providers = data["providers"] if isinstance(data.get("providers"), dict) else {}
    pool = data["credential_pool"] if isinstance(data.get("credential_pool"), dict) else {}
    found = set()
    for login, names in ((p.id, p.hermes_auth) for p in PROVIDERS.values()):
        for name in names:
            state = providers.get(name)
            tokens = state.get("tokens") if isinstance(state, dict) else None
            if isinstance(tokens, dict) and any(str(v or "").strip() for v in tokens.values()):
                found.add(login)
            if isinstance(state, dict) and str(state.get("access_token") or "").strip():
                found.add(login)
            entries = pool.get(name)
            if isinstance(entries, list) and any(
                isinstance(e, dict) and str(e.get("access_token") or "").strip() for e in entries
            ):
                found.add(login)
    return frozenset(found)


@record
class Seen:
    """The value Hermes would use for a variable (its `.env` first), and every place it was found."""

    name: str
    value: str
    sources: tuple[str, ...]


def seen(names: tuple[str, ...], dotenv: dict[str, str] | None = None) -> list[Seen]:
    """For each of `names` with a non-empty value for Hermes: the value Hermes uses and its sources."""
    dotenv = hermes_env() if dotenv is None else dotenv
    out = []
    for name in names:
        in_file = dotenv.get(name, "").strip()
        in_env = os.environ.get(name, "").strip()
        if not (in_file or in_env):
            continue
        sources = tuple(s for s, v in (("env", in_env), ("hermes_env", in_file)) if v)
        out.append(Seen(name, in_file or in_env, sources))
    return out
