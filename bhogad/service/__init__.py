"""Installing bhogad as a per-user service: systemd on Linux, launchd on macOS.

`install()` and `uninstall()` print one line per step and return an exit code (0 or 1); `bhogad install` and
`bhogad uninstall` return it as they are.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from bhogad.service._base import CommandResult, ServiceManager, fail
from bhogad.service._launchd import LaunchdService
from bhogad.service._render import LAUNCHD_LABEL, program_argv
from bhogad.service._systemd import SystemdService, systemd_user_unit_dir

__all__ = [
    "LAUNCHD_LABEL",
    "CommandResult",
    "LaunchdService",
    "ServiceManager",
    "SystemdService",
    "install",
    "manager",
    "program_argv",
    "service_file_path",
    "service_installed",
    "systemd_user_unit_dir",
    "uninstall",
]


def manager(*, program: Sequence[str] | None = None) -> ServiceManager | None:
    """The service manager of this platform, or None where bhogad has none (Windows, BSD)."""
    if sys.platform == "darwin":
        return LaunchdService(program=program)
    if sys.platform.startswith("linux"):
        return SystemdService(program=program)
    return None


def _unsupported() -> int:
    fail(f"no user service manager supported on {sys.platform}; run bhogad in the foreground instead")
    return 1


def install(*, dry_run: bool = False, enable: bool = True, program: Sequence[str] | None = None) -> int:
    """Render the unit for this installation's bhogad, write it if it changed, and (unless `enable=False`)
    enable and start it. `dry_run` only prints the rendered files. `program` overrides the command line."""
    m = manager(program=program)
    return _unsupported() if m is None else m.install(dry_run=dry_run, enable=enable)


def uninstall() -> int:
    """Stop and disable the service and remove its files."""
    m = manager()
    return _unsupported() if m is None else m.uninstall()


def service_installed() -> bool:
    """True when the unit file (or plist) exists."""
    m = manager()
    return m is not None and m.installed()


def service_file_path() -> Path:
    """Where the unit file (or plist) is or would be installed."""
    m = manager()
    if m is None:
        return SystemdService().main_file()
    return m.main_file()
