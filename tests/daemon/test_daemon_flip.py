"""bhogad end to end: real daemon process, real files, real socket, a loopback provider server; Hermes flips."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from tests.discovery_helpers import write_claude_credentials, write_codex_usage
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

OPENAI_KEY = "sk-proj-FAKE-SECRET-openai-0123456789"
ANTHROPIC_KEY = "sk-ant-api03-FAKE-SECRET-anthropic-0123456789"
CLAUDE_TOKEN = "sk-ant-oat01-FAKE-SECRET-claude-access-0123456789"
CLAUDE_REFRESH = "sk-ant-ort01-FAKE-SECRET-claude-refresh-0123456789"
SECRETS = (OPENAI_KEY, ANTHROPIC_KEY, CLAUDE_TOKEN, CLAUDE_REFRESH, "FAKE-HERMES-ACCESS", "FAKE-HERMES-REFRESH")


def provider_becomes(home: Path, want: str, d: DaemonProc | None = None) -> None:
    def what() -> str:  # the log as it is when the wait fails, not as it was when it began
        return f"Hermes provider {want!r}" + (f"\n--- log ---\n{d.log()}" if d else "")

    wait_until(lambda: hermes_route(home)[0] == want, what=what)


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_rollout_file_flips_hermes_and_keeps_the_rest(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new Codex rollout saying 97 % used moves Hermes to openai-api; comments and other keys stay."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    write_hermes(home, "openai-codex", "gpt-5.5")
    write_codex_usage(home, 20, name="a")
    d = launch(start, tmp_path)
    wait_until(lambda: "still the best" in d.log() or "keeping" in d.log(), what=lambda: "first pass")
    assert hermes_route(home) == ("openai-codex", "gpt-5.5")
    write_codex_usage(home, 97, name="b")
    provider_becomes(home, "openai-api", d)
    text = hermes_config(home).read_text()
    assert "# my hermes config" in text and "max_turns: 60  # keep" in text
    # The log line follows the write: wait for it rather than race the daemon to it.
    wait_until(lambda: "flip gpt-5.5: openai-codex → openai_api" in d.log(), what=lambda: "flip log line\n" + d.log())
    assert d.stop() == 0
    state = "".join(p.read_text(errors="replace") for p in (home / ".cache").rglob("*") if p.is_file())
    assert_no_secrets(d.log(), state, text)


def _on_codex_from_rollout(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> DaemonProc:
    """A bhogad with an OpenAI key visible, Hermes on openai-codex, a rollout at 20 % used, first pass done."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    write_hermes(home, "openai-codex", "gpt-5.5")
    write_codex_usage(home, 20, name="a")
    d = launch(start, tmp_path)
    wait_until(lambda: "still the best" in d.log(), what=lambda: "first pass")
    return d


def _steady_on_codex(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> DaemonProc:
    """A bhogad with an OpenAI key visible, Hermes on openai-codex at 80 % left, and its first pass done."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    write_hermes(home, "openai-codex", "gpt-5.5")
    d = launch(start, tmp_path)
    assert request({"op": "set_quota", "pid": "openai-codex", "pct_remaining": 80})["ok"]
    wait_until(lambda: hermes_route(home)[0] == "openai-codex" and "still the best" in d.log(), what=lambda: "steady")
    return d


def test_socket_429_turn_flips_hermes(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 429 turn reported over the socket throttles openai-codex, and Hermes moves to openai-api."""
    d = _steady_on_codex(home, tmp_path, start, monkeypatch)
    turn = {"op": "turn", "pid": "openai-codex", "model": "gpt-5.5", "status_code": 429}
    assert request({**turn, "headers": {"retry-after": "600", "authorization": "Bearer " + OPENAI_KEY}})["ok"]
    provider_becomes(home, "openai-api", d)
    # The file is replaced before the pass records its result, which `status` shows: wait for the record.
    st = wait_until(
        lambda: (s := request({"op": "status"}))["hermes"]["provider"] == "openai-api" and s,
        what=lambda: f"status to show openai-api\n{d.log()}",
    )
    assert st["routes"][0]["model"] == "gpt-5.5"
    assert st["routes"][0]["recommendation"]["provider_id"] == "openai_api"
    assert d.stop() == 0
    assert_no_secrets(d.log())


def test_error_body_turn_from_hermes_flips_hermes_until_its_reset(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A turn with only Codex's usage_limit_reached body throttles openai-codex until resets_at; counted by source."""
    d = _steady_on_codex(home, tmp_path, start, monkeypatch)
    reset = int(time.time()) + 7200
    body = {"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached",
                      "resets_at": reset, "resets_in_seconds": 7200}}  # fmt: skip
    turn = {"op": "turn", "pid": "openai-codex", "model": "gpt-5.5", "status_code": 599, "source": "hermes"}
    assert request({**turn, "error": "Error code: 429 - " + repr(body)})["ok"]
    provider_becomes(home, "openai-api", d)
    st = request({"op": "status"})
    codex = next(q for q in st["quotas"] if q["provider_id"] == "openai-codex")
    assert datetime.fromisoformat(codex["throttled_until"]) == datetime.fromtimestamp(reset, UTC)
    assert st["daemon"]["turns_by_source"] == {"hermes": 1}
    assert d.stop() == 0


def test_codex_home_created_after_start_is_picked_up(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no ~/.codex at start (plan below the reserve) Hermes is on openai-api; a ~/.codex made later, with a
    rollout saying 90 % left, brings openai-codex back."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    write_hermes(home, "openai-codex", "gpt-5.5")
    assert not (home / ".codex").exists()
    d = launch(start, tmp_path)
    request({"op": "set_quota", "pid": "openai-codex", "pct_remaining": 5})
    provider_becomes(home, "openai-api", d)
    time.sleep(0.05)  # the rollout's observation must be newer than the set_quota
    write_codex_usage(home, 10, name="late")  # mkdir -p ~/.codex/sessions/Y/M/D, then the file
    provider_becomes(home, "openai-codex", d)
    assert d.stop() == 0


def _usage(used: float) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "five_hour": {"utilization": used, "resets_at": (now + timedelta(hours=2)).isoformat()},
        "seven_day": {"utilization": 10.0, "resets_at": (now + timedelta(days=3)).isoformat()},
    }


def test_server_answer_and_replaced_credentials_flip_hermes(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claude's usage server starts answering 99 % used; replacing the credentials file makes bhogad ask again.

    (99 %: under the default policy the 5 h window's reserve two hours before its reset is a quarter of 10 %.)"""
    with FakeServer() as srv:
        srv.route("/api/oauth/usage", Reply(200, _usage(20.0)))
        monkeypatch.delenv("BHOGA_OFFLINE")
        monkeypatch.setenv("BHOGA_ANTHROPIC_BASE_URL", srv.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        write_claude_credentials(home, token=CLAUDE_TOKEN, refresh=CLAUDE_REFRESH, expires_in=6 * 3600)
        write_hermes(home, "anthropic", "claude-sonnet-4-6", codex_login=False)
        d = launch(start, tmp_path)
        wait_until(lambda: srv.count("/api/oauth/usage") >= 1, what=lambda: "first usage call")
        wait_until(lambda: "claude_code is still the best" in d.log(), what=lambda: "steady on claude_code\n" + d.log())
        assert hermes_route(home)[0] == "anthropic"
        srv.route("/api/oauth/usage", Reply(200, _usage(99.0)))
        # Claude Code (or Hermes) refreshed its login: a new expiry, hours later. (The same expiry to the second is
        # the same login, which the 5-minute rule rightly refuses: that made this test fail when it ran fast.)
        write_claude_credentials(home, token=CLAUDE_TOKEN, refresh=CLAUDE_REFRESH, expires_in=8 * 3600)
        provider_becomes(home, "anthropic-api", d)
        assert srv.count("/api/oauth/usage") == 2
        sent = [r.headers.get("Authorization", r.headers.get("authorization", "")) for r in srv.requests]
        assert all(CLAUDE_TOKEN in h for h in sent)
        assert d.stop() == 0
        assert_no_secrets(d.log(), hermes_config(home).read_text())


def test_pyyaml_rewrite_is_reread_and_its_model_routed(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config rewritten by a PyYAML writer (the user switched model) is re-read; the next flip keeps that model."""
    d = _on_codex_from_rollout(home, tmp_path, start, monkeypatch)
    data = {"agent": {"max_turns": 5}, "model": {"default": "gpt-5.4-mini", "provider": "openai-codex"}, "x": [1, 2]}
    hermes_config(home).write_text(yaml.safe_dump(data, default_flow_style=True))
    wait_until(lambda: request({"op": "status"})["hermes"]["model"] == "gpt-5.4-mini", what=lambda: "re-read")
    write_codex_usage(home, 97, name="b")
    provider_becomes(home, "openai-api", d)
    after = yaml.safe_load(hermes_config(home).read_text())
    assert after["model"]["default"] == "gpt-5.4-mini"
    assert after["agent"] == {"max_turns": 5} and after["x"] == [1, 2]
    assert d.stop() == 0


def test_pause_stops_writes_and_resume_applies(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While paused a needed flip is only logged; resuming writes it."""
    d = _on_codex_from_rollout(home, tmp_path, start, monkeypatch)
    before = hermes_config(home).read_bytes()
    assert request({"op": "pause"})["paused"] is True
    write_codex_usage(home, 97, name="b")
    wait_until(lambda: "paused; would switch" in d.log(), what=lambda: "paused pass")
    assert hermes_config(home).read_bytes() == before
    assert request({"op": "resume"})["paused"] is False
    provider_becomes(home, "openai-api", d)
    assert d.stop() == 0


def test_provider_bhoga_does_not_route_is_left_alone(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Hermes config on a provider bhoga doesn't manage (a local model) is never rewritten."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    write_hermes(home, "lmstudio", "gpt-5.5")
    before = hermes_config(home).read_bytes()
    write_codex_usage(home, 97, name="a")
    d = launch(start, tmp_path)
    wait_until(lambda: "which bhoga does not route; leaving it" in d.log(), what=lambda: "leave-alone line")
    time.sleep(1.0)
    assert hermes_config(home).read_bytes() == before
    assert d.stop() == 0


def _once(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bhogad", "--once", *args], capture_output=True, text=True, timeout=60)


def test_once_writes_and_reports(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`bhogad --once` does one pass, prints what it did and exits 0."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    write_hermes(home, "openai-codex", "gpt-5.5")
    write_codex_usage(home, 97)
    proc = _once()
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and "openai_api" in proc.stdout
    assert hermes_route(home)[0] == "openai-api"
    assert_no_secrets(proc.stdout, proc.stderr)


def test_once_exits_1_when_hermes_config_cannot_be_written(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Hermes config that cannot be replaced safely (a hard link) makes `--once` exit 1 with one line."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    cfg = write_hermes(home, "openai-codex", "gpt-5.5")
    os.link(cfg, home / "config-hardlink.yaml")
    write_codex_usage(home, 97)
    before = cfg.read_bytes()
    proc = _once()
    assert proc.returncode == 1
    assert proc.stderr.startswith("bhogad: ") and "Traceback" not in proc.stderr
    assert cfg.read_bytes() == before


def test_symlinked_hermes_dir_is_watched_and_kept(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ~/.hermes a stow-style symlink, hand edits to the real file are seen and flips keep the link."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    write_hermes(home, "openai-codex", "gpt-5.5")
    real = tmp_path / "dotfiles" / "hermes"
    real.parent.mkdir()
    (home / ".hermes").rename(real)
    (home / ".hermes").symlink_to(real)
    write_codex_usage(home, 20, name="a")
    d = launch(start, tmp_path)
    wait_until(lambda: "still the best" in d.log(), what=lambda: "first pass")
    text = (real / "config.yaml").read_text().replace("gpt-5.5", "gpt-5.4")
    (real / "config.yaml").write_text(text)  # an editor writing the real file in place
    wait_until(lambda: request({"op": "status"})["hermes"]["model"] == "gpt-5.4", what=lambda: "hand edit seen")
    write_codex_usage(home, 97, name="b")
    provider_becomes(home, "openai-api", d)
    assert (home / ".hermes").is_symlink()
    assert yaml.safe_load((real / "config.yaml").read_text())["model"]["default"] == "gpt-5.4"
    assert d.stop() == 0


def test_sigterm_does_not_wait_for_a_hung_discovery(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A usage endpoint that never answers does not hold SIGTERM up: exit 0 before the server would reply."""
    with FakeServer() as srv:
        srv.route("/api/oauth/usage", Reply(200, _usage(20.0), delay=60.0))
        monkeypatch.delenv("BHOGA_OFFLINE")
        monkeypatch.setenv("BHOGA_ANTHROPIC_BASE_URL", srv.url)
        write_claude_credentials(home, token=CLAUDE_TOKEN, refresh=CLAUDE_REFRESH, expires_in=6 * 3600)
        d = launch(start, tmp_path)
        wait_until(lambda: srv.count("/api/oauth/usage") >= 1, what=lambda: "usage call in flight")
        assert d.stop(timeout=30) == 0
        # Had shutdown waited for the request, its 5 s client timeout would have been logged before exit.
        log = d.log()
        assert "stopped" in log and "Claude usage endpoint" not in log
        assert not (Path(os.environ["XDG_RUNTIME_DIR"]) / "bhoga" / "bhogad.sock").exists()


def test_hermes_login_appearing_is_noticed(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Hermes' own Codex login openai-codex is skipped; `hermes auth` writing auth.json brings it back."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    write_hermes(home, "openai-codex", "gpt-5.5", codex_login=False)
    write_codex_usage(home, 10, name="a")
    d = launch(start, tmp_path)
    provider_becomes(home, "openai-api", d)
    login = home / "login.json"
    write_hermes(home / "elsewhere", "x", "y")  # a complete auth.json, written aside ...
    (home / "elsewhere" / ".hermes" / "auth.json").rename(login)
    os.replace(login, home / ".hermes" / "auth.json")  # ... and moved in, as Hermes' atomic writer does
    provider_becomes(home, "openai-codex", d)
    assert d.stop() == 0
