"""What bhogad watches: Claude Code's and Codex's files, the newest Codex day directory, and Hermes' config.

The specs are recomputed on every re-arm, so a newer Codex day directory, a profile switch in Hermes, or a
directory that appeared since start-up is picked up without special cases.
"""

from __future__ import annotations

from pathlib import Path

from bhoga import _paths

from .watch import WatchSpec

__all__ = [
    "CLAUDE",
    "CLAUDE_JSON",
    "CODEX",
    "CODEX_ROLLOUT",
    "HERMES",
    "HERMES_HOME",
    "newest_day_dir",
    "watch_specs",
]

CLAUDE = "claude"
"""Claude Code's credentials changed (a new login, a refresh, a logout)."""
CLAUDE_JSON = "claude-json"
"""Claude Code's account file (it caches the last usage reading)."""
CODEX = "codex"
"""Codex's login, model cache or config."""
CODEX_ROLLOUT = "codex-rollout"
"""A Codex session file was written (it carries the rate-limit windows)."""
HERMES = "hermes"
"""Hermes' config.yaml, or its auth.json / .env (which providers Hermes can use)."""
HERMES_HOME = "hermes-home"
"""Hermes' active profile, which moves the config file."""

_CODEX_FILES = frozenset({"auth.json", "models_cache.json", "config.toml"})


def _newest_child(directory: Path, digits: int) -> Path | None:
    try:
        names = [e.name for e in directory.iterdir() if e.is_dir() and len(e.name) == digits and e.name.isdigit()]
    except OSError:
        return None
    return directory / max(names) if names else None


def newest_day_dir(sessions: Path) -> list[Path]:
    """`sessions`, then its newest YYYY, YYYY/MM and YYYY/MM/DD directories, as far as they exist."""
    chain = [sessions]
    for digits in (4, 2, 2):
        child = _newest_child(chain[-1], digits)
        if child is None:
            break
        chain.append(child)
    return chain


def watch_specs(hermes_config: Path | None) -> list[WatchSpec]:
    """Everything to watch now; `hermes_config` is Hermes' live config file (None when it can't be told)."""
    claude_json = _paths.claude_json_path()
    codex = _paths.codex_home()
    specs = [
        WatchSpec(CLAUDE, _paths.claude_config_dir(), frozenset({".credentials.json"})),
        WatchSpec(CLAUDE_JSON, claude_json.parent, frozenset({claude_json.name})),
        WatchSpec(CODEX, codex, _CODEX_FILES),
        WatchSpec(HERMES_HOME, _paths.hermes_home(), frozenset({"active_profile"})),
    ]
    # Not a recursive watch of the whole sessions tree (one inotify watch per day directory ever made): the
    # newest day directory for rollout writes, and each level above it for the next day, month or year.
    chain = newest_day_dir(codex / "sessions")
    for level in chain[:3]:
        specs.append(WatchSpec(CODEX_ROLLOUT, level, frozenset(), new_dirs=True))
    if len(chain) == 4:
        specs.append(WatchSpec(CODEX_ROLLOUT, chain[3], None, modified=True))
    if hermes_config is not None:
        # auth.json and .env decide which providers Hermes can use (its openai-codex login, API keys).
        names = frozenset({hermes_config.name, "auth.json", ".env"})
        specs.append(WatchSpec(HERMES, hermes_config.parent, names))
    return specs
