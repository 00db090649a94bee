"""Where bhoga's files and its outside world live (DESIGN §5).

Each function reads the environment when it is called, never at import, so tests and long-lived processes
see changes to HOME, XDG_* and the BHOGA_* variables.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from bhoga import _files

__all__ = [
    "anthropic_base_url",
    "chatgpt_base_url",
    "claude_config_dir",
    "claude_json_path",
    "codex_home",
    "daemon_config_path",
    "github_api_url",
    "hermes_home",
    "home",
    "offline",
    "paused_marker_path",
    "socket_candidates",
    "socket_path",
    "socket_pointer_path",
    "state_path",
]


def home() -> Path:
    """The user's home directory, from HOME when set (tests run with a temporary HOME)."""
    return Path(os.environ.get("HOME") or Path.home())


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def state_path() -> Path:
    """`BHOGA_STATE`, else `user_cache_dir("bhoga")/state.json`."""
    if (p := _env_path("BHOGA_STATE")) is not None:
        return p
    import platformdirs  # noqa: PLC0415 - deferred: keeps `import bhoga` fast

    return Path(platformdirs.user_cache_dir("bhoga", appauthor=False)) / "state.json"


def daemon_config_path() -> Path:
    """`BHOGA_CONFIG`, else `user_config_dir("bhoga")/bhogad.toml`."""
    if (p := _env_path("BHOGA_CONFIG")) is not None:
        return p
    import platformdirs  # noqa: PLC0415

    return Path(platformdirs.user_config_dir("bhoga", appauthor=False)) / "bhogad.toml"


def _login_runtime_dir() -> Path | None:
    """`/run/user/<uid>` when it is this user's own directory (what systemd-logind makes XDG_RUNTIME_DIR)."""
    if not sys.platform.startswith("linux"):
        return None
    candidate = Path(f"/run/user/{os.getuid()}")
    try:
        st = candidate.stat()
    except OSError:
        return None
    return candidate if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() else None


def socket_path() -> Path:
    """`BHOGA_SOCKET`, else `user_runtime_dir("bhoga")/bhogad.sock`.

    Without XDG_RUNTIME_DIR (su, cron, ssh without a login session) the user's `/run/user/<uid>` is used when it
    exists, whatever the platformdirs version, so a shell like that finds the daemon systemd started.
    """
    if (p := _env_path("BHOGA_SOCKET")) is not None:
        return p
    if not os.environ.get("XDG_RUNTIME_DIR", "").strip() and (run := _login_runtime_dir()) is not None:
        return run / "bhoga" / "bhogad.sock"
    import warnings  # noqa: PLC0415

    import platformdirs  # noqa: PLC0415

    # Without XDG_RUNTIME_DIR (cron, ssh without a login session) platformdirs warns and falls back to a private
    # directory under /tmp; the fallback is fine for us, the warning would only clutter every command's output.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir("bhoga", appauthor=False)) / "bhogad.sock"


def socket_candidates() -> list[Path]:
    """Where a running bhogad's socket may be, the configured place first.

    A daemon started from a login session keeps its socket under that session's XDG_RUNTIME_DIR; a shell without
    one (su, cron) would otherwise look in a private directory under /tmp and wrongly conclude nothing runs.
    """
    found = [socket_path()]
    if _env_path("BHOGA_SOCKET") is None:
        import tempfile  # noqa: PLC0415

        recorded = _read_pointer(socket_pointer_path())
        for base in (_login_runtime_dir(), Path(tempfile.gettempdir()) / f"runtime-{os.getuid()}"):
            if base is not None:
                recorded.append(base / "bhoga" / "bhogad.sock")
        found.extend(p for p in dict.fromkeys(recorded) if p not in found)
    return found


def socket_pointer_path() -> Path:
    """A small file beside the state file in which bhogad records the socket it listens on."""
    return state_path().parent / "bhogad.socket"


def _read_pointer(path: Path) -> list[Path]:
    """The socket path recorded in `path`; nothing for a missing, odd (FIFO, device) or oversized file."""
    try:
        fd = _files.open_fd(path, os.O_RDONLY, follow=False)
    except OSError:
        return []
    if fd is None:
        return []
    try:
        text = os.read(fd, 4097).decode("utf-8", "replace").strip()
    except OSError:
        return []
    finally:
        os.close(fd)
    return [Path(text)] if 0 < len(text) <= 4096 and text.startswith("/") and "\n" not in text else []


def hermes_home() -> Path:
    """`HERMES_HOME`, else `~/.hermes` (profile selection is the Hermes writer's business)."""
    return _env_path("HERMES_HOME") or home() / ".hermes"


def claude_config_dir() -> Path:
    """`CLAUDE_CONFIG_DIR`, else `~/.claude`."""
    return _env_path("CLAUDE_CONFIG_DIR") or home() / ".claude"


def claude_json_path() -> Path:
    """Claude Code's account file: `$CLAUDE_CONFIG_DIR/.claude.json`, else `~/.claude.json`."""
    if (d := _env_path("CLAUDE_CONFIG_DIR")) is not None:
        return d / ".claude.json"
    return home() / ".claude.json"


def codex_home() -> Path:
    """`CODEX_HOME`, else `~/.codex`."""
    return _env_path("CODEX_HOME") or home() / ".codex"


def _url(name: str, default: str) -> str:
    return (os.environ.get(name, "").strip() or default).rstrip("/")


def anthropic_base_url() -> str:
    """`BHOGA_ANTHROPIC_BASE_URL`, else https://api.anthropic.com."""
    return _url("BHOGA_ANTHROPIC_BASE_URL", "https://api.anthropic.com")


def chatgpt_base_url() -> str:
    """`BHOGA_CHATGPT_BASE_URL`, else https://chatgpt.com/backend-api."""
    return _url("BHOGA_CHATGPT_BASE_URL", "https://chatgpt.com/backend-api")


def github_api_url() -> str:
    """`BHOGA_GITHUB_API_URL`, else https://api.github.com."""
    return _url("BHOGA_GITHUB_API_URL", "https://api.github.com")


def offline() -> bool:
    """`BHOGA_OFFLINE=1`: read local files only, make no network request at all."""
    return os.environ.get("BHOGA_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def paused_marker_path() -> Path:
    """A file whose presence pauses every Hermes write (`bhoga pause`); kept beside the state file."""
    return state_path().parent / "paused"
