"""`bhoga status` wall time with a real bhogad running (target <= 300 ms), and without one for comparison."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._util import Row, median_seconds

AREA = "cli"
ROOT = Path(__file__).resolve().parents[1]


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > end:
            raise RuntimeError("bhogad did not start")
        time.sleep(0.05)


def run() -> list[Row]:
    bhoga = Path(sys.executable).with_name("bhoga")
    with tempfile.TemporaryDirectory(prefix="bhoga-bench-cli-") as tmp:
        runtime = Path(tmp) / "run"
        runtime.mkdir(mode=0o700)
        env = dict(
            os.environ,
            HOME=tmp,
            XDG_RUNTIME_DIR=str(runtime),
            XDG_CACHE_HOME=f"{tmp}/.cache",
            XDG_CONFIG_HOME=f"{tmp}/.config",
            BHOGA_OFFLINE="1",
        )
        for var in ("BHOGA_SOCKET", "BHOGA_STATE", "BHOGA_CONFIG", "HERMES_HOME"):
            env.pop(var, None)

        def status() -> None:
            subprocess.run([str(bhoga), "status"], env=env, check=True, capture_output=True, cwd=tmp)

        subprocess.run([str(bhoga), "set-quota", "claude_code", "60", "--weekly", "40"], env=env, check=True,
                       capture_output=True)  # fmt: skip
        without = median_seconds(status, repeat=7, warmup=1)
        daemon = subprocess.Popen(
            [sys.executable, "-m", "bhogad"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_for(runtime / "bhoga" / "bhogad.sock", daemon)
            first = subprocess.run([str(bhoga), "status"], env=env, check=True, capture_output=True, text=True)
            if not first.stdout.startswith("bhogad running"):
                raise RuntimeError("`bhoga status` did not get its answer from bhogad")
            with_daemon = median_seconds(status, repeat=11, warmup=2)
        finally:
            daemon.terminate()
            daemon.wait(10)
    return [
        Row(AREA, "`bhoga status` wall time, bhogad running", with_daemon * 1e3, "ms", "<= 300 ms", with_daemon <= 0.3),
        Row(
            AREA,
            "`bhoga status` wall time, no daemon (local discovery)",
            without * 1e3,
            "ms",
            "-",
            True,
            "for reference",
        ),
    ]
