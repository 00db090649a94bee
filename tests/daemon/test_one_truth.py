"""One truth across processes (DESIGN §8.1-§8.3), proved with real bhogad subprocesses, real CLI runs and
Routers: evidence no keyless process erases, one writer, pins, one policy, and discovery within its limits."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bhoga._paths import socket_path, state_path
from bhoga._router import Router
from tests.discovery_helpers import CLAUDE_TOKEN, write_claude_credentials, write_codex_usage
from tests.fakeserver import FakeServer, Reply
from tests.fixtures_daemon import (
    DaemonProc,
    hermes_config,
    hermes_route,
    launch,
    request,
    wait_until,
    write_hermes,
)

pytestmark = pytest.mark.slow

OPENAI_KEY = "sk-proj-FAKE-SECRET-truth-openai-0123456789"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`bhoga ARGS` as a user runs it (this test's environment unless `env` is given)."""
    return subprocess.run(
        [sys.executable, "-m", "bhoga", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def quota(pid: str) -> dict[str, object]:
    """The daemon's status entry for `pid`."""
    entries = request({"op": "status"})["quotas"]
    return next((q for q in entries if q["provider_id"] == pid and q["model"] == "*"), {})


def pipelined(*requests: dict[str, object]) -> list[dict[str, object]]:
    """Several requests written at once on one connection, then one answer per request."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(socket_path()))
        s.sendall(b"".join(json.dumps({"v": 1, **r}).encode() + b"\n" for r in requests))
        f = s.makefile("rb")
        return [json.loads(f.readline()) for _ in requests]


def test_keyless_processes_never_erase_the_daemons_key(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """bhogad sees OPENAI_API_KEY; keyless `bhoga` runs, `bhogad --once` and Routers leave that knowledge intact, so a
    429 on the Codex plan sent on one connection is answered by `best` with openai_api at once."""
    write_hermes(home, "openai-codex", "gpt-5.5")
    write_codex_usage(home, 20)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    d = launch(start, tmp_path)
    wait_until(lambda: quota("openai_api").get("credential") is True, what=lambda: "daemon sees its key")
    assert quota("openai_api")["credential_state"] == "verified"
    assert quota("openai_api")["credential_sources"] == ["env"]
    monkeypatch.delenv("OPENAI_API_KEY")

    for args in (("status", "--json"), ("best", "gpt-5.5", "--json"), ("doctor",)):
        assert OPENAI_KEY not in cli(*args).stdout
    once = subprocess.run(
        [sys.executable, "-m", "bhogad", "--once"], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert once.returncode == 0, once.stderr
    with Router() as shared, Router(daemon=False) as alone:  # a harness with and without the daemon's view
        shared.discover()
        alone.discover()
    assert quota("openai_api")["credential"] is True
    saved = json.loads(state_path().read_text())["providers"]["openai_api"]
    assert saved["credential"] is True and OPENAI_KEY not in state_path().read_text()

    turn = {
        "op": "turn",
        "pid": "openai-codex",
        "model": "gpt-5.5",
        "status_code": 429,
        "headers": {"retry-after": "600"},
    }
    answers = pipelined(turn, {"op": "best", "model": "gpt-5.5"})
    assert answers[0] == {"ok": True}
    best = answers[1]
    assert best["recommendation"]["provider_id"] == "openai_api", best
    assert best["ranked"][0] == best["recommendation"]  # the winner is ranked[0]
    wait_until(lambda: hermes_route(home)[0] == "openai-api", what=lambda: f"flip to openai-api\n{d.log()}")
    assert d.stop() == 0
    assert OPENAI_KEY not in d.log()


ANTHROPIC_KEY = "sk-ant-api03-FAKE-SECRET-truth-anthropic-0123456789"
FLIP_SECONDS = float(os.environ.get("BHOGA_TEST_FLIP_SECONDS", "10"))
"""How long flips are provoked against a hand edit or an apply. The issue asks for 60 s; the default suite runs
10 s to keep CI reasonable, `BHOGA_TEST_FLIP_SECONDS=60` runs the full minute."""


def bhogad_toml(home: Path, text: str) -> None:
    path = home / ".config" / "bhoga" / "bhogad.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def provoke_flips(seconds: float, check: Callable[[], None], *, codex_pct: tuple[float, ...] = (5, 95)) -> int:
    """Send quota changes and 429s that would each make bhogad re-rank, calling `check` all along; the number of
    provocations sent."""
    deadline = time.monotonic() + seconds
    sent = 0
    while time.monotonic() < deadline:
        pct = codex_pct[sent % len(codex_pct)]
        request({"op": "set_quota", "pid": "openai-codex", "pct_remaining": pct})
        request(
            {
                "op": "turn",
                "pid": "openai_api",
                "model": "gpt-5.5",
                "status_code": 429,
                "headers": {"retry-after": "900"},
            }
        )
        sent += 1
        for _ in range(3):
            time.sleep(0.1)
            check()
    return sent


def first_pass(d: DaemonProc) -> None:
    wait_until(lambda: request({"op": "status"})["hermes"]["last_pass"], what=lambda: f"bhogad's first pass\n{d.log()}")


def test_apply_during_a_running_daemon_is_never_reverted(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bhoga apply` hands the write to bhogad, which then routes the applied model: flips provoked for
    FLIP_SECONDS (bhogad.toml names another model) never revert it, and `bhogad --once` writes nothing."""
    write_hermes(home, "openai-codex", "gpt-5.5")
    write_codex_usage(home, 20)
    bhogad_toml(home, 'models = ["gpt-5.5"]\n')
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    d = launch(start, tmp_path)
    first_pass(d)
    out = cli("apply", "claude-sonnet-4.6")
    assert out.returncode == 0, out.stderr
    assert "written by bhogad" in out.stdout, out.stdout
    applied = hermes_config(home).read_bytes()
    assert hermes_route(home) == ("anthropic-api", "claude-sonnet-4-6")

    def unchanged() -> None:
        assert hermes_config(home).read_bytes() == applied, d.log()

    once = subprocess.run(
        [sys.executable, "-m", "bhogad", "--once"], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert once.returncode == 0 and "only writer" in once.stdout, once.stdout + once.stderr
    assert provoke_flips(FLIP_SECONDS, unchanged) > 0
    unchanged()
    assert "flip gpt-5.5" not in d.log()
    assert d.stop() == 0


def test_hand_edit_pins_across_flips_and_restarts_until_unpin(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hand edit of model.provider pins the route: bhogad keeps it through FLIP_SECONDS of provoked flips
    (a 429 on the pinned provider is logged, not acted on) and a restart, until `bhoga unpin`."""
    path = write_hermes(home, "openai-codex", "gpt-5.5")
    write_codex_usage(home, 20)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    d = launch(start, tmp_path)
    first_pass(d)
    assert request({"op": "status"})["hermes"]["pinned"] is False
    edited = path.read_text().replace("provider: openai-codex", "provider: openai-api  # mine").encode()
    tmp = path.with_name(".edit.tmp")
    tmp.write_bytes(edited)
    os.replace(tmp, path)
    wait_until(lambda: request({"op": "status"})["hermes"]["pinned"], what=lambda: f"the hand edit to pin\n{d.log()}")
    hermes = request({"op": "status"})["hermes"]
    # The pin is recorded before its log line is written: wait for the line.
    wait_until(lambda: "route pinned" in d.log(), what=lambda: f"the pin's log line\n{d.log()}")
    assert hermes["pinned_since"]

    def unchanged() -> None:
        assert path.read_bytes() == edited, d.log()

    assert provoke_flips(FLIP_SECONDS, unchanged, codex_pct=(95,)) > 0
    wait_until(lambda: "not changing it (pinned)" in d.log(), what=lambda: "the pinned-throttled log line")
    assert d.stop() == 0

    d2 = launch(start, tmp_path)
    first_pass(d2)
    assert request({"op": "status"})["hermes"]["pinned"] is True
    provoke_flips(1.0, unchanged, codex_pct=(95,))
    out = cli("unpin")
    assert out.returncode == 0, out.stderr
    wait_until(lambda: hermes_route(home)[0] == "openai-codex", what=lambda: f"bhogad to route again\n{d2.log()}")
    assert request({"op": "status"})["hermes"]["pinned"] is False
    assert "# mine" in path.read_text() or "# my hermes config" in path.read_text()
    assert d2.stop() == 0


def test_a_config_seen_empty_mid_write_pins_nothing(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass that reads Hermes' config while an editor has truncated it (empty) takes no edit from it and
    writes nothing into it: no pin, and bhogad goes on routing once the file is written back."""
    path = write_hermes(home, "openai-codex", "gpt-5.5")
    write_codex_usage(home, 20)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    d = launch(start, tmp_path)
    first_pass(d)
    text = path.read_text()
    path.write_bytes(b"")  # what `open(path, "w")` leaves until the editor's write
    wait_until(lambda: "is empty (being written?)" in d.log(), what=lambda: f"a pass over the empty file\n{d.log()}")
    assert path.read_bytes() == b""
    path.write_text(text)
    wait_until(lambda: request({"op": "status"})["hermes"]["model"] == "gpt-5.5", what=lambda: "the file back")
    assert request({"op": "status"})["hermes"]["pinned"] is False, d.log()
    write_codex_usage(home, 97, name="b")
    wait_until(lambda: hermes_route(home)[0] == "openai-api", what=lambda: f"bhogad to route\n{d.log()}")
    assert "route pinned" not in d.log()
    assert d.stop() == 0


def test_model_change_alone_is_routed_not_pinned(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changing only model.default (as `hermes model` within one provider) is a model change: no pin, the new
    model is routed; `bhoga pin` pins on purpose."""
    path = write_hermes(home, "openai-codex", "gpt-5.5")
    write_codex_usage(home, 20)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    d = launch(start, tmp_path)
    first_pass(d)
    path.write_text(path.read_text().replace("default: gpt-5.5", "default: gpt-5.4"))
    wait_until(
        lambda: [r["model"] for r in request({"op": "status"})["routes"]] == ["gpt-5.4"],
        what=lambda: "the new model routed",
    )
    assert request({"op": "status"})["hermes"]["pinned"] is False
    assert cli("pin").returncode == 0
    assert request({"op": "status"})["hermes"]["pinned"] is True
    assert d.stop() == 0


USAGE = "/api/oauth/usage"
COPILOT_USER = "/copilot_internal/user"
GH_TOKEN = "gho_FAKEtruthCOPILOTtoken0123456789"
SCHEDULED_RUNS = int(os.environ.get("BHOGA_TEST_SCHEDULED_RUNS", "1"))
"""Scheduled discoveries (interval = 60 s) to wait for. The default suite waits for one (about 70 s), which
already shows the limits: the old daemon called both endpoints again at that run. `BHOGA_TEST_SCHEDULED_RUNS=6`
runs past the 5-minute mark and checks the second Claude call is allowed then, and only then."""


def test_drain_soonest_flips_and_discovery_keeps_endpoint_limits(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With policy drain-soonest the daemon moves Hermes from Claude Code (50 % left, resets in 4 days) to
    Copilot (42 % left, resets in 1 day); with interval = 60 a fake usage server on 127.0.0.1 sees the Claude
    usage endpoint at most once per 5 minutes and Copilot's at most once per 15, scheduled runs included."""
    now = datetime.now(UTC)
    usage = {
        "five_hour": {"utilization": 10.0, "resets_at": (now + timedelta(hours=3)).isoformat()},
        "seven_day": {"utilization": 50.0, "resets_at": (now + timedelta(days=4)).isoformat()},
    }
    copilot = {
        "copilot_plan": "individual",
        "quota_reset_date_utc": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "quota_snapshots": {
            "premium_interactions": {"entitlement": 300, "percent_remaining": 42.0, "unlimited": False}
        },
    }
    write_hermes(home, "anthropic", "claude-sonnet-4-6", codex_login=False)
    write_claude_credentials(home, expires_in=6 * 3600.0)
    bhogad_toml(home, 'policy = "drain-soonest"\ninterval = 60\n')
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    with FakeServer() as server:
        server.route(USAGE, Reply(200, usage))
        server.route(COPILOT_USER, Reply(200, copilot))
        monkeypatch.delenv("BHOGA_OFFLINE")
        monkeypatch.setenv("BHOGA_ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("BHOGA_GITHUB_API_URL", server.url)
        monkeypatch.setenv("COPILOT_GITHUB_TOKEN", GH_TOKEN)
        monkeypatch.setenv("PATH", str(empty_bin))  # no claude, codex or gh CLI to fall back on
        started = time.monotonic()
        d = launch(start, tmp_path)
        wait_until(lambda: hermes_route(home)[0] == "copilot", what=lambda: f"drain-soonest flip to copilot\n{d.log()}")
        # bhogad logs the flip (with should_switch's reason) just after it writes the config: wait for the line.
        wait_until(lambda: "drain-soonest" in d.log(), what=lambda: f"the drain-soonest flip logged\n{d.log()}")
        assert quota("github-copilot")["credential_state"] == "verified"
        wait_until(
            lambda: d.log().count("discovery (schedule") >= SCHEDULED_RUNS,
            timeout=70.0 * SCHEDULED_RUNS + 30,
            what=lambda: "scheduled discovery",
        )
        time.sleep(2.0)  # let the last scheduled run finish its (refused) calls
        elapsed = time.monotonic() - started
        assert d.stop() == 0
        claude_calls, copilot_calls = server.count(USAGE), server.count(COPILOT_USER)
    assert 1 <= claude_calls <= 1 + int(elapsed // 300), (claude_calls, elapsed)
    assert 1 <= copilot_calls <= 1 + int(elapsed // 900), (copilot_calls, elapsed)
    assert GH_TOKEN not in d.log() and CLAUDE_TOKEN not in d.log()
