"""bhogad as a launchd agent on macOS: ~/Library/LaunchAgents/io.bhoga.bhogad.plist, driven by launchctl.

No `Sockets` key: bhogad binds its socket itself, and a launchd-held listener on the same path would make the
daemon think another instance is running. Written from launchd.plist(5) and launchctl(1); not run on macOS.
"""

from __future__ import annotations

import os
from pathlib import Path

from bhoga._paths import home
from bhogad.service._base import ServiceManager, fail, say
from bhogad.service._render import LAUNCHD_LABEL, carried_environment, launchd_log_dir, render_plist

__all__ = ["LaunchdService"]


class LaunchdService(ServiceManager):
    """Writes the LaunchAgent plist and (un)loads it in the user's GUI domain."""

    kind = "launchd agent"

    def main_file(self) -> Path:
        return home() / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"

    def render(self) -> dict[Path, bytes]:
        return {self.main_file(): render_plist(self.program, home(), environment=carried_environment())}

    def render_paths(self) -> list[Path]:
        return [self.main_file()]

    @staticmethod
    def _domain() -> str:
        return f"gui/{os.getuid()}"

    def _loaded(self) -> bool:
        return self.run(["launchctl", "print", f"{self._domain()}/{LAUNCHD_LABEL}"]).ok

    def activate(self, *, changed: bool, enable: bool) -> int:
        try:
            # launchd opens StandardOutPath itself and does not create missing directories.
            launchd_log_dir(home()).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"cannot create {launchd_log_dir(home())}: {exc.strerror or exc}")
            return 1
        plist = self.main_file()
        if not enable:
            say(f"not loaded; start it with: launchctl bootstrap {self._domain()} {plist}")
            return 0
        loaded = self._loaded()
        if loaded and not changed:
            say(f"bhogad is loaded; see: launchctl print {self._domain()}/{LAUNCHD_LABEL}")
            return 0
        if loaded:
            # launchd keeps the old definition until the job is booted out and bootstrapped again.
            self.run(["launchctl", "bootout", f"{self._domain()}/{LAUNCHD_LABEL}"])
        result = self.run(["launchctl", "bootstrap", self._domain(), str(plist)])
        if not result.ok:
            fail(f"launchctl bootstrap {self._domain()} {plist} failed: {result.detail}")
            return 1
        say(f"bhogad is loaded and starts at login; see: launchctl print {self._domain()}/{LAUNCHD_LABEL}")
        return 0

    def deactivate(self) -> bool:
        if not self._loaded():
            return True
        result = self.run(["launchctl", "bootout", f"{self._domain()}/{LAUNCHD_LABEL}"])
        if not result.ok:
            fail(f"launchctl bootout failed ({result.detail}); removing the plist anyway")
        return result.ok

    def after_remove(self) -> None:
        """launchd has no reload step: a booted-out job is forgotten."""
