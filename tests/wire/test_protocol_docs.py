"""The examples in docs/PROTOCOL.md run, exactly as written, against a real server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures_socket import LineClient, server_thread

DOC = Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md"


def _block(lang: str) -> str:
    blocks = re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1, f"expected one {lang} example in {DOC}"
    return str(blocks[0])


def _env(sock: Path) -> dict[str, str]:
    return dict(os.environ, SOCK=str(sock))


def _seed(sock: Path) -> None:
    LineClient(sock).ask({"v": 1, "op": "set_quota", "pid": "claude_code", "pct_remaining": 80})


def test_python_example_runs(tmp_path: Path) -> None:
    """The Python example sends a turn and a best request and prints the pick."""
    sock = tmp_path / "run" / "bhogad.sock"
    with server_thread(sock):
        _seed(sock)
        r = subprocess.run([sys.executable, "-c", _block("python")], env=_env(sock), capture_output=True,
                           text=True, timeout=30)  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "claude_code"
        assert LineClient(sock).turns() == 1


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_example_runs(tmp_path: Path) -> None:
    """The Node.js example (net module) sends a Codex turn and prints the pick for a Claude model."""
    sock = tmp_path / "run" / "bhogad.sock"
    with server_thread(sock):
        _seed(sock)
        r = subprocess.run(["node", "-e", _block("js")], env=_env(sock), capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "claude_code"
        status = LineClient(sock).ask({"v": 1, "op": "status"})
        assert status["daemon"]["received_turns"] == 1
        codex = next(q for q in status["quotas"] if q["provider_id"] == "openai-codex")
        assert any(w["pct_used"] == 35.0 for w in codex["windows"])


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed (apt-get install socat)")
def test_shell_example_runs(tmp_path: Path) -> None:
    """The socat example sets a quota and gets two answer lines back."""
    sock = tmp_path / "run" / "bhogad.sock"
    with server_thread(sock):
        r = subprocess.run(["sh", "-c", _block("sh")], env=_env(sock), capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        assert lines[0] == {"ok": True}
        assert lines[1]["recommendation"]["provider_id"] == "claude_code"


def test_error_example_is_what_the_server_says(tmp_path: Path) -> None:
    """The error shown in the doc is the server's actual answer to that request."""
    request, answer = _block("text").strip().splitlines()
    sock = tmp_path / "run" / "bhogad.sock"
    with server_thread(sock):
        c = LineClient(sock)
        c.send(request.encode() + b"\n")
        assert json.loads(c.read_lines(1)[0]) == json.loads(answer)
