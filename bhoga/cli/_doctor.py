"""`bhoga doctor`: what is found, what is missing, and the one command that fixes each problem.

Every check is read-only and prints no secret: credential facts come from `bhoga.discovery`, Hermes facts from
`bhoga.hermes` (the Hermes checks are in `bhoga.cli._doctor_hermes`), and the service check only looks for the
unit file (bhoga never imports bhogad).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from bhoga import _paths
from bhoga._providers import PROVIDERS, Provider
from bhoga._record import record, replace
from bhoga.errors import BhogaError

__all__ = ["Check", "run_checks", "service_file"]


@record
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


def _entry(pid: str) -> Provider | None:
    return PROVIDERS.get(pid)


def _credential_states() -> dict[str, str]:
    """Each provider's credential state as the daemon sees it (else as the state file says); never raises."""
    from bhoga._client import ask  # noqa: PLC0415
    from bhoga._protocol import StatusRequest  # noqa: PLC0415
    from bhoga._responses import StatusAnswer  # noqa: PLC0415

    answer = ask(_paths.socket_path(), StatusRequest(), timeout=2.0)
    if isinstance(answer, StatusAnswer):
        return {
            str(q.get("provider_id")): str(q.get("credential_state")) for q in answer.quotas if q.get("model") == "*"
        }
    from bhoga._merge import credential_state  # noqa: PLC0415
    from bhoga._state import StateStore  # noqa: PLC0415

    try:
        saved = StateStore(_paths.state_path()).load()
    except BhogaError:
        return {}
    return {pid: credential_state(q) for pid, q in saved.items()}


def _credentials() -> tuple[list[Check], set[str]]:
    """One check per provider, and the providers with a usable credential.

    A provider the user never set up is not a problem (most people have two or three); an expired or stale
    login is, and so is having none at all.
    """
    from bhoga.discovery import credential_report  # noqa: PLC0415 - heavy; only doctor needs it

    checks: list[Check] = []
    found: set[str] = set()
    states = _credential_states()
    for f in credential_report():
        state = states.get(f.provider_id)
        if f.found and state == "rejected":
            # The file looks fine, but the server said 401/403 for this very credential: never "valid".
            checks.append(
                Check(
                    f"{f.provider_id} credentials",
                    False,
                    f"{f.summary.split(', token valid')[0]}: rejected by the provider (HTTP 401/403); not used "
                    "until it changes",
                    entry.rejected_fix if (entry := _entry(f.provider_id)) else "replace the key or token",
                )
            )
            continue
        if f.found and state == "unverified":
            f = replace(f, summary=f"{f.summary}; not yet accepted by Copilot, so ranked after verified providers")
        # an expired or stale login is a problem even when discovery still counts the credential as found
        broken = any(w in f.summary.lower() for w in ("expired", "stale", "invalid", "unusable"))
        if f.found and not broken:
            found.add(f.provider_id)
        fix = f.fix or (entry.refresh_fix if broken and (entry := _entry(f.provider_id)) else "")
        checks.append(Check(f"{f.provider_id} credentials", False if broken else (f.found or None), f.summary, fix))
    if not found:
        checks.append(Check("any provider", False, "no credential found for any provider", "claude  # then /login"))
    return checks, found


def _daemon() -> list[Check]:
    from bhoga._client import daemon_running  # noqa: PLC0415

    unit = service_file()
    installed = unit.is_file()
    from bhoga.cli._commands import live_socket  # noqa: PLC0415

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
    from bhoga.cli._doctor_hermes import _hermes  # noqa: PLC0415 - it imports `Check` from here

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
