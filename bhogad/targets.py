"""What bhogad watches: each provider's files (its discovery module's `watched()`), and Hermes' config.

The specs are recomputed on every re-arm, so a newer Codex day directory, a profile switch in Hermes, or a
directory that appeared since start-up is picked up without special cases.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bhoga import _paths
from bhoga._providers import PROVIDERS
from bhoga.discovery import source

from .watch import WatchSpec

__all__ = ["HERMES", "HERMES_HOME", "LOGIN", "QUOTA", "provider_specs", "watch_specs"]

log = logging.getLogger(__name__)

LOGIN = "login:"
"""Tag prefix: a provider's login changed (a new login may skip discovery's "too soon" guard)."""
QUOTA = "quota:"
"""Tag prefix: a file that tells a provider's quota changed."""
HERMES = "hermes"
"""Hermes' config.yaml, or its auth.json / .env (which providers Hermes can use)."""
HERMES_HOME = "hermes-home"
"""Hermes' active profile, which moves the config file."""


def provider_specs() -> list[WatchSpec]:
    """The files of every registered provider whose discovery module names some."""
    specs = []
    for pid in list(PROVIDERS):
        try:
            module = source(pid)
            watched = getattr(module, "watched", None)
            found = watched() if watched is not None else ()
        except Exception as exc:  # a broken provider must not stop the daemon watching the others
            log.warning("%s: files to watch unknown: %s", pid, exc)
            continue
        for w in found:
            tag = (LOGIN if w.login else QUOTA) + w.tag
            specs.append(WatchSpec(tag, w.directory, w.names, modified=w.modified, new_dirs=w.new_dirs))
    return specs


def watch_specs(hermes_config: Path | None) -> list[WatchSpec]:
    """Everything to watch now; `hermes_config` is Hermes' live config file (None when it can't be told)."""
    specs = [*provider_specs(), WatchSpec(HERMES_HOME, _paths.hermes_home(), frozenset({"active_profile"}))]
    if hermes_config is not None:
        # auth.json and .env decide which providers Hermes can use (its openai-codex login, API keys).
        names = frozenset({hermes_config.name, "auth.json", ".env"})
        specs.append(WatchSpec(HERMES, hermes_config.parent, names))
    return specs
