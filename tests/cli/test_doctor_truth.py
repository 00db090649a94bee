"""`bhoga doctor` and `bhoga status` tell the truth (DESIGN §8.1, issue 12): a token the server answered 401 is
never "valid", and every broken Hermes file is named with its fix and exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.discovery_helpers import CLAUDE_TOKEN, write_claude_credentials
from tests.fakeserver import FakeServer, Reply


def bhoga(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bhoga", *args], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )


def _hermes(home: Path, text: str | None) -> Path:
    d = home / ".hermes"
    d.mkdir(exist_ok=True)
    path = d / "config.yaml"
    if text is not None:
        path.write_text(text)
    return path


GOOD = "model:\n  default: claude-sonnet-4-6\n  provider: anthropic\n"
CASES = {
    "invalid YAML": ("model:\n  default: [unclosed\n  provider: anthropic\n", "is not YAML bhoga can edit"),
    "duplicate key": ("model:\n  provider: anthropic\n  provider: copilot\n  default: x\n", "duplicate"),
    "unknown provider": ("model:\n  default: x\n  provider: antropic\n", "not a provider Hermes 0.19 knows"),
    "bad api_mode": ("model:\n  default: x\n  provider: openai-api\n  api_mode: messages\n", "api_mode 'messages'"),
    "missing file": (None, "does not exist"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_broken_hermes_file_is_named_with_its_fix(home: Path, case: str) -> None:
    """Invalid YAML, a duplicate key, an unknown provider, a bad api_mode and a missing file: doctor names each
    with a fix and exits 1, and never calls the file writable; status says why the route is unknown."""
    text, expected = CASES[case]
    _hermes(home, text)
    r = bhoga("doctor")
    assert r.returncode == 1, r.stdout
    line = next(x for x in r.stdout.splitlines() if expected in x)
    assert line.startswith("!!"), line
    fix = r.stdout.splitlines()[r.stdout.splitlines().index(line) + 1]
    assert fix.strip().startswith("fix:"), r.stdout
    if case in ("invalid YAML", "duplicate key", "missing file"):
        assert "ok  Hermes config writable" not in r.stdout
    if case in ("invalid YAML", "missing file"):
        s = bhoga("status")
        assert s.returncode == 0 and "? / ?" not in s.stdout
        assert "route unknown" in s.stdout or "last pass failed" in s.stdout, s.stdout


def test_a_directory_in_place_of_the_config(home: Path) -> None:
    """config.yaml that is a directory is named as such, with a fix, exit 1."""
    _hermes(home, None).mkdir()
    r = bhoga("doctor")
    assert r.returncode == 1 and "is a directory, not a file" in r.stdout, r.stdout


def test_a_sound_file_is_writable(home: Path) -> None:
    """A sound config gets the "writable" line and no Hermes file problem."""
    _hermes(home, GOOD)
    r = bhoga("doctor")
    assert "ok  Hermes config writable" in r.stdout, r.stdout
    assert "Hermes provider" not in r.stdout and "Hermes api_mode" not in r.stdout


def test_401_is_never_token_valid(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the usage endpoint answered 401 for the Claude token, doctor says rejected (exit 1), not "token
    valid", status --json says credential_state rejected, and best does not choose it."""
    _hermes(home, GOOD)
    write_claude_credentials(home)
    with FakeServer() as server:  # the usage endpoint on 127.0.0.1
        server.route("/api/oauth/usage", Reply(401, {"error": "invalid token"}))
        monkeypatch.delenv("BHOGA_OFFLINE")
        monkeypatch.setenv("BHOGA_ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("PATH", str(home))  # no `claude` CLI to fall back on
        status = bhoga("status", "--json")
        assert server.count("/api/oauth/usage") == 1
    entry = next(q for q in json.loads(status.stdout)["quotas"] if q["provider_id"] == "claude_code")
    assert entry["credential_state"] == "rejected" and entry["credential_sources"] == ["claude_login"]
    r = bhoga("doctor")
    assert "token valid" not in r.stdout and r.returncode == 1
    assert "rejected by the provider" in r.stdout, r.stdout
    best = bhoga("best", "claude-sonnet-4.6", "--json")
    assert json.loads(best.stdout)["recommendation"] is None
    for out in (status.stdout, r.stdout, best.stdout):
        assert CLAUDE_TOKEN not in out
