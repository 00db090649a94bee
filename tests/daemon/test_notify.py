"""Notifications (DESIGN §8.8): which events, the rate limit, and delivery by a real bhogad to a real script."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from bhoga.errors import ConfigError
from bhogad.config import DEFAULT_NOTIFY, load_config
from bhogad.notify import Event, ProviderView, RateLimit, detect
from tests.discovery_helpers import write_claude_credentials
from tests.fixtures_daemon import DaemonProc, request, wait_until, write_hermes

SCRIPT = """\
import json, os, sys
with open(sys.argv[1], "a") as f:
    f.write(json.dumps({k: os.environ.get(k) for k in ("BHOGA_EVENT", "BHOGA_TITLE", "BHOGA_BODY")}) + "\\n")
"""


def _v(status: str) -> ProviderView:
    return ProviderView(status, "detail")


def test_detect_names_each_transition_once_and_nothing_on_first_look() -> None:
    """exhausted, low (from ok), restored (from exhausted/throttled) and pinned_throttled; no event at start."""
    assert detect(None, {"claude_code": _v("exhausted")}) == []
    before = {"claude_code": _v("ok"), "openai-codex": _v("exhausted"), "github-copilot": _v("ok"), "x": _v("ok")}
    after = {"claude_code": _v("low"), "openai-codex": _v("ok"), "github-copilot": _v("throttled"), "x": _v("ok")}
    kinds = {(e.kind, e.subject) for e in detect(before, after, pinned="github-copilot")}
    assert kinds == {("low", "claude_code"), ("restored", "openai-codex"), ("pinned_throttled", "github-copilot")}
    assert [e.kind for e in detect({"a": _v("low")}, {"a": _v("exhausted")})] == ["exhausted"]
    assert detect({"a": _v("low")}, {"a": _v("ok")}) == []  # back above the reserve is not "restored"


def test_rate_limit_holds_back_a_flapping_window_and_bursts() -> None:
    """Same event and provider: once per cooldown; any events: at most BURST per window; held back is counted."""
    limit = RateLimit(cooldown=900, burst=3, window=600)
    ev = Event("exhausted", "claude_code", "t", "b")
    assert limit.allow(ev, 0.0)
    assert not limit.allow(ev, 10.0) and not limit.allow(ev, 899.0)
    assert limit.held_back == 2
    assert limit.allow(ev, 901.0)
    others = [Event("low", f"p{i}", "t", "b") for i in range(5)]
    allowed = [limit.allow(e, 1000.0 + i) for i, e in enumerate(others)]
    assert allowed == [True, True, False, False, False]  # 901 + two more fill the burst of 3 in 600 s


def test_notify_settings_are_validated(tmp_path: Path) -> None:
    """Unknown events and a notify_command given as one shell string are refused with one line each."""
    cfg = tmp_path / "bhogad.toml"
    assert load_config(tmp_path / "absent.toml").notify == DEFAULT_NOTIFY == ("flip", "exhausted", "pinned_throttled")
    cfg.write_text('notify = ["flip", "explode"]\n')
    with pytest.raises(ConfigError, match="unknown event 'explode'"):
        load_config(cfg)
    cfg.write_text('notify_command = "ntfy publish me"\n')
    with pytest.raises(ConfigError, match="runs without a shell"):
        load_config(cfg)
    cfg.write_text(
        'notify = ["low", "restored"]\nnotify_command = ["ntfy", "publish", "topic"]\nnotify_desktop = false\n'
    )
    c = load_config(cfg)
    assert c.notify == ("low", "restored") and c.notify_command == ("ntfy", "publish", "topic") and not c.notify_desktop


def _lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.slow
def test_real_bhogad_runs_notify_command_and_desktop_on_flip_exhausted_restored(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real bhogad notifies a real script (env BHOGA_*) and notify-send on a session bus; flapping is held back."""
    out, desk = tmp_path / "notified.jsonl", tmp_path / "desktop.txt"
    script = tmp_path / "notify.py"
    script.write_text(SCRIPT)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "notify-send"  # the desktop's notification service is the one outside boundary faked here
    fake.write_text(f"#!/bin/sh\nprintf '%s|' \"$@\" >> {desk}\necho >> {desk}\n")
    fake.chmod(0o755)
    cfg = home / ".config" / "bhoga" / "bhogad.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(
        'notify = ["flip", "exhausted", "restored"]\n'
        f"notify_command = [{json.dumps(sys.executable)}, {json.dumps(str(script))}, {json.dumps(str(out))}]\n"
    )
    write_hermes(home, "anthropic", "claude-opus-4.6", codex_login=False)
    env = {
        "ANTHROPIC_API_KEY": "sk-ant-api03-FAKE-notify",
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/bus",
    }
    daemon = DaemonProc(tmp_path / "bhogad.log", env=env)
    try:
        daemon.wait_ready()
        request({"op": "set_quota", "pid": "claude_code", "pct_remaining": 80})
        wait_until(lambda: request({"op": "status"})["hermes"]["last_pass"], what="the first Hermes pass")
        time.sleep(0.5)  # the pass after this set_quota is the baseline: nothing is sent for it
        request({"op": "set_quota", "pid": "claude_code", "pct_remaining": 0})
        got = wait_until(lambda: len(_lines(out)) >= 2 and _lines(out), what="flip and exhausted notifications")
        events = {e["BHOGA_EVENT"]: e for e in got}
        assert set(events) == {"flip", "exhausted"}, got
        assert events["flip"]["BHOGA_TITLE"] == "bhoga: Hermes now uses anthropic_api"
        assert "claude_code" in events["exhausted"]["BHOGA_TITLE"] and "0% left" in events["exhausted"]["BHOGA_BODY"]
        request({"op": "set_quota", "pid": "claude_code", "pct_remaining": 90})
        wait_until(lambda: any(e["BHOGA_EVENT"] == "restored" for e in _lines(out)), what="restored")
        for pct in (0, 90, 0, 90):  # a flapping window: all within the cooldown
            request({"op": "set_quota", "pid": "claude_code", "pct_remaining": pct})
            time.sleep(0.4)
        wait_until(lambda: "held back" in daemon.log(), what="the rate limit to hold notifications back")
        kinds = [e["BHOGA_EVENT"] for e in _lines(out)]
        assert kinds.count("exhausted") == 1 and kinds.count("restored") == 1, kinds
        desktop = wait_until(lambda: desk.exists() and desk.read_text(), what="the desktop notification")
        assert "--app-name=bhoga|bhoga: Hermes now uses anthropic_api|" in desktop
        assert "FAKE-notify" not in out.read_text() + desktop + daemon.log()
    finally:
        assert daemon.stop() == 0, daemon.log()


def test_a_hung_notify_command_is_killed_after_the_timeout(tmp_path: Path) -> None:
    """A notify_command that never ends is killed (with its children) after 5 s; the worker goes on."""
    from bhogad import notify

    marker = tmp_path / "child-alive"
    hang = tmp_path / "hang.sh"
    hang.write_text(f"#!/bin/sh\n(sleep 30; touch {marker}) &\nsleep 30\n")
    hang.chmod(0o755)
    start = time.monotonic()
    notify._run([str(hang)], dict(os.environ), "notify_command")
    assert time.monotonic() - start < 20  # bounded by the timeout, not by the script
    time.sleep(0.2)
    assert not marker.exists()


@pytest.mark.slow
def test_a_pinned_provider_running_dry_notifies_pinned_throttled(home: Path, tmp_path: Path) -> None:
    """With Hermes pinned to claude_code, its exhaustion is `pinned_throttled` (bhogad will not move it)."""
    out = tmp_path / "notified.jsonl"
    script = tmp_path / "notify.py"
    script.write_text(SCRIPT)
    cfg = home / ".config" / "bhoga" / "bhogad.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(
        f"notify_command = [{json.dumps(sys.executable)}, {json.dumps(str(script))}, {json.dumps(str(out))}]\n"
    )
    write_hermes(home, "anthropic", "claude-opus-4.6", codex_login=False)
    # A Claude Code login makes claude_code a candidate, so the daemon's first pass keeps it whether or not it
    # runs before the pin arrives (without one it would move Hermes away at once, a race the test would lose).
    write_claude_credentials(home)
    daemon = DaemonProc(tmp_path / "bhogad.log", env={"ANTHROPIC_API_KEY": "sk-ant-api03-FAKE-pin"})
    try:
        daemon.wait_ready()
        assert request({"op": "pin"})["ok"] is True
        request({"op": "set_quota", "pid": "claude_code", "pct_remaining": 80})
        wait_until(
            lambda: (request({"op": "status"})["hermes"].get("last_pass") or {}).get("outcome") == "pinned",
            what="a pinned pass",
        )
        request({"op": "set_quota", "pid": "claude_code", "pct_remaining": 0})
        got = wait_until(lambda: _lines(out), what="the pinned_throttled notification")
        assert [e["BHOGA_EVENT"] for e in got] == ["pinned_throttled"], got
        assert "bhoga unpin" in got[0]["BHOGA_BODY"]
        assert "anthropic" in hermes_text(home)  # still pinned: not moved
    finally:
        assert daemon.stop() == 0, daemon.log()


def hermes_text(home: Path) -> str:
    return (home / ".hermes" / "config.yaml").read_text()
