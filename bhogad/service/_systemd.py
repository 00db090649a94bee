"""bhogad as a systemd user service: bhogad.service (Type=notify, watchdog) plus bhogad.socket."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from bhoga._paths import home
from bhogad.service._base import ServiceManager, fail, say
from bhogad.service._render import carried_environment, render_service, render_socket

__all__ = ["SERVICE", "SOCKET", "SystemdService", "systemd_user_unit_dir"]

SERVICE = "bhogad.service"
SOCKET = "bhogad.socket"

_LINGER_DIR = Path("/var/lib/systemd/linger")
_ENABLE_HINT = "systemctl --user daemon-reload && systemctl --user enable --now bhogad"


def systemd_user_unit_dir() -> Path:
    """`$XDG_CONFIG_HOME/systemd/user` (default ~/.config/systemd/user): first in the user manager's path."""
    config = os.environ.get("XDG_CONFIG_HOME", "").strip()
    base = Path(config) if config and Path(config).is_absolute() else home() / ".config"
    return base / "systemd" / "user"


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "$USER"


class SystemdService(ServiceManager):
    """Writes the units into the user's unit directory and drives `systemctl --user`."""

    kind = "systemd user service"

    def main_file(self) -> Path:
        return systemd_user_unit_dir() / SERVICE

    def render(self) -> dict[Path, bytes]:
        env = carried_environment()
        # BHOGA_SOCKET moves the socket: the socket unit listens there and the daemon is told the same path.
        override = env.get("BHOGA_SOCKET")
        socket = render_socket(override.replace("%", "%%")) if override else render_socket()
        unit_dir = systemd_user_unit_dir()
        return {
            unit_dir / SERVICE: render_service(self.program, environment=env).encode("utf-8"),
            unit_dir / SOCKET: socket.encode("utf-8"),
        }

    def render_paths(self) -> list[Path]:
        unit_dir = systemd_user_unit_dir()
        # Enablement symlinks too: removing a unit but not its *.wants link leaves a dangling link behind.
        links = sorted(p for name in (SERVICE, SOCKET) for p in unit_dir.glob(f"*.wants/{name}"))
        return [unit_dir / SERVICE, unit_dir / SOCKET, *links]

    def _systemctl(self, *args: str) -> tuple[bool, str]:
        result = self.run(["systemctl", "--user", *args])
        return result.ok, result.detail

    def _linger_hint(self) -> None:
        user = _user_name()
        if not (_LINGER_DIR / user).exists():
            say(f"to keep bhogad running while you are logged out: loginctl enable-linger {user}")

    def activate(self, *, changed: bool, enable: bool) -> int:
        if changed:
            ok, detail = self._systemctl("daemon-reload")
            if not ok:
                if enable:
                    fail(f"units written, but the user manager did not reload them ({detail}); run: {_ENABLE_HINT}")
                    return 1
                say(f"units written; the user manager was not reachable ({detail})")
        if not enable:
            say("not enabled; start it with: systemctl --user enable --now bhogad")
            self._linger_hint()
            return 0
        was_active, _ = self._systemctl("is-active", "--quiet", SERVICE)
        ok, detail = self._systemctl("enable", "--now", SOCKET, SERVICE)
        if not ok:
            fail(f"systemctl --user enable --now bhogad failed: {detail}")
            return 1
        if changed and was_active:
            # enable --now leaves a running daemon alone; it must restart to run the new ExecStart.
            ok, detail = self._systemctl("try-restart", SERVICE)
            if not ok:
                fail(f"units updated, but restarting bhogad failed: {detail}")
                return 1
        say("bhogad is enabled and running; see: systemctl --user status bhogad")
        self._linger_hint()
        return 0

    def deactivate(self) -> bool:
        ok, detail = self._systemctl("disable", "--now", SERVICE, SOCKET)
        if not ok:
            fail(f"systemctl --user disable --now bhogad failed ({detail}); removing the unit files anyway")
        return ok

    def after_remove(self) -> None:
        ok, detail = self._systemctl("daemon-reload")
        if ok:
            self._systemctl("reset-failed", SERVICE, SOCKET)
        else:
            say(f"the user manager was not reachable ({detail}); run systemctl --user daemon-reload later")
