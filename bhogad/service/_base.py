"""What installing bhogad as a user service means, independent of the service manager.

A backend renders its files, then `install()` writes the ones whose content changed and asks the manager to
pick them up; `uninstall()` reverses it. Every outcome is one printed line; the return value is an exit code.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from bhoga import _files
from bhoga._record import record
from bhogad.service._render import program_argv

__all__ = ["CommandResult", "ServiceManager", "fail", "say"]

log = logging.getLogger(__name__)

_COMMAND_TIMEOUT = 60.0


@record
class CommandResult:
    """How one service-manager command went; `detail` is its last line of output, for the user."""

    ok: bool
    detail: str


def say(message: str) -> None:
    """Print a progress line on stdout."""
    print(message, flush=True)


def fail(message: str) -> None:
    """Print a one-line error on stderr, prefixed with the program name."""
    print(f"bhogad: {message}", file=sys.stderr, flush=True)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _files.atomic_write(path, data, mode=0o644)


def _same_content(path: Path, data: bytes) -> bool:
    try:
        return _files.read_bounded(path, 1024 * 1024) == data
    except FileNotFoundError:
        return False


class ServiceManager(ABC):
    """One way of running bhogad as a per-user service (systemd on Linux, launchd on macOS)."""

    #: Shown in messages: "systemd user service", "launchd agent".
    kind: str

    def __init__(self, *, program: Sequence[str] | None = None) -> None:
        self._program = list(program) if program is not None else None

    @property
    def program(self) -> list[str]:
        """The absolute command line the unit starts."""
        return self._program if self._program is not None else program_argv()

    @abstractmethod
    def main_file(self) -> Path:
        """The file whose presence means "installed" (bhogad.service, the plist)."""

    @abstractmethod
    def render(self) -> dict[Path, bytes]:
        """Every file to install, keyed by its destination, main file first."""

    @abstractmethod
    def render_paths(self) -> list[Path]:
        """Where `render()` would write, without rendering (uninstall works even if rendering cannot)."""

    @abstractmethod
    def activate(self, *, changed: bool, enable: bool) -> int:
        """Make the manager see the files (reload) and, if `enable`, enable and start the service."""

    @abstractmethod
    def deactivate(self) -> bool:
        """Stop and disable the service; False (after printing why) when the manager could not be asked."""

    @abstractmethod
    def after_remove(self) -> None:
        """Let the manager forget the removed files (daemon-reload); failures are only reported."""

    def run(self, argv: Sequence[str]) -> CommandResult:
        """Run a manager command; never raises, a missing program is a failed result."""
        try:
            proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=_COMMAND_TIMEOUT, check=False)
        except FileNotFoundError:
            return CommandResult(False, f"{argv[0]} not found")
        except (OSError, subprocess.SubprocessError) as exc:
            return CommandResult(False, f"{argv[0]}: {exc}")
        lines = [ln.strip() for ln in (proc.stderr + "\n" + proc.stdout).splitlines() if ln.strip()]
        # systemctl prints "Created symlink ..." before the line that says what went wrong.
        failing = [ln for ln in lines if "fail" in ln.lower()]
        detail = (failing or lines or [f"exit status {proc.returncode}"])[0]
        log.debug("%s -> %d %s", " ".join(argv), proc.returncode, detail)
        return CommandResult(proc.returncode == 0, detail)

    def installed(self) -> bool:
        """True when the main unit file exists."""
        return self.main_file().is_file()

    def install(self, *, dry_run: bool = False, enable: bool = True) -> int:
        """Write the files (only those whose content changed) and activate them; exit code 0 or 1."""
        try:
            files = self.render()
        except (OSError, ValueError) as exc:
            fail(f"cannot render the {self.kind}: {exc}")
            return 1
        if dry_run:
            for path, data in files.items():
                say(f"# {path}")
                say(data.decode("utf-8").rstrip("\n"))
            return 0
        changed: list[Path] = []
        try:
            for path, data in files.items():
                if _same_content(path, data):
                    continue
                _write_atomic(path, data)
                changed.append(path)
        except OSError as exc:
            fail(f"cannot write {getattr(exc, 'filename', None) or self.main_file()}: {exc.strerror or exc}")
            return 1
        if changed:
            say(f"wrote {', '.join(str(p) for p in changed)}")
        else:
            say(f"{self.main_file()} is up to date")
        return self.activate(changed=bool(changed), enable=enable)

    def uninstall(self) -> int:
        """Stop, disable and remove the service files; exit code 0 or 1."""
        files = [p for p in self.render_paths() if p.exists() or p.is_symlink()]
        if not files:
            say(f"no {self.kind} installed ({self.main_file()} does not exist)")
            return 0
        stopped = self.deactivate()
        # The manager may have removed some of them itself (systemctl disable drops the *.wants links).
        files = [p for p in self.render_paths() if p.exists() or p.is_symlink()]
        try:
            for path in files:
                path.unlink(missing_ok=True)
        except OSError as exc:
            fail(f"cannot remove {path}: {exc.strerror or exc}")
            return 1
        if files:
            say(f"removed {', '.join(str(p) for p in files)}")
        self.after_remove()
        return 0 if stopped else 1
