"""Chaos for the state file: many processes hammering it, kills mid-write, and a full disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bhoga._state import StateStore

HAMMER = """
import sys, time
from bhoga import Router
path, me, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
r = Router(state_path=path, eager=False)
n, stop = 0, time.monotonic() + seconds
while time.monotonic() < stop:
    r.set_quota("claude_code", n % 100, model=f"p{me}-{n}")
    r.record_turn("openai_api", "gpt-5", 1, 1, {"x-ratelimit-remaining-tokens": "5"}, 200)
    n += 1
r.close()
print(n)
"""


@pytest.mark.slow
def test_eight_processes_for_thirty_seconds_lose_nothing(tmp_path: Path) -> None:
    """Eight processes writing distinct keys for 30 s: every key each one wrote is in the final file."""
    path = tmp_path / "state.json"
    seconds = float(os.environ.get("BHOGA_CHAOS_SECONDS", "30"))
    procs = [
        subprocess.Popen([sys.executable, "-c", HAMMER, str(path), str(i), str(seconds)], stdout=subprocess.PIPE)
        for i in range(8)
    ]
    counts = []
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 120)
        assert p.returncode == 0
        counts.append(int(out))
    scopes = {w.scope for w in StateStore(path).load()["claude_code"].windows}
    expected = {f"p{i}-{n}" for i in range(8) for n in range(counts[i])}
    assert sum(counts) > 8 and expected <= scopes


KILLED_WRITER = """
import sys
from bhoga import Router
r = Router(state_path=sys.argv[1], eager=False)
n = 0
while True:
    r.set_quota("claude_code", n % 100, model=f"m{n % 50}")
    n += 1
"""


def test_kill_9_mid_write_leaves_a_valid_file_and_no_temp(tmp_path: Path) -> None:
    """SIGKILL at random moments never leaves a half-written state file or a stray temp file."""
    path = tmp_path / "state.json"
    for i in range(15):
        p = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)])
        deadline = time.monotonic() + 30
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05 + (i % 5) * 0.037)
        p.send_signal(signal.SIGKILL)
        p.wait()
        doc = json.loads(path.read_text())
        assert doc["version"] == 1 and "claude_code" in doc["providers"]
        # Only the temp file of the write that was just killed may exist; the next writer removes it.
        assert len([p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]) <= 1
    StateStore(path).merge_and_save({})
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


FULL_DISK = """
import logging, resource, signal, sys
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
from bhoga import Router
r = Router(state_path=sys.argv[1], eager=False)
resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))
r.set_quota("claude_code", 12, model="a-model-whose-record-will-not-fit-in-sixty-four-bytes")
r.close()
print("still alive")
"""


def test_full_disk_keeps_the_old_file_and_says_so(tmp_path: Path) -> None:
    """When the disk is full (RLIMIT_FSIZE) the old state file stays intact and one clear warning is logged."""
    path = tmp_path / "state.json"
    StateStore(path).merge_and_save({})
    before = path.read_bytes()
    p = subprocess.run([sys.executable, "-c", FULL_DISK, str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "still alive" in p.stdout
    assert "cannot write state file" in p.stderr and str(path) in p.stderr
    assert "Traceback" not in p.stderr
    assert path.read_bytes() == before
