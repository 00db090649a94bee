"""`bhoga doctor`: what is found, what is missing, and the one command that fixes each problem.

Every check is read-only and prints no secret: credential facts come from `bhoga.discovery`, Hermes facts from
`bhoga.hermes`, and the service check only looks for the unit file (bhoga never imports bhogad).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bhoga import _paths

__all__ = ["Check", "run_checks", "service_file"]


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the doctor's report. `ok` None means "cannot tell" (shown, never a failure)."""

    what: str
    ok: bool | None
    detail: str
    fix: str = ""


def service_file() -> Path:
    """Where `bhogad install` puts the user service on this OS."""
    if sys.platform == "darwin":
        return _paths.home() / "Library" / "LaunchAgents" / "io.bhoga.bhogad.plist"
    config = os.environ.get("XDG_CONFIG_HOME", "").strip()
    base = Path(config) if config else _paths.home() / ".config"
    return base / "systemd" / "user" / "bhogad.service"


_REFRESH = {
    "claude_code": "claude  # start Claude Code once; it refreshes its own login",
    "openai-codex": "codex login",
}


def _credentials() -> tuple[list[Check], set[str]]:
    """One check per provider, and the providers with a usable credential.

    A provider the user never set up is not a problem (most people have two or three); an expired or stale
    login is, and so is having none at all.
    """
    from bhoga.discovery import credential_report  # noqa: PLC0415 - heavy; only doctor needs it

    checks: list[Check] = []
    found: set[str] = set()
    for f in credential_report():
        # an expired or stale login is a problem even when discovery still counts the credential as found
        broken = any(w in f.summary.lower() for w in ("expired", "stale", "invalid", "unusable"))
        if f.found and not broken:
            found.add(f.provider_id)
        fix = f.fix or (_REFRESH.get(f.provider_id, "") if broken else "")
        checks.append(Check(f"{f.provider_id} credentials", False if broken else (f.found or None), f.summary, fix))
    if not found:
        checks.append(Check("any provider", False, "no credential found for any provider", "claude  # then /login"))
    return checks, found


def _hermes(found: set[str]) -> list[Check]:
    from bhoga.hermes import (  # noqa: PLC0415
        claude_code_caveat,
        config_problem,
        hermes_config_path,
        hermes_exclusions,
    )

    checks: list[Check] = []
    path = hermes_config_path()
    if path.is_file():
        writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
        checks.append(
            Check("Hermes config writable", writable, str(path), "" if writable else f"chmod u+w {path} {path.parent}")
        )
        # The writer's own refusal (a duplicate key in `model:`, YAML no reader agrees on), word for word.
        if (problem := config_problem(path)) is not None:
            checks.append(Check("Hermes config editable by bhoga", False, problem))
    else:
        checks.append(Check("Hermes config", False, f"{path} does not exist", "hermes setup"))
    excluded = hermes_exclusions()
    codex = excluded.get("openai-codex")
    checks.append(
        Check(
            "Hermes logged in to openai-codex",
            # only a problem for someone who uses Codex: bhoga found a Codex login that Hermes lacks
            True if codex is None else (False if "openai-codex" in found else None),
            "yes" if codex is None else codex,
            "" if codex is None else "hermes auth",
        )
    )
    for pid, why in excluded.items():
        if pid != "openai-codex" and pid in found:  # bhoga sees a login that Hermes does not
            checks.append(Check(f"Hermes can use {pid}", None, why))
    if (warning := claude_code_caveat()) is not None:
        checks.append(Check("Claude Code route", None, warning))
    return checks


def _daemon() -> list[Check]:
    from bhoga._client import daemon_running  # noqa: PLC0415

    unit = service_file()
    installed = unit.is_file()
    from bhoga._cli_commands import live_socket  # noqa: PLC0415

    sock = live_socket()
    running = daemon_running(sock)
    if sys.platform == "darwin":
        start = f"launchctl bootstrap gui/{os.getuid()} {unit}"
    else:
        start = "systemctl --user start bhogad.service"
    return [
        Check(
            "bhogad running",
            running,
            f"answering on {sock}" if running else f"nothing listens on {sock}",
            "" if running else (start if installed else "bhogad install"),
        ),
        Check(
            "service installed",
            True if installed else None if running else False,
            str(unit) if installed else f"{unit} not found" + ("; bhogad runs without it" if running else ""),
            "" if installed or running else "bhogad install",
        ),
    ]


def run_checks() -> list[Check]:
    """Every check, in the order printed; a failing group becomes one line saying what went wrong."""
    checks: list[Check] = []
    found: set[str] = set()
    try:
        creds, found = _credentials()
        checks.extend(creds)
    except Exception as exc:
        checks.append(Check("credential checks", None, f"could not run: {' '.join(str(exc).split())[:160]}"))
    groups: tuple[tuple[str, Callable[[], list[Check]]], ...] = (
        ("Hermes", lambda: _hermes(found)),
        ("daemon", _daemon),
    )
    for name, group in groups:
        try:
            checks.extend(group())
        except Exception as exc:  # one broken probe must not hide the others' answers
            checks.append(Check(f"{name} checks", None, f"could not run: {' '.join(str(exc).split())[:160]}"))
    return checks
