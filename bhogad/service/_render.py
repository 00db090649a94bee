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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "CARRIED_VARIABLES",
    "DEFAULT_LISTEN_STREAM",
    "LAUNCHD_LABEL",
    "carried_environment",
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

# Locations bhoga reads that a user may have moved (DESIGN §5); copied into the unit at install time.
CARRIED_VARIABLES = ("HERMES_HOME", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "BHOGA_STATE", "BHOGA_CONFIG", "BHOGA_SOCKET")
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


def systemd_escape_arg(arg: str, *, program: bool = False) -> str:
    """One ExecStart= word: specifiers (%) and variables ($) taken literally, quoted when it has spaces.

    The program word itself is not subject to $ expansion (systemd 252 would keep a "$$" as two characters).
    """
    text = arg.replace("%", "%%")
    if not program:
        text = text.replace("$", "$$")
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


def carried_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The path variables set now that the service must see too (it does not inherit the login shell's).

    Only locations, never credentials: API keys stay in the user's own files and environment.
    """
    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for name in CARRIED_VARIABLES:
        value = env.get(name, "").strip()
        if not value:
            continue
        path = Path(value).expanduser()
        if not path.is_absolute():
            raise ValueError(f"{name} must be an absolute path for the service, got {value!r}")
        out[name] = str(path)
    return out


def render_service(argv: Sequence[str], *, environment: Mapping[str, str] | None = None) -> str:
    """The text of bhogad.service for the given absolute command line and extra environment."""
    if not argv or not Path(argv[0]).is_absolute():
        raise ValueError(f"ExecStart needs an absolute program path, got {argv[:1]!r}")
    bin_dir = str(Path(argv[0]).parent).replace("%", "%%")
    # %h: the user's home, so claude/codex in ~/.local/bin are found.
    assignments = [_env_assignment("PATH", _dedupe([bin_dir, "%h/.local/bin", *_SYSTEM_PATH]))]
    for name, value in (environment or {}).items():
        assignments.append(_env_assignment(name, value.replace("%", "%%")))
    exec_start = " ".join(systemd_escape_arg(a, program=i == 0) for i, a in enumerate(argv))
    return _substitute(
        load_template("bhogad.service"), {"EXEC_START": exec_start, "ENVIRONMENT": " ".join(assignments)}
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


def render_plist(argv: Sequence[str], home: Path, *, environment: Mapping[str, str] | None = None) -> bytes:
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
    data["EnvironmentVariables"].update(environment or {})
    return plistlib.dumps(data, fmt=plistlib.FMT_XML, sort_keys=False)
