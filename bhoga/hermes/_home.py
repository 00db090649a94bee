"""Which Hermes config bhoga edits, and what Hermes can see there: its `.env` keys and its own logins.

Mirrors Hermes 0.19.0's profile rule (`hermes_cli/main.py _apply_profile_override`): a `HERMES_HOME` whose
parent directory is named `profiles` is used as it is; otherwise the Hermes root (`HERMES_HOME`, else
`~/.hermes`) is used unless its `active_profile` file names another profile, whose directory then holds the
live config. Only names and booleans leave this module, never a secret's value.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from bhoga import _files, _lazy, _paths
from bhoga._providers import PROVIDERS, credential_vars
from bhoga._record import record
from bhoga.errors import HermesConfigError, NotRegularFileError

__all__ = ["HermesFacts", "hermes_config_path", "hermes_dir", "read_facts"]

log = _lazy.logger(__name__)

_PROFILE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_ENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")


def _read_text(path: Path, limit: int) -> str:
    """A bounded, non-blocking read; a FIFO or device where Hermes keeps a file is refused with one warning."""
    try:
        return _files.read_bounded(path, limit).decode("utf-8")
    except NotRegularFileError as e:
        _files.warn_once(log, e)
        raise


def hermes_dir() -> Path:
    """The directory of the live Hermes config (a profile's directory when one is active)."""
    env_home = os.environ.get("HERMES_HOME", "").strip()
    if env_home and Path(env_home).expanduser().parent.name == "profiles":
        return Path(env_home).expanduser()
    root = _paths.hermes_home()
    active = root / "active_profile"
    try:
        name = _read_text(active, 4096).strip()
    except (OSError, UnicodeDecodeError):
        return root
    if not name or name == "default":
        return root
    if not _PROFILE_NAME.fullmatch(name):
        raise HermesConfigError(f"{active}: {name!r} is not a valid Hermes profile name")
    profile = root / "profiles" / name
    if not profile.is_dir():
        raise HermesConfigError(f"{active}: names profile {name!r}, but {profile} does not exist")
    return profile


def hermes_config_path() -> Path:
    """The `config.yaml` Hermes reads now (HERMES_HOME / active_profile rule of Hermes 0.19)."""
    return hermes_dir() / "config.yaml"


def _dotenv_values(path: Path) -> dict[str, str]:
    """The variables of a Hermes `.env` (python-dotenv syntax, enough of it for KEY=VALUE lines)."""
    try:
        text = _read_text(path, 1024 * 1024)
    except (OSError, UnicodeDecodeError):
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        m = _ENV_LINE.match(line)
        if m is None or line.lstrip().startswith("#"):
            continue
        value = m.group(2).strip()
        if value[:1] in ("'", '"'):
            end = value.find(value[0], 1)
            value = value[1:end] if end > 0 else value[1:]
        else:
            value = value.split(" #", 1)[0].strip()
        values[m.group(1)] = value
    return values


@record
class HermesFacts:
    """What decides a route: credential variables Hermes sees, and the logins of Hermes' own auth store."""

    visible: frozenset[str]
    """Credential variables with a non-empty value for Hermes (its `.env` overrides the shell)."""
    auth_logins: frozenset[str]
    """Providers of Hermes' auth store that an endpoint needs (`openai-codex`) and that hold a login."""
    classic_github_token: bool
    """The first GitHub token Hermes would use is a classic `ghp_` PAT (Copilot rejects those)."""
    home: Path
    claude_login: bool | None = None
    """Hermes can find a Claude Code login; None where it cannot be told (the macOS Keychain)."""

    def has(self, name: str) -> bool:
        return name in self.visible


def _auth_logins(auth_path: Path, names: frozenset[str]) -> frozenset[str]:
    """Which of `names` hold an access token in Hermes' auth store (its own login or its credential pool)."""
    if not names:
        return frozenset()
    try:
        data = json.loads(_read_text(auth_path, 4 * 1024 * 1024))
    except (OSError, ValueError, RecursionError):
        return frozenset()
    if not isinstance(data, dict):
        return frozenset()
    providers = data.get("providers")
    pool = data.get("credential_pool")
    found = set()
    for name in names:
        state = providers.get(name) if isinstance(providers, dict) else None
        tokens = state.get("tokens") if isinstance(state, dict) else None
        entries = pool.get(name) if isinstance(pool, dict) else None
        if (isinstance(tokens, dict) and str(tokens.get("access_token") or "").strip()) or (
            isinstance(entries, list)
            and any(isinstance(e, dict) and str(e.get("access_token") or "").strip() for e in entries)
        ):
            found.add(name)
    return frozenset(found)


def read_facts(home: Path | None = None) -> HermesFacts:
    """Read the facts for the Hermes home `home` (default: the live one)."""
    home = hermes_dir() if home is None else home
    dotenv = _dotenv_values(home / ".env")
    values = {name: dotenv.get(name, os.environ.get(name, "")).strip() for name in credential_vars()}
    visible = frozenset(name for name, value in values.items() if value)
    # Copilot rejects a classic PAT; Hermes uses the first GitHub token it finds (else the gh CLI's).
    gh = (n for p in PROVIDERS.values() for e in p.endpoints if e.login == "gh_cli" for n in e.bills)
    github = next((values[n] for n in gh if values[n]), "")
    # Hermes looks only at Path.home()/.claude, never at CLAUDE_CONFIG_DIR; macOS may use the Keychain.
    claude = (_paths.home() / ".claude" / ".credentials.json").is_file()
    claude_login = True if claude else (None if sys.platform == "darwin" else False)
    needed = frozenset(e.auth for p in PROVIDERS.values() for e in p.endpoints if e.auth)
    logins = _auth_logins(home / "auth.json", needed)
    return HermesFacts(visible, logins, github.startswith("ghp_"), home, claude_login)
