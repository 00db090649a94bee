"""The bhoga plugin for Hermes: its files in `$HERMES_HOME/plugins/bhoga/` and its `plugins.enabled` entry.

`enable` writes `plugin.yaml` and `__init__.py` (the standard-library module `bhoga.hermes_plugin`, with the
socket path of this user filled in) and adds `bhoga` to `plugins.enabled`; `disable` undoes both. Only files
bhoga wrote (they carry its marker line) are ever replaced or removed: a foreign plugin called `bhoga` is
refused with one line, and so is a path that is not a regular file or directory (DESIGN §8.4).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
from importlib import resources
from pathlib import Path

from bhoga import __version__, _files, _paths
from bhoga._providers import PROVIDERS
from bhoga._record import record
from bhoga.errors import HermesConfigError, NotRegularFileError
from bhoga.hermes._home import hermes_dir
from bhoga.hermes._plugins import plugin_lists, set_plugin_enabled

__all__ = ["PLUGIN_NAME", "PluginState", "disable", "enable", "plugin_files", "plugin_state"]

PLUGIN_NAME = "bhoga"
MARKER = "# bhoga-managed Hermes plugin"
_FILES = ("plugin.yaml", "__init__.py")
_SOCKET_LINE = "SOCKET_PATH: str | None = None"
_TABLES_BEGIN = "# registry: begin\n"
_TABLES_END = "# registry: end\n"


@record
class PluginState:
    """What `bhoga hermes-plugin status` reports."""

    directory: Path
    config: Path
    files: str
    """`current`, `outdated` (written by another bhoga version or for another socket), `absent` or `foreign`."""
    enabled: bool
    disabled: bool = False
    """`bhoga` is in `plugins.disabled`: Hermes will not load it even when it is in `plugins.enabled`."""


def _home(home: Path | None) -> Path:
    return home if home is not None else hermes_dir()


def registry_tables() -> str:
    """The plugin's provider tables, from the registry: every Hermes name (and API host) of each provider."""
    names = [
        (name, p.id) for p in PROVIDERS.values() for name in (*p.hermes_ids, *(a for a, _ in p.aliases), *p.counts)
    ]
    hosts = [(host, p.id) for p in PROVIDERS.values() for host in p.hosts]
    q = json.dumps
    lines = ["_PROVIDERS = {", *(f"    {q(n)}: {q(pid)}," for n, pid in names), "}", "_HOSTS = ("]
    lines += [*(f"    ({q(h)}, {q(pid)})," for h, pid in hosts), ")"]
    return "\n".join(lines) + "\n"


def _with_registry(source: str) -> str:
    begin, end = source.find(_TABLES_BEGIN), source.find(_TABLES_END)
    if begin < 0 or end < begin:
        raise AssertionError("bhoga/hermes_plugin.py lost its registry marker lines")
    return source[: begin + len(_TABLES_BEGIN)] + registry_tables() + source[end:]


def plugin_files() -> dict[str, bytes]:
    """The plugin's files as `enable` writes them now."""
    source = resources.files("bhoga").joinpath("hermes_plugin.py").read_text(encoding="utf-8")
    if _SOCKET_LINE not in source:
        raise AssertionError("bhoga/hermes_plugin.py lost its SOCKET_PATH line")
    sock = str(_paths.socket_path())
    source = source.replace(_SOCKET_LINE, f"SOCKET_PATH: str | None = {sock!r}", 1)
    source = _with_registry(source)
    manifest = (
        f"{MARKER} (`bhoga hermes-plugin disable` removes it)\n"
        f"name: {PLUGIN_NAME}\n"
        f'version: "{__version__}"\n'
        "description: Tells bhogad about every model call Hermes makes, so it can route around limits.\n"
        "author: bhoga\n"
        "kind: standalone\n"
        "provides_hooks:\n"
        "  - post_api_request\n"
        "  - api_request_error\n"
    )
    return {"plugin.yaml": manifest.encode(), "__init__.py": source.encode()}


def _check_dir(path: Path) -> bool:
    """True when `path` is a real directory, False when absent; refuses anything else."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise HermesConfigError(f"{path}: exists and is not a directory; left alone")
    return True


def _read(path: Path) -> bytes | None:
    """A plugin file's bytes, None when absent; anything but a regular file is refused without opening it."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise HermesConfigError(f"{path}: not a regular file; left alone")
    try:
        return _files.read_bounded(path, 1 << 20)
    except NotRegularFileError as e:
        raise HermesConfigError(f"{path}: {e.strerror}; left alone") from None


def _files_state(directory: Path) -> str:
    if not _check_dir(directory):
        return "absent"
    found = {name: _read(directory / name) for name in _FILES}
    if all(v is None for v in found.values()):
        return "absent"
    if any(v is not None and MARKER.encode() not in v[:200] for v in found.values()):
        return "foreign"
    return "current" if found == plugin_files() else "outdated"


def _write(path: Path, data: bytes) -> None:
    try:
        _files.atomic_write(path, data, mode=0o644)
    except OSError as e:
        raise HermesConfigError(f"{path}: {e.strerror or e}; plugin not written") from None


def plugin_state(home: Path | None = None) -> PluginState:
    """Whether the plugin's files are there (and current) and whether Hermes' config enables it."""
    base = _home(home)
    directory = base / "plugins" / PLUGIN_NAME
    config = base / "config.yaml"
    enabled, disabled = plugin_lists(PLUGIN_NAME, config)
    return PluginState(directory, config, _files_state(directory), enabled and not disabled, disabled)


def enable(home: Path | None = None) -> tuple[bool, bool]:
    """Write the plugin files and enable the plugin; (files changed, config changed)."""
    base = _home(home)
    if not _check_dir(base):
        raise HermesConfigError(f"{base}: no Hermes home here (is Hermes installed and set up?)")
    directory = base / "plugins" / PLUGIN_NAME
    state = _files_state(directory)
    if state == "foreign":
        raise HermesConfigError(f"{directory}: holds a plugin bhoga did not write; move it away first")
    files_changed = state != "current"
    if files_changed:
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in plugin_files().items():
            _write(directory / name, data)
    return files_changed, set_plugin_enabled(PLUGIN_NAME, True, base / "config.yaml")


def disable(home: Path | None = None) -> tuple[bool, bool]:
    """Remove `bhoga` from `plugins.enabled` and delete the plugin files; (files removed, config changed)."""
    base = _home(home)
    directory = base / "plugins" / PLUGIN_NAME
    config = base / "config.yaml"
    state = _files_state(directory)
    if state == "foreign":
        raise HermesConfigError(f"{directory}: holds a plugin bhoga did not write; left alone")
    config_changed = set_plugin_enabled(PLUGIN_NAME, False, config) if _check_dir(base) else False
    if state == "absent":
        return False, config_changed
    for name in _FILES:
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()
    cache = directory / "__pycache__"
    if _check_dir(cache) and not cache.is_symlink():
        shutil.rmtree(cache, ignore_errors=True)
    with contextlib.suppress(OSError):  # only when empty: anything the user put there stays
        directory.rmdir()
    return True, config_changed
