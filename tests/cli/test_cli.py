"""The `bhoga` console script, run as a real subprocess, with and without a daemon on the socket."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bhoga import __version__ as bhoga_version
from tests.fixtures_socket import LineClient

BHOGA = Path(sys.executable).with_name("bhoga")
FIXTURE = Path(__file__).parents[1] / "fixtures_socket.py"
SECRET = "sk-ant-api03-PLANTED-CLI-SECRET"


def bhoga(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(BHOGA), *args], capture_output=True, text=True, timeout=60, env=env or dict(os.environ)
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _state(home: Path) -> str:
    path = home / ".cache" / "bhoga" / "state.json"
    return path.read_text() if path.exists() else ""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Path]:
    """bhogad's server and handler in their own process, on the default socket path, with a HOME of their own
    (so what the daemon records is told apart from what the CLI would have recorded itself)."""
    path = Path(os.environ["XDG_RUNTIME_DIR"]) / "bhoga" / "bhogad.sock"
    own = tmp_path / "daemon-home"
    env = dict(os.environ, HOME=str(own), XDG_CACHE_HOME=str(own / ".cache"), XDG_CONFIG_HOME=str(own / ".config"))
    env["XDG_STATE_HOME"] = str(own / ".local" / "state")
    proc = subprocess.Popen([sys.executable, str(FIXTURE), str(path)], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    try:
        yield path
    finally:
        LineClient.close_all()
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "required"),
        (("frobnicate",), "invalid choice"),
        (("set-quota", "nope", "5"), "invalid choice: 'nope'"),
        (("set-quota", "claude_code", "500"), "500 is not a percentage"),
        (("set-quota", "claude_code", "lots"), "'lots' is not a number"),
        (("turn", "--pid", "claude_code", "--model", "m", "--header", "novalue"), "is not NAME=VALUE"),
        (("turn", "--pid", "claude_code", "--model", "m", "--status", "42"), "not an HTTP status code"),
        (("turn", "--pid", "claude_code", "--model", "m", "--in", "-3"), "out of range"),
        (("best",), "required"),
    ],
)
def test_usage_errors_exit_2_with_one_message(args: tuple[str, ...], message: str) -> None:
    """Bad arguments exit 2 with argparse's usage line and the reason, never a traceback."""
    r = bhoga(*args)
    assert r.returncode == 2
    assert message in r.stderr
    assert r.stdout == ""


def test_set_quota_then_status_shows_bars_resets_and_choice(home: Path) -> None:
    """Locally, set-quota and a turn's headers show up in the status table with bars, % and reset times."""
    assert bhoga("set-quota", "claude_code", "64", "--weekly", "30").returncode == 0
    reset = int(time.time()) + 2 * 3600 + 13 * 60 + 30
    r = bhoga(
        "turn", "--pid", "claude_code", "--model", "claude-opus-4",
        "--header", "anthropic-ratelimit-unified-5h-utilization=0.6",
        "--header", f"anthropic-ratelimit-unified-5h-reset={reset}",
        "--header", f"Authorization=Bearer {SECRET}",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    status = bhoga("status", "--all")
    assert status.returncode == 0
    out = status.stdout
    assert "bhogad not running" in out
    assert re.search(r"5h\s+████░░░░░░\s+40%\s+2h 1[23]m", out), out
    assert re.search(r"claude_code\s+ok\s+7d\s+███░░░░░░░\s+30%", out), out
    assert "anthropic_api" in out.split("not set up:")[1]
    assert SECRET not in _state(home) and SECRET not in out


def test_status_json_is_the_protocol_shape(home: Path) -> None:
    """`status --json` prints the same object a daemon's status answer has."""
    bhoga("set-quota", "openai-codex", "80")
    r = bhoga("status", "--json")
    assert r.returncode == 0
    data = json.loads(r.stdout)
    assert data["ok"] is True and data["daemon"] is None and data["paused"] is False
    codex = next(q for q in data["quotas"] if q["provider_id"] == "openai-codex" and q["model"] == "*")
    assert codex["quota_pct"] == pytest.approx(0.8)
    assert {"path", "provider", "model"} <= set(data["hermes"])


def test_best_gives_reason_and_alternatives_or_exit_1() -> None:
    """`best` names the pick and why, lists ranked alternatives, and exits 1 when nothing can serve."""
    none = bhoga("best", "claude-opus-4")
    assert none.returncode == 1 and "No provider can serve claude-opus-4" in none.stdout
    bhoga("set-quota", "claude_code", "70")
    bhoga("set-quota", "github-copilot", "40")
    r = bhoga("best", "claude-opus-4")
    assert r.returncode == 0
    assert r.stdout.startswith("claude_code")
    assert "why:" in r.stdout and "alternatives" in r.stdout and "github-copilot" in r.stdout
    j = json.loads(bhoga("best", "claude-opus-4", "--json").stdout)
    assert j["recommendation"]["provider_id"] == "claude_code" and j["source"] == "local"
    assert [x["provider_id"] for x in j["ranked"]] == ["claude_code", "github-copilot"]


def test_pause_and_resume_without_a_daemon_use_the_marker_file(home: Path) -> None:
    """Without a daemon, pause creates the paused marker beside the state file and resume removes it."""
    marker = home / ".cache" / "bhoga" / "paused"
    assert bhoga("pause").returncode == 0 and marker.exists()
    assert "PAUSED" in bhoga("status").stdout
    assert bhoga("resume").returncode == 0 and not marker.exists()


def test_doctor_names_each_problem_with_its_fix(home: Path) -> None:
    """In an empty home, doctor exits 1 and gives the one command that fixes each problem."""
    r = bhoga("doctor")
    assert r.returncode == 1
    assert "no credential found for any provider" in r.stdout
    assert "bhogad running: nothing listens" in r.stdout and "fix: bhogad install" in r.stdout
    assert "service installed" in r.stdout and "Hermes config" in r.stdout and "fix: hermes setup" in r.stdout


def test_doctor_sees_the_daemon_and_the_service_file(home: Path, server: Path) -> None:
    """With a daemon listening and the unit file present, doctor reports both as fine."""
    unit = home / ".config" / "systemd" / "user" / "bhogad.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\n")
    r = bhoga("doctor")
    assert f"ok  bhogad running: answering on {server}" in r.stdout
    assert f"ok  service installed: {unit}" in r.stdout


def test_commands_go_to_the_daemon_when_it_runs(home: Path, server: Path) -> None:
    """With a daemon on the socket, turn, set-quota, pause, status and best are answered by it."""
    env = dict(os.environ, ANTHROPIC_API_KEY=SECRET)
    r = bhoga(
        "turn", "--pid", "claude_code", "--model", "claude-opus-4", "--in", "5", "--out", "7",
        "--header", "anthropic-ratelimit-unified-5h-utilization=0.25", "--header", f"x-api-key={SECRET}", env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    q = bhoga("set-quota", "github-copilot", "55")
    assert "sent to bhogad" in q.stdout
    assert bhoga("pause").returncode == 0
    daemon_view = LineClient(server).ask({"v": 1, "op": "status"})
    assert daemon_view["daemon"]["received_turns"] == 1 and daemon_view["paused"] is True
    assert not (home / ".cache" / "bhoga" / "paused").exists()  # the daemon, not the CLI, recorded the pause
    status = bhoga("status")
    assert status.stdout.startswith("bhogad ")
    assert re.search(r"5h\s+████████░░\s+75%", status.stdout), status.stdout
    best = json.loads(bhoga("best", "claude-opus-4", "--json").stdout)
    assert best["source"] == "bhogad" and best["recommendation"]["provider_id"] == "claude_code"
    assert SECRET not in json.dumps(daemon_view) and SECRET not in _state(home)


HERMES_CONFIG = """\
# my Hermes config
model:
  default: "claude-opus-4-6"   # keep this comment
  provider: "anthropic"
"""


def test_apply_dry_run_prints_the_diff_and_apply_writes(home: Path) -> None:
    """`apply --dry-run` prints a unified diff and changes nothing; `apply` then writes that change."""
    hermes = home / ".hermes"
    hermes.mkdir()
    cfg = hermes / "config.yaml"
    cfg.write_text(HERMES_CONFIG)
    env = dict(os.environ, OPENROUTER_API_KEY="sk-or-v1-PLANTED")
    bhoga("set-quota", "openai_api", "90", env=env)
    dry = bhoga("apply", "gpt-5.4", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("---") and "+++" in dry.stdout and "openrouter" in dry.stdout
    assert cfg.read_text() == HERMES_CONFIG
    done = bhoga("apply", "gpt-5.4", env=env)
    assert done.returncode == 0, done.stderr
    assert "Hermes now uses openrouter / openai/gpt-5.4 (openai_api)" in done.stdout
    assert "# keep this comment" in cfg.read_text() and "openrouter" in cfg.read_text()
    again = bhoga("apply", "gpt-5.4", env=env)
    assert "no change" in again.stdout
    assert "PLANTED" not in dry.stdout + done.stdout + again.stdout


def test_operational_errors_are_one_line_and_exit_1(home: Path) -> None:
    """An apply with no usable provider, or a Hermes config that cannot be edited, fails in one line."""
    r = bhoga("apply", "claude-opus-4")
    assert r.returncode == 1
    assert r.stderr.startswith("bhoga: no provider Hermes can use") and r.stderr.count("\n") == 1
    hermes = home / ".hermes"
    hermes.mkdir()
    (hermes / "config.yaml").write_text("model: [unclosed\n")
    env = dict(os.environ, OPENROUTER_API_KEY="sk-or-v1-x")
    bhoga("set-quota", "openai_api", "90", env=env)
    r = bhoga("apply", "gpt-5.4", env=env)
    assert r.returncode == 1 and r.stderr.startswith("bhoga: ") and r.stderr.count("\n") == 1
    assert "config.yaml" in r.stderr


def test_cli_against_the_real_bhogad(home: Path) -> None:
    """With the real daemon (python -m bhogad) running, the CLI's turn, status and best go through it."""
    runtime = Path(os.environ["XDG_RUNTIME_DIR"])
    sock = runtime / "bhoga" / "bhogad.sock"
    root = Path(__file__).resolve().parents[2]
    daemon = subprocess.Popen([sys.executable, "-m", "bhogad"], cwd=root, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        end = time.monotonic() + 30
        while not sock.exists():
            assert daemon.poll() is None, daemon.stderr.read() if daemon.stderr else ""
            assert time.monotonic() < end, "bhogad did not start"
            time.sleep(0.05)
        assert bhoga("set-quota", "claude_code", "35").stdout.endswith("(sent to bhogad)\n")
        r = bhoga("turn", "--pid", "claude_code", "--model", "claude-opus-4",
                  "--header", "anthropic-ratelimit-unified-5h-utilization=0.1")  # fmt: skip
        assert r.returncode == 0, r.stderr
        status = bhoga("status")
        assert status.stdout.startswith(f"bhogad {bhoga_version} · pid {daemon.pid}")
        best = json.loads(bhoga("best", "claude-opus-4", "--json").stdout)
        assert best["source"] == "bhogad" and best["recommendation"]["provider_id"] == "claude_code"
        assert bhoga("pause").returncode == 0
        assert json.loads(bhoga("status", "--json").stdout)["paused"] is True
        assert bhoga("resume").returncode == 0
    finally:
        daemon.terminate()
        daemon.wait(15)
        if daemon.stderr:
            daemon.stderr.close()


def test_doctor_flags_an_expired_claude_login_without_printing_it(home: Path) -> None:
    """An expired Claude Code token is a problem with its fix; no part of the token is printed."""
    sample = Path(__file__).parents[1] / "data" / "cli" / "claude_credentials_expired.json"
    creds = home / ".claude" / ".credentials.json"
    creds.parent.mkdir()
    creds.write_text(sample.read_text())
    token = json.loads(sample.read_text())["claudeAiOauth"]["accessToken"]
    r = bhoga("doctor")
    assert r.returncode == 1
    line = next(x for x in r.stdout.splitlines() if "claude_code credentials" in x)
    assert line.startswith("!!") and "expired" in line
    assert "fix: run `claude`" in r.stdout
    assert token not in r.stdout + r.stderr and token[:20] not in r.stdout + r.stderr


def test_status_warns_when_hermes_would_bill_the_api_key_for_claude_code(home: Path) -> None:
    """With a Claude Code login and ANTHROPIC_API_KEY both visible, status says Hermes bills the key."""
    (home / ".claude").mkdir()
    (home / ".claude" / ".credentials.json").write_text(
        json.dumps({"claudeAiOauth": {"accessToken": "sk-ant-oat01-FAKE-caveat", "expiresAt": 99999999999999}})
    )
    warned = bhoga("status", env={**os.environ, "ANTHROPIC_API_KEY": "sk-ant-api03-FAKE-caveat"})
    assert warned.returncode == 0 and "CLAUDE_CODE_OAUTH_TOKEN" in warned.stdout
    assert "FAKE-caveat" not in warned.stdout + warned.stderr
    quiet = bhoga("status")
    assert "CLAUDE_CODE_OAUTH_TOKEN" not in quiet.stdout


def test_importing_the_main_modules_runs_nothing(home: Path) -> None:
    """`import bhogad.__main__` (as `python -X importtime` does) starts no daemon and `import bhoga.__main__` runs no
    command, while `python -m` still runs both."""
    code = "import bhogad.__main__, bhoga.__main__"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert not (home / ".cache" / "bhoga").exists()
    assert not any(Path(os.environ["XDG_RUNTIME_DIR"]).iterdir())
    for name in ("bhoga", "bhogad"):
        run = subprocess.run([sys.executable, "-m", name, "--version"], capture_output=True, text=True, timeout=30)
        assert run.stdout.strip() == f"{name} {bhoga_version}", run.stderr
