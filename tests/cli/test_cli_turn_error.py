"""`bhoga turn --error` gives a shell harness that only has the error body the same throttle as the headers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.fixtures_socket import LineClient

BHOGA = Path(sys.executable).with_name("bhoga")
BODY = '{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","resets_at":%d}}'


def _run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    r = subprocess.run([str(BHOGA), *args], input=stdin, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ), check=False)  # fmt: skip
    assert "Traceback" not in r.stderr
    return r


def test_error_body_from_stdin_throttles_until_its_reset(home: Path) -> None:
    """Without a daemon, `--error -` reads the body from stdin and the state records the throttle to resets_at."""
    reset = int(datetime.now(UTC).timestamp()) + 3600
    r = _run("turn", "--pid", "openai-codex", "--model", "gpt-5.5", "--status", "429", "--error", "-",
             "--source", "my-harness", stdin=BODY % reset)  # fmt: skip
    assert r.returncode == 0, r.stderr
    state = json.loads((home / ".cache" / "bhoga" / "state.json").read_text())
    until = datetime.fromisoformat(state["providers"]["openai-codex"]["throttled_until"])
    assert until == datetime.fromtimestamp(reset, UTC)


def test_bad_error_and_source_are_usage_errors(home: Path) -> None:
    """An error text over 4,096 characters or a non-printable source is exit 2 with one line."""
    long = _run("turn", "--pid", "claude_code", "--model", "m", "--error", "x" * 5000)
    assert long.returncode == 2 and "4,096" in long.stderr
    bad = _run("turn", "--pid", "claude_code", "--model", "m", "--source", "a\tb")
    assert bad.returncode == 2 and "printable" in bad.stderr


def test_error_turn_goes_to_the_daemon(home: Path, server: Path) -> None:
    """With a daemon on the socket the turn, its error body included, is answered by the daemon."""
    reset = int(datetime.now(UTC).timestamp()) + 1800
    r = _run("turn", "--pid", "openai-codex", "--model", "gpt-5.5", "--status", "429", "--error", BODY % reset)
    assert r.returncode == 0, r.stderr
    status = LineClient(server).ask({"v": 1, "op": "status"})
    codex = next(q for q in status["quotas"] if q["provider_id"] == "openai-codex")
    assert datetime.fromisoformat(codex["throttled_until"]) == datetime.fromtimestamp(reset, UTC)
    assert status["daemon"]["received_turns"] == 1  # the daemon got it: the CLI did not record it locally instead
