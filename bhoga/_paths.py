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
    "socket_configured",
    "socket_fallbacks",
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


def _plain_cache_dir() -> str | None:
    """platformdirs' Linux `user_cache_dir("bhoga")` when the environment makes it plain, else None.

    Importing platformdirs (with tempfile and shutil) costs a `bhoga` command ~8 ms; every platformdirs >= 4 gives
    this answer for an absolute XDG_CACHE_HOME, or for an unset one with an absolute HOME. Other cases ask it.
    """
    if not sys.platform.startswith("linux"):
        return None
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return os.path.join(xdg, "bhoga")
    if xdg or not os.path.isabs(os.environ.get("HOME", "")):
        return None
    return os.path.join(os.path.expanduser("~/.cache"), "bhoga")


def state_path() -> Path:
    """`BHOGA_STATE`, else `user_cache_dir("bhoga")/state.json`."""
    if (p := _env_path("BHOGA_STATE")) is not None:
        return p
    if (plain := _plain_cache_dir()) is not None:
        return Path(plain) / "state.json"
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


def _safe_ancestors(path: str) -> bool:
    """Every directory above `path` is a real directory owned by root or us that no one else can rename entries in.

    Stricter than platformdirs' own check (no symlinks at all), so when it holds platformdirs accepts too.
    """
    parts = path.split("/")[1:-1]
    if any(part in ("", ".", "..") for part in parts):
        return False
    current = ""
    for part in parts:
        current += "/" + part
        try:
            st = os.lstat(current)
        except OSError:
            return False
        shared = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if (
            not stat.S_ISDIR(st.st_mode)
            or st.st_uid not in (0, os.geteuid())
            or (shared and not st.st_mode & stat.S_ISVTX)
        ):
            return False
    return True


def _plain_runtime_dir() -> str | None:
    """platformdirs' Linux `user_runtime_dir("bhoga")` when XDG_RUNTIME_DIR is plainly valid, else None.

    Valid means what the XDG spec asks and platformdirs checks: an absolute path to an existing directory (not a
    symlink) owned by us with mode 0700, below directories no other user can replace. Any doubt asks platformdirs.
    """
    if not sys.platform.startswith("linux"):
        return None
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if not xdg.startswith("/") or xdg.endswith("/") or not _safe_ancestors(xdg):
        return None
    try:
        st = os.lstat(xdg)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o777 != 0o700:
        return None
    return os.path.join(xdg, "bhoga")


def socket_path() -> Path:
    """`BHOGA_SOCKET`, else `user_runtime_dir("bhoga")/bhogad.sock`.

    Without XDG_RUNTIME_DIR (su, cron, ssh without a login session) the user's `/run/user/<uid>` is used when it
    exists, whatever the platformdirs version, so a shell like that finds the daemon systemd started.
    """
    if (p := _env_path("BHOGA_SOCKET")) is not None:
        return p
    if not os.environ.get("XDG_RUNTIME_DIR", "").strip() and (run := _login_runtime_dir()) is not None:
        return run / "bhoga" / "bhogad.sock"
    if (plain := _plain_runtime_dir()) is not None:
        return Path(plain) / "bhogad.sock"
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
    first = socket_path()
    return [first, *socket_fallbacks(first)]


def socket_fallbacks(first: Path) -> list[Path]:
    """The places after `first` (`socket_path()`) a running bhogad's socket may be; none when BHOGA_SOCKET is set.

    Separate so a command whose daemon answers at `first` never pays for tempfile (~4 ms with shutil).
    """
    if socket_configured():
        return []
    import tempfile  # noqa: PLC0415

    recorded = _read_pointer(socket_pointer_path())
    for base in (_login_runtime_dir(), Path(tempfile.gettempdir()) / f"runtime-{os.getuid()}"):
        if base is not None:
            recorded.append(base / "bhoga" / "bhogad.sock")
    return [p for p in dict.fromkeys(recorded) if p != first]


def socket_configured() -> bool:
    """BHOGA_SOCKET names the socket, so there is nowhere else to look."""
    return _env_path("BHOGA_SOCKET") is not None


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
