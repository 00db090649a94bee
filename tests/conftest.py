"""Fixtures every test module shares: a private HOME and a clean environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Speed is measured in benchmarks/, never asserted: Hypothesis' per-example deadline (200 ms) fails property tests
# whenever a shared machine is busy, so no test inherits it.
settings.register_profile("bhoga", deadline=None)
settings.load_profile("bhoga")

# The real user's bhoga files, named before any fixture moves HOME: no test may create or change them.
_REAL_FILES = tuple(
    Path(os.path.expanduser("~")) / rel
    for rel in (".cache/bhoga/state.json", ".cache/bhoga/state-history.jsonl", ".config/bhoga/bhogad.toml")
)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


# Variables that would let a test see the developer's real accounts or daemon.
_SCRUB = (
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "OPENROUTER_API_KEY",
    "COPILOT_GITHUB_TOKEN",
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "HERMES_HOME",
    "BHOGA_STATE",
    "BHOGA_CONFIG",
    "BHOGA_SOCKET",
    "BHOGA_ANTHROPIC_BASE_URL",
    "BHOGA_CHATGPT_BASE_URL",
    "BHOGA_GITHUB_API_URL",
    "BHOGA_OFFLINE",
    "BHOGA_LOG",
    "XDG_RUNTIME_DIR",
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary HOME with XDG directories inside it, no provider credentials and no network discovery.

    Tests that need the network discovery unset BHOGA_OFFLINE and point the BHOGA_*_BASE_URL variables at a
    loopback server.
    """
    h = tmp_path / "home"
    h.mkdir()
    for name in _SCRUB:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(h / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(h / ".cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(h / ".local" / "state"))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("BHOGA_OFFLINE", "1")
    # Point every provider URL at a closed loopback port so a forgotten override can never leave the machine.
    for var in ("BHOGA_ANTHROPIC_BASE_URL", "BHOGA_CHATGPT_BASE_URL", "BHOGA_GITHUB_API_URL"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    before = [_stamp(p) for p in _REAL_FILES]
    yield h
    assert os.environ.get("HOME") == str(h)
    touched = [str(p) for p, b in zip(_REAL_FILES, before, strict=True) if _stamp(p) != b]
    assert not touched, f"this test changed the real user's files: {touched}"
