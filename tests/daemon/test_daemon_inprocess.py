"""The Daemon class run in this process, for what a subprocess cannot show: a suspend seen by the clocks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bhoga._paths import socket_path
from bhogad.config import DaemonConfig
from bhogad.daemon import Daemon
from bhogad.scheduler import ResumeDetector
from tests.fixtures_daemon import request


async def _until(pred: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_resume_rediscovers_and_rearms(
    home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """When wall time jumps past monotonic time (the machine slept), discovery runs at once, not forced: the
    endpoints' minimum intervals hold after a resume too (DESIGN §8.3)."""
    caplog.set_level(logging.DEBUG, logger="bhogad")
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # the ticker then wakes every 0.2 s
    wall = {"offset": 0.0}

    async def main() -> int:
        daemon = Daemon(DaemonConfig())
        daemon.resume = ResumeDetector(60, wall=lambda: time.time() + wall["offset"])
        task = asyncio.create_task(daemon.serve())
        await _until(lambda: socket_path().exists())
        assert (await asyncio.to_thread(request, {"op": "ping"}))["ok"]
        await _until(lambda: "discovery (start)" in caplog.text)
        await asyncio.sleep(0.5)
        assert "resumed after" not in caplog.text
        wall["offset"] = 3 * 3600.0  # three hours passed while monotonic time stood still
        await _until(lambda: "resumed after about 10800 s asleep" in caplog.text)
        await _until(lambda: "discovery (resume)" in caplog.text)
        assert "discovery (resume, forced)" not in caplog.text
        daemon.stop()
        return await task

    assert asyncio.run(main()) == 0
    assert not socket_path().exists()
