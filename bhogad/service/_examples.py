"""The example units at the top of the repository (systemd/, launchd/), rendered from bhogad/units/.

`python -m bhogad.service._examples [ROOT]` rewrites them; a test fails when they drift from the templates.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bhoga import _files
from bhogad.service._render import LAUNCHD_LABEL, render_plist, render_service, render_socket

__all__ = ["EXAMPLE_HOME_LINUX", "EXAMPLE_HOME_MACOS", "example_files", "main"]

EXAMPLE_HOME_LINUX = Path("/home/alice")
EXAMPLE_HOME_MACOS = Path("/Users/alice")


def example_files() -> dict[str, bytes]:
    """Relative path → content, for a pipx installation in the example home directories."""
    linux = [str(EXAMPLE_HOME_LINUX / ".local/share/pipx/venvs/bhoga/bin/bhogad")]
    macos = [str(EXAMPLE_HOME_MACOS / ".local/pipx/venvs/bhoga/bin/bhogad")]
    return {
        "systemd/bhogad.service": render_service(linux).encode("utf-8"),
        "systemd/bhogad.socket": render_socket().encode("utf-8"),
        f"launchd/{LAUNCHD_LABEL}.plist": render_plist(macos, EXAMPLE_HOME_MACOS),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the examples under ROOT (default: the current directory)."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path.cwd()
    for rel, data in example_files().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        _files.atomic_write(path, data, mode=0o644)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
