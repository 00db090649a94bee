"""Turning the unit templates in `bhogad/units/` into the files a service manager reads.

The templates ship as package data so an installed bhogad (pipx, uv tool) can render them; the only
machine-specific parts are the absolute path of the installed `bhogad` and, for launchd, the home directory.
"""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_LISTEN_STREAM",
    "LAUNCHD_LABEL",
    "launchd_log_dir",
    "load_template",
    "program_argv",
    "render_plist",
    "render_service",
    "render_socket",
    "systemd_escape_arg",
]

LAUNCHD_LABEL = "io.bhoga.bhogad"
# %t is $XDG_RUNTIME_DIR in a user manager: the same path as bhoga._paths.socket_path() on Linux.
DEFAULT_LISTEN_STREAM = "%t/bhoga/bhogad.sock"

_UNITS_DIR = Path(__file__).resolve().parent.parent / "units"
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")
_SYSTEM_PATH = ("/usr/local/bin", "/usr/bin", "/bin")
_MACOS_PATH = ("/opt/homebrew/bin", "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin")


def load_template(name: str) -> str:
    """The text of `bhogad/units/<name>` as shipped in the package."""
    # A path next to this file rather than importlib.resources: it works whether or not `bhogad` is a
    # namespace package, and pip, pipx and uv always install packages as plain directories.
    return (_UNITS_DIR / name).read_text(encoding="utf-8")


def _is_program(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def program_argv() -> list[str]:
    """The absolute command line that starts this installation's daemon.

    In order: the `bhogad` script we were started as; the `bhogad` beside the running interpreter (the venv's
    bin, for `python -m bhogad install`); `bhogad` on PATH; finally `<python> -m bhogad`. Symlinks are kept
    as they are (pipx's ~/.local/bin link survives a reinstall of the venv).
    """
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "bhogad" and _is_program(argv0):
        return [str(argv0.absolute())]
    beside = Path(sys.executable).parent / "bhogad"
    if sys.executable and _is_program(beside):
        return [str(beside.absolute())]
    found = shutil.which("bhogad")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "bhogad"]


def systemd_escape_arg(arg: str) -> str:
    """One ExecStart= word: specifiers (%) and variables ($) taken literally, quoted when it has spaces."""
    text = arg.replace("%", "%%").replace("$", "$$")
    if re.search(r"[\s\"'\\;]", text) or not text:
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _env_assignment(name: str, value: str) -> str:
    """One quoted Environment= assignment; the value must already have its % specifiers escaped."""
    return '"' + f"{name}={value}".replace("\\", "\\\\").replace('"', '\\"') + '"'


def _substitute(template: str, values: dict[str, str]) -> str:
    text = template
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    left = _PLACEHOLDER.search(text)
    if left:
        raise ValueError(f"unit template still contains {left.group(0)}")
    return text


def _dedupe(entries: Sequence[str]) -> str:
    return ":".join(dict.fromkeys(e for e in entries if e))


def render_service(argv: Sequence[str], *, socket_override: str | None = None) -> str:
    """The text of bhogad.service for the given absolute command line."""
    if not argv or not Path(argv[0]).is_absolute():
        raise ValueError(f"ExecStart needs an absolute program path, got {argv[:1]!r}")
    bin_dir = str(Path(argv[0]).parent).replace("%", "%%")
    # %h: the user's home, so claude/codex in ~/.local/bin are found.
    env = _env_assignment("PATH", _dedupe([bin_dir, "%h/.local/bin", *_SYSTEM_PATH]))
    if socket_override:
        env += " " + _env_assignment("BHOGA_SOCKET", socket_override.replace("%", "%%"))
    return _substitute(
        load_template("bhogad.service"),
        {"EXEC_START": " ".join(systemd_escape_arg(a) for a in argv), "PATH_ENV": env},
    )


def render_socket(listen_stream: str = DEFAULT_LISTEN_STREAM) -> str:
    """The text of bhogad.socket listening on `listen_stream` (a path, or the %t default)."""
    return _substitute(load_template("bhogad.socket"), {"LISTEN_STREAM": listen_stream})


def launchd_log_dir(home: Path) -> Path:
    """~/Library/Logs/bhoga: platformdirs' user_log_dir on macOS, spelled out so Linux CI renders the same."""
    return home / "Library" / "Logs" / "bhoga"


def _expand(node: Any, values: dict[str, str], argv: Sequence[str]) -> Any:
    if isinstance(node, dict):
        return {k: _expand(v, values, argv) for k, v in node.items()}
    if isinstance(node, list):
        out: list[Any] = []
        for item in node:
            if item == "@PROGRAM@":
                out.extend(argv)
            else:
                out.append(_expand(item, values, argv))
        return out
    if isinstance(node, str):
        return _substitute(node, values)
    return node


def render_plist(argv: Sequence[str], home: Path) -> bytes:
    """The LaunchAgent plist (XML) for the given absolute command line and home directory.

    The template is parsed and filled value by value, so paths with '&' or '<' cannot break the XML.
    """
    if not argv or not Path(argv[0]).is_absolute():
        raise ValueError(f"ProgramArguments needs an absolute program path, got {argv[:1]!r}")
    if not home.is_absolute():
        raise ValueError(f"home directory must be absolute, got {str(home)!r}")
    template = plistlib.loads(load_template(f"{LAUNCHD_LABEL}.plist").encode("utf-8"))
    path = _dedupe([str(Path(argv[0]).parent), str(home / ".local" / "bin"), *_MACOS_PATH])
    values = {"HOME": str(home), "LOG_DIR": str(launchd_log_dir(home)), "PATH": path}
    data = _expand(template, values, argv)
    return plistlib.dumps(data, fmt=plistlib.FMT_XML, sort_keys=False)
