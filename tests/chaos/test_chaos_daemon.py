"""Chaos for the real bhogad process: kill -9 during Hermes flips, a hung provider endpoint.

Covered elsewhere, not repeated here: Hermes rewriting the file PyYAML-style while bhogad runs
(tests/daemon/test_daemon_flip.py::test_pyyaml_rewrite_is_reread_and_its_model_routed), a suspend/resume seen as a
wall-clock jump (tests/daemon/test_daemon_inprocess.py::test_resume_rediscovers_and_rearms and
tests/daemon/test_daemon_config.py::test_resume_detector_sees_suspend_but_not_clock_steps_back), state writers killed
and a full disk for state (tests/chaos/test_chaos_state.py).
"""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from bhoga._paths import state_path
from tests.discovery_helpers import write_claude_credentials
from tests.fakeserver import FakeServer, Reply
from tests.fixtures_daemon import DaemonProc, hermes_config, launch, request, wait_until

pytestmark = pytest.mark.slow

ANTHROPIC_KEY = "sk-ant-api03-FAKE-SECRET-chaos-0123456789"
KILLS = 24
ORIGINAL = (
    "# my hermes config\n"
    "# second comment, kept through every flip\n"
    "model:\n"
    "  default: claude-sonnet-4-6  # the model I use\n"
    "  provider: anthropic\n"
    "agent:\n"
    "  max_turns: 60  # keep\n"
    "# trailing comment\n"
)
COMMENTS = [line.strip() for line in ORIGINAL.splitlines() if "#" in line]
PROVIDERS = {"anthropic", "anthropic-api"}


def _temp_files(cfg: Path) -> list[str]:
    """Temp files of bhoga's atomic writer (`.<name>.XXXX.tmp`) beside the config."""
    return sorted(
        p.name for p in cfg.parent.iterdir() if p.name.startswith(f".{cfg.name}.") and p.name.endswith(".tmp")
    )


def _check_config(cfg: Path) -> str:
    """The config parses, keeps every comment line and routes one of the two providers; its provider."""
    text = cfg.read_text()
    data = yaml.safe_load(text)
    provider = data["model"]["provider"]
    assert provider in PROVIDERS, text
    assert data["model"]["default"] == "claude-sonnet-4-6", text
    assert data["agent"] == {"max_turns": 60}, text
    for comment in COMMENTS:
        assert comment in text, f"comment {comment!r} lost:\n{text}"
    return str(provider)


def _hermes_with_both_anthropic_routes(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Hermes' commented config on anthropic, an Anthropic API key and a Claude Code login: its path."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    cfg = hermes_config(home)
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(ORIGINAL)
    write_claude_credentials(home, token="sk-ant-oat01-FAKE-chaos", expires_in=6 * 3600)
    return cfg


def _flipper(stop: threading.Event, seed: int) -> None:
    """Alternate which Anthropic route has headroom, as fast as the daemon answers, until `stop`."""
    rng = random.Random(seed)
    high = rng.random() < 0.5
    while not stop.is_set():
        cc, api = (95, 40) if high else (3, 90)
        try:
            request({"op": "set_quota", "pid": "claude_code", "pct_remaining": cc}, timeout=2.0)
            request({"op": "set_quota", "pid": "anthropic_api", "pct_remaining": api}, timeout=2.0)
        except (OSError, ValueError):
            return  # the daemon is gone (killed) or the answer was cut off
        high = not high
        time.sleep(rng.uniform(0.0, 0.08))


def test_kill_9_during_flips_never_damages_hermes_config_or_state(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 while flipping: the config parses, is one of the two routes, keeps its comments; state is JSON."""
    cfg = _hermes_with_both_anthropic_routes(home, monkeypatch)
    rng = random.Random(8)
    seen: set[str] = set()
    for i in range(KILLS):
        d = launch(start, tmp_path)
        stop = threading.Event()
        t = threading.Thread(target=_flipper, args=(stop, i), daemon=True)
        t.start()
        time.sleep(rng.uniform(0.05, 1.2))
        d.proc.kill()  # SIGKILL, no clean-up of any kind
        d.proc.wait(10)
        stop.set()
        t.join(10)
        seen.add(_check_config(cfg))
        json.loads(state_path().read_text())  # state.json is always complete JSON
    # The flips really happened between kills (the test would otherwise prove nothing).
    assert seen == PROVIDERS
    assert "flip claude-sonnet-4-6" in "".join(p.log() for p in start)
    # A clean run afterwards still works on the same files.
    d = launch(start, tmp_path)
    request({"op": "set_quota", "pid": "claude_code", "pct_remaining": 95})
    request({"op": "set_quota", "pid": "anthropic_api", "pct_remaining": 10})
    wait_until(lambda: _check_config(cfg) == "anthropic", what=lambda: "final flip to claude_code\n" + d.log())
    request({"op": "set_quota", "pid": "claude_code", "pct_remaining": 2})
    request({"op": "set_quota", "pid": "anthropic_api", "pct_remaining": 90})
    wait_until(lambda: _check_config(cfg) == "anthropic-api", what=lambda: "final flip to anthropic_api\n" + d.log())
    assert d.stop() == 0
    # A clean run leaves no temp file, and removes any a kill inside a write left behind.
    assert _temp_files(cfg) == []
    # The state store removes a killed writer's temp file under its lock, so none survives a clean run.
    assert list(state_path().parent.glob(f".{state_path().name}.*.tmp")) == []


def test_temp_file_of_a_killed_writer_is_removed_by_the_next_write(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `.config.yaml.bhoga-XXXXXXXX.tmp` left by a writer killed mid-write is gone after the next bhoga write."""
    cfg = _hermes_with_both_anthropic_routes(home, monkeypatch)
    # Exactly what bhoga.hermes._atomic leaves when SIGKILLed between mkstemp and os.replace.
    stale = cfg.parent / f".{cfg.name}.bhoga-k1ll3d_9.tmp"
    stale.write_text(ORIGINAL.replace("provider: anthropic", "provider: anthropic-api"))
    d = launch(start, tmp_path)
    request({"op": "set_quota", "pid": "claude_code", "pct_remaining": 2})
    request({"op": "set_quota", "pid": "anthropic_api", "pct_remaining": 90})
    wait_until(lambda: _check_config(cfg) == "anthropic-api", what=lambda: "flip to anthropic_api\n" + d.log())
    assert d.stop() == 0
    assert _temp_files(cfg) == []


def test_hung_usage_endpoint_does_not_stop_the_daemon_serving(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With /api/oauth/usage hanging for 60 s, the daemon still answers pings and status, and SIGTERM exits 0."""
    with FakeServer() as srv:
        srv.route("/api/oauth/usage", Reply(200, {}, delay=60.0))
        monkeypatch.delenv("BHOGA_OFFLINE")
        monkeypatch.setenv("BHOGA_ANTHROPIC_BASE_URL", srv.url)
        write_claude_credentials(home, token="sk-ant-oat01-FAKE-hung", expires_in=6 * 3600)
        d = launch(start, tmp_path)
        wait_until(lambda: srv.count("/api/oauth/usage") >= 1, what=lambda: "usage call in flight\n" + d.log())
        for _ in range(5):
            assert request({"op": "ping"}, timeout=10.0)["ok"] is True
            assert request({"op": "status"}, timeout=10.0)["ok"] is True
            assert request({"op": "set_quota", "pid": "claude_code", "pct_remaining": 50}, timeout=10.0)["ok"]
            time.sleep(0.2)
        assert d.proc.poll() is None
        assert d.stop(timeout=30) == 0
