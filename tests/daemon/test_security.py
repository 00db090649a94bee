"""Security checks: file and socket permissions of a real bhogad run, no planted secret in anything a run
produced, and every subprocess call in bhoga/ and bhogad/ without a shell and (where it waits) with a timeout."""

from __future__ import annotations

import ast
import base64
import json
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bhoga._paths import socket_path, state_path
from tests.discovery_helpers import write_claude_credentials
from tests.fakeserver import FakeServer, Reply
from tests.fixtures_daemon import DaemonProc, hermes_config, request, wait_until, write_hermes

ROOT = Path(__file__).resolve().parents[2]

CLAUDE_ACCESS = "sk-ant-oat01-SECFAKE-claude-access-7d1c0e"
CLAUDE_REFRESH = "sk-ant-ort01-SECFAKE-claude-refresh-91ab2f"
ANTHROPIC_KEY = "sk-ant-api03-SECFAKE-anthropic-key-5e77aa"
OPENAI_KEY = "sk-proj-SECFAKE-openai-key-0c4d21"
GH_TOKEN = "gho_SECFAKEgithubtoken0123456789abcdef"
CODEX_ACCESS = "SECFAKE-codex-access-token-6f2b90"
CODEX_REFRESH = "SECFAKE-codex-refresh-token-a1c3e5"
CODEX_API_KEY = "sk-SECFAKE-codex-auth-json-key-3344"
HERMES_TOKENS = ("FAKE-HERMES-ACCESS", "FAKE-HERMES-REFRESH")


def _jwt(claims: dict[str, object]) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.SECFAKEsig"


CODEX_ID = _jwt({"exp": int(time.time()) + 3600, "https://api.openai.com/auth": {"chatgpt_account_id": "acct-1"}})
SECRETS = (
    CLAUDE_ACCESS,
    CLAUDE_REFRESH,
    ANTHROPIC_KEY,
    OPENAI_KEY,
    GH_TOKEN,
    CODEX_ACCESS,
    CODEX_REFRESH,
    CODEX_API_KEY,
    CODEX_ID,
    *HERMES_TOKENS,
)


def _plant(home: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Fake credentials in every place bhoga reads them; the files planted (inputs, not outputs)."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("GH_TOKEN", GH_TOKEN)
    claude = write_claude_credentials(home, token=CLAUDE_ACCESS, refresh=CLAUDE_REFRESH, expires_in=6 * 3600)
    codex = home / ".codex" / "auth.json"
    codex.parent.mkdir(parents=True)
    tokens = {"access_token": CODEX_ACCESS, "refresh_token": CODEX_REFRESH, "id_token": CODEX_ID, "account_id": "a"}
    codex.write_text(json.dumps({"OPENAI_API_KEY": CODEX_API_KEY, "auth_mode": "chatgpt", "tokens": tokens}))
    cfg = write_hermes(home, "anthropic-api", "claude-sonnet-4-6")  # also Hermes' auth.json with FAKE-HERMES-*
    return [claude, codex, cfg.parent / "auth.json"]


def _usage(used: float) -> dict[str, object]:
    return {
        "five_hour": {"utilization": used, "resets_at": "2099-01-01T00:00:00+00:00"},
        "seven_day": {"utilization": 10.0, "resets_at": "2099-01-02T00:00:00+00:00"},
    }


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bhoga", *args], capture_output=True, text=True, timeout=60)


def test_daemon_files_and_socket_are_private(home: Path, tmp_path: Path, start: list[DaemonProc]) -> None:
    """A real bhogad makes its socket dir 0700, its socket 0600 and state.json 0600."""
    d = DaemonProc(tmp_path / "bhogad.log")
    start.append(d)
    d.wait_ready()
    assert request({"op": "set_quota", "pid": "openai-codex", "pct_remaining": 50})["ok"]
    wait_until(state_path().exists, what=lambda: "state.json written")
    sock = socket_path()
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(state_path().stat().st_mode) == 0o600
    assert d.stop() == 0


def test_planted_secrets_appear_nowhere_a_run_wrote(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tokens in env, Claude/Codex/Hermes login files and echoed by servers never reach logs, files, socket or CLI."""
    inputs = _plant(home, monkeypatch)
    with FakeServer() as srv:
        # Hostile servers echo the credential back in error bodies: a logged body would leak it.
        srv.route("/api/oauth/usage", Reply(200, _usage(20.0)))
        srv.route("/backend-api/wham/usage", Reply(500, f"bad token Bearer {CODEX_ACCESS}"))
        srv.route("/copilot_internal/user", Reply(401, {"message": f"Bad credentials: token {GH_TOKEN}"}))
        monkeypatch.delenv("BHOGA_OFFLINE")
        monkeypatch.setenv("BHOGA_ANTHROPIC_BASE_URL", srv.url)
        monkeypatch.setenv("BHOGA_CHATGPT_BASE_URL", srv.url + "/backend-api")
        monkeypatch.setenv("BHOGA_GITHUB_API_URL", srv.url)
        d = DaemonProc(tmp_path / "bhogad.log")
        start.append(d)
        d.wait_ready()
        for path in ("/api/oauth/usage", "/backend-api/wham/usage", "/copilot_internal/user"):
            wait_until(lambda p=path: srv.count(p) >= 1, what=lambda p=path: f"{p} called\n{d.log()}")  # type: ignore[misc]
        wait_until(
            lambda: "provider: anthropic\n" in hermes_config(home).read_text(), what=lambda: "a flip\n" + d.log()
        )
        # A harness reporting a turn with its auth headers: they must be dropped, not stored.
        headers = {"authorization": f"Bearer {OPENAI_KEY}", "x-api-key": ANTHROPIC_KEY, "retry-after": "60"}
        turn = {"op": "turn", "pid": "openai_api", "model": "gpt-5.5", "status_code": 429, "headers": headers}
        assert request(turn)["ok"]
        status = json.dumps(request({"op": "status"}))
        cli_status = _cli("status", "--json")
        cli_doctor = _cli("doctor")
        assert cli_status.returncode == 0, cli_status.stderr
        assert d.stop() == 0
        # The secrets really were read and used (only towards the loopback server), so their absence means something.
        sent = " ".join(v for r in srv.requests for k, v in r.headers.items() if k.lower() == "authorization")
        assert CLAUDE_ACCESS in sent and CODEX_ACCESS in sent and GH_TOKEN in sent
    outputs = {"socket status": status, "bhogad log": d.log()}
    outputs |= {f"bhoga status --json {k}": v for k, v in (("out", cli_status.stdout), ("err", cli_status.stderr))}
    outputs |= {f"bhoga doctor {k}": v for k, v in (("out", cli_doctor.stdout), ("err", cli_doctor.stderr))}
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p not in inputs]
    names = {p.name for p in written}
    assert {"state.json", "discovery.json", "config.yaml"} <= names, names
    for p in written:
        outputs[str(p)] = p.read_text(errors="replace")
    assert "claude_code" in outputs["socket status"] and "claude" in cli_status.stdout.lower()
    for where, text in outputs.items():
        for secret in SECRETS:
            assert secret not in text, f"secret {secret[:14]}... found in {where}"
        assert "SECFAKE" not in text, f"part of a planted secret found in {where}"


def _subprocess_calls(tree: ast.AST) -> Iterator[tuple[str, ast.Call]]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "subprocess":
            yield f.attr, node
        elif isinstance(f, ast.Name) and f.id in {"Popen", "check_output", "check_call", "call"}:
            yield f.id, node


def test_subprocesses_use_no_shell_and_have_timeouts() -> None:
    """In bhoga/ and bhogad/ no subprocess call uses shell=True, and run/check_output/call pass timeout=."""
    found = 0
    problems: list[str] = []
    for path in sorted([*(ROOT / "bhoga").rglob("*.py"), *(ROOT / "bhogad").rglob("*.py")]):
        tree = ast.parse(path.read_text(), str(path))
        for name, call in _subprocess_calls(tree):
            if name not in {"run", "Popen", "check_output", "check_call", "call"}:
                continue
            found += 1
            where = f"{path.relative_to(ROOT)}:{call.lineno} subprocess.{name}"
            kw = {k.arg: k.value for k in call.keywords if k.arg}
            shell = kw.get("shell")
            if shell is not None and not (isinstance(shell, ast.Constant) and shell.value is False):
                problems.append(f"{where}: shell= is not literally False")
            if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
                problems.append(f"{where}: command is a string, not a list")
            if name != "Popen" and "timeout" not in kw:
                problems.append(f"{where}: no timeout=")
    assert found >= 1, "no subprocess call found: the check is looking in the wrong place"
    assert problems == []


def _shell_or_os_exec(node: ast.AST) -> str | None:
    """What is wrong with `node`: a `shell=` not literally False, or os.system/popen/spawn*/exec*."""
    if isinstance(node, ast.keyword) and node.arg == "shell":
        return None if isinstance(node.value, ast.Constant) and node.value.value is False else "shell="
    if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os"):
        return None
    return f"os.{node.attr}" if node.attr in {"system", "popen"} or node.attr.startswith(("spawn", "exec")) else None


def test_no_shell_true_anywhere_in_the_sources() -> None:
    """No os.system/os.popen/exec/spawn and no `shell=` other than False anywhere in bhoga/ or bhogad/."""
    bad: list[str] = []
    for path in sorted([*(ROOT / "bhoga").rglob("*.py"), *(ROOT / "bhogad").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (what := _shell_or_os_exec(node)) is not None:
                bad.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')} {what}")
    assert bad == []


def test_the_source_checks_catch_what_they_look_for() -> None:
    """The two AST checks flag a shell=True, a string command, a missing timeout and os.system in a sample."""
    sample = ast.parse(
        "import os, subprocess\nsubprocess.run('ls', shell=True)\nsubprocess.check_output(['ls'])\nos.system('ls')\n"
    )
    names = [name for name, _ in _subprocess_calls(sample)]
    assert names == ["run", "check_output"]
    flagged = [w for node in ast.walk(sample) if (w := _shell_or_os_exec(node)) is not None]
    assert sorted(flagged) == ["os.system", "shell="]
