"""Fixtures for the discovery tests: a running fake provider server with the
BHOGA_*_BASE_URL variables pointed at it, a PATH directory for fake CLIs, and DEBUG log capture.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakeserver import FakeServer


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory put first on PATH for fake `claude`, `codex`, `gh`, `security` executables."""
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", f"{d}{os.pathsep}{os.environ.get('PATH', '')}")
    return d


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def online(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    """Network discovery allowed, every provider base URL pointed at the fake server."""
    monkeypatch.delenv("BHOGA_OFFLINE", raising=False)
    monkeypatch.setenv("BHOGA_ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("BHOGA_CHATGPT_BASE_URL", server.url + "/backend-api")
    monkeypatch.setenv("BHOGA_GITHUB_API_URL", server.url)
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    return server


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="bhoga")
    return caplog
