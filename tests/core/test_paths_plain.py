"""bhoga finds its socket and state file without platformdirs only where platformdirs would give the same answer."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import platformdirs
import pytest

from bhoga import _paths


def _platformdirs_socket() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir("bhoga", appauthor=False)) / "bhogad.sock"


def _platformdirs_state() -> Path:
    return Path(platformdirs.user_cache_dir("bhoga", appauthor=False)) / "state.json"


def test_socket_path_equals_platformdirs_for_each_runtime_dir_case(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """For XDG_RUNTIME_DIR private, unset, relative, too open, a symlink or missing, `socket_path()` is what
    platformdirs answers, and the private one is found without platformdirs."""
    private = home / "rt-private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    open_dir = home / "rt-open"
    open_dir.mkdir()
    open_dir.chmod(0o755)
    link = home / "rt-link"
    link.symlink_to(private)
    monkeypatch.chdir(home)
    cases: list[str | None] = [str(private), None, "", "rt-private", str(open_dir), str(link), str(home / "nope")]
    cases.append(str(private) + "/")
    for value in cases:
        if value is None:
            monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
        else:
            monkeypatch.setenv("XDG_RUNTIME_DIR", value)
        assert _paths.socket_path() == _platformdirs_socket(), value
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(private))
    assert _paths._plain_runtime_dir() == str(private / "bhoga")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(open_dir))
    assert _paths._plain_runtime_dir() is None


def test_state_path_equals_platformdirs_for_each_cache_dir_case(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """For XDG_CACHE_HOME absolute, unset, empty or relative and HOME absolute or relative, `state_path()` is what
    platformdirs answers, and the plain cases are found without platformdirs."""
    monkeypatch.chdir(home)
    for cache in (str(home / "c"), None, "", "rel/cache"):
        for home_value in (str(home), "relhome"):
            monkeypatch.setenv("HOME", home_value)
            if cache is None:
                monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
            else:
                monkeypatch.setenv("XDG_CACHE_HOME", cache)
            try:
                expected = _platformdirs_state()
            except RuntimeError:  # platformdirs finds no home for a relative HOME without a passwd entry
                continue
            assert _paths.state_path() == expected, (cache, home_value)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert _paths._plain_cache_dir() == os.path.join(home, ".cache", "bhoga")
