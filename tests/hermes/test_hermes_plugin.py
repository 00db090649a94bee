"""The Hermes plugin module itself: provider mapping, what it sends, and that it never blocks or raises."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bhoga import hermes_plugin as plugin
from bhoga._protocol import TurnRequest
from bhoga._protocol_parse import parse_request

SECRET = "sk-ant-oat01-PLANTED-PLUGIN-SECRET"


@pytest.mark.parametrize(
    ("provider", "base_url", "env", "pid"),
    [
        ("anthropic", "https://api.anthropic.com", {}, "claude_code"),
        ("anthropic", "http://127.0.0.1:5000", {"ANTHROPIC_API_KEY": "k"}, "anthropic_api"),
        ("anthropic", None, {"ANTHROPIC_API_KEY": "k", "CLAUDE_CODE_OAUTH_TOKEN": "t"}, "claude_code"),
        ("anthropic", None, {"ANTHROPIC_API_KEY": "k", "ANTHROPIC_TOKEN": "t"}, "claude_code"),
        ("openai-codex", "https://chatgpt.com/backend-api/codex", {}, "openai-codex"),
        ("copilot", "https://api.githubcopilot.com", {}, "github-copilot"),
        ("openai-api", "https://api.openai.com/v1", {}, "openai_api"),
        ("openrouter", "https://openrouter.ai/api/v1", {}, "openai_api"),
        ("custom", "https://api.anthropic.com", {}, "anthropic_api"),
        ("custom", "https://eu.api.openai.com/v1", {}, "openai_api"),
        ("custom", "http://localhost:11434/v1", {}, None),
        ("nous", "https://inference-api.nousresearch.com/v1", {}, None),
        (None, None, {}, None),
    ],
)
def test_provider_mapping(provider: str | None, base_url: str | None, env: dict[str, str], pid: str | None) -> None:
    """Hermes' provider, its credential (as Hermes would pick it) and base URL map to one bhoga pid, or none."""
    assert plugin.bhoga_pid(provider, base_url, env) == pid


class Spy:
    """A listening Unix socket that records the lines it gets and answers each with ok."""

    def __init__(self, path: Path, *, read: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(path))
        self.listener.listen(8)
        self.lines: list[bytes] = []
        self.conn: socket.socket | None = None
        self.read = read
        self.thread = threading.Thread(target=self._run, daemon=True)
        if read:
            self.thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        self.conn = conn
        buf = b""
        with conn, contextlib.suppress(OSError):  # the plugin may hang up at any time
            while chunk := conn.recv(65536):
                buf += chunk
                *done, buf = buf.split(b"\n")
                self.lines.extend(done)
                conn.sendall(b'{"ok":true}\n' * len(done))

    def wait(self, n: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 10
        while len(self.lines) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return [json.loads(line) for line in self.lines]

    def close(self) -> None:
        """Stop like a daemon does: no more connections, and the open one is closed."""
        self.listener.close()
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def sock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "run" / "bhogad.sock"
    monkeypatch.setenv("BHOGA_SOCKET", str(path))
    monkeypatch.setattr(plugin, "_sender", plugin._Sender())
    yield path
    plugin._sender.close()


class FakeResponse:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


class FakeRateLimitError(Exception):
    """Shaped like the OpenAI/Anthropic SDKs' status errors: `.response.headers` and the parsed `.body`."""

    def __init__(self, headers: dict[str, str], body: object) -> None:
        super().__init__("Error code: 429 - " + repr(body))
        self.response = FakeResponse(headers)
        self.body = body


def _hermes_error_path(exc: BaseException, **kwargs: Any) -> None:
    """Stands in for Hermes' conversation loop: the exception is the local `api_error` while the hook runs."""
    try:
        raise exc
    except Exception as api_error:
        assert api_error is exc
        plugin.on_api_request_error(
            provider="openai-codex",
            model="gpt-5.5",
            base_url="https://chatgpt.com/backend-api/codex",
            status_code=429,
            error={"type": type(api_error).__name__, "message": str(api_error)},
            **kwargs,
        )


def test_turns_sent_are_valid_protocol_lines_without_secrets(sock: Path) -> None:
    """A success and a failure each send one valid turn with source hermes; only rate-limit headers go out."""
    spy = Spy(sock)
    plugin.on_post_api_request(
        provider="anthropic",
        model="claude-sonnet-4-6",
        base_url="https://api.anthropic.com",
        usage={"input_tokens": 10, "prompt_tokens": 12, "output_tokens": 5, "total_tokens": 17},
        api_key=SECRET,
        telemetry_schema_version=1,
    )
    body = {"type": "usage_limit_reached", "resets_in_seconds": 600, "message": "The usage limit has been reached"}
    headers = {"authorization": f"Bearer {SECRET}", "x-codex-primary-used-percent": "100", "Retry-After": "600"}
    _hermes_error_path(FakeRateLimitError(headers, body))
    got = spy.wait(2)
    spy.close()
    assert len(got) == 2
    requests = [parse_request(line) for line in spy.lines]
    ok, err = requests
    assert isinstance(ok, TurnRequest) and isinstance(err, TurnRequest)
    assert (ok.pid, ok.model, ok.input_tokens, ok.output_tokens, ok.status_code, ok.source) == (
        "claude_code", "claude-sonnet-4-6", 12, 5, 200, "hermes"
    )  # fmt: skip
    assert (err.pid, err.status_code, err.source) == ("openai-codex", 429, "hermes")
    assert json.loads(err.error or "") == body
    assert got[1]["headers"] == {"x-codex-primary-used-percent": "100", "retry-after": "600"}
    assert SECRET.encode() not in b"".join(spy.lines)


def test_error_without_status_or_exception_sends_599_and_the_message(sock: Path) -> None:
    """No HTTP status and no exception in reach: status 599 and Hermes' error message as the error text."""
    spy = Spy(sock)
    plugin.on_api_request_error(
        provider="copilot", model="claude-sonnet-4.6", status_code=None, error={"type": "X", "message": "stream died"}
    )
    got = spy.wait(1)
    spy.close()
    assert got[0]["status_code"] == 599 and got[0]["error"] == "stream died" and got[0]["pid"] == "github-copilot"


def test_unknown_provider_sends_nothing(sock: Path) -> None:
    """A provider bhoga does not route (a local model) is not reported."""
    spy = Spy(sock)
    plugin.on_post_api_request(provider="custom", base_url="http://localhost:11434/v1", model="llama")
    plugin.on_post_api_request(provider="openai-api", model="gpt-5.5")
    got = spy.wait(1)
    spy.close()
    assert [g["pid"] for g in got] == ["openai_api"]


def test_no_daemon_never_raises_and_drops(sock: Path) -> None:
    """With no socket at all every call returns, nothing raises, and the events are counted as dropped."""
    for _ in range(100):
        plugin.on_post_api_request(provider="anthropic", model="m", usage={"input_tokens": 1})
        plugin.on_api_request_error(provider="anthropic", model="m", status_code=429, error="x")
    assert plugin._sender.sent == 0 and plugin._sender.dropped >= 1


def test_stuck_daemon_never_blocks(sock: Path) -> None:
    """A daemon that accepts but never reads: the hook keeps returning and drops once the buffer is full."""
    spy = Spy(sock, read=False)
    big = "e" * 4000
    done = threading.Event()

    def flood() -> None:
        for _ in range(5000):
            plugin.on_api_request_error(provider="anthropic", model="m", status_code=500, error=big)
        done.set()

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    assert done.wait(60), "a hook blocked on a daemon that does not read"
    spy.close()
    assert plugin._sender.dropped > 0 and plugin._sender.sent > 0


def test_daemon_restart_is_survived(sock: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After bhogad goes away and comes back, the next calls get through again."""
    monkeypatch.setattr(plugin, "_RETRY_CONNECT", 0.0)
    spy = Spy(sock)
    plugin.on_post_api_request(provider="openai-api", model="a")
    assert len(spy.wait(1)) == 1
    spy.close()
    sock.unlink()
    time.sleep(0.05)
    spy2 = Spy(sock)
    deadline = time.monotonic() + 10
    while not spy2.lines and time.monotonic() < deadline:
        plugin.on_post_api_request(provider="openai-api", model="b")
        time.sleep(0.05)
    assert spy2.wait(1)[0]["model"] == "b"
    spy2.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"provider": object(), "model": object(), "usage": "junk"},
        {"provider": "anthropic", "model": "\ud800bad\x00", "usage": {"input_tokens": True, "output_tokens": 1e30}},
        {"provider": "copilot", "status_code": "429", "error": 12},
        {"provider": "copilot", "status_code": True, "error": {"message": ["x"]}},
    ],
)
def test_junk_arguments_never_raise(sock: Path, kwargs: dict[str, Any]) -> None:
    """Whatever Hermes passes, the hooks return None and whatever they send is a valid request."""
    spy = Spy(sock)
    assert plugin.on_post_api_request(**kwargs) is None
    assert plugin.on_api_request_error(**kwargs) is None
    time.sleep(0.1)
    spy.close()
    for line in spy.lines:
        assert isinstance(parse_request(line), TurnRequest)
