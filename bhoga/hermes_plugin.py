# bhoga-managed Hermes plugin: `bhoga hermes-plugin disable` removes it. Do not edit; it is rewritten on enable.
"""Hermes plugin: tell bhogad about every model call Hermes makes (DESIGN §8.6).

`bhoga hermes-plugin enable` copies this file to `$HERMES_HOME/plugins/bhoga/__init__.py`. It hooks Hermes'
`post_api_request` and `api_request_error` and sends one protocol v1 `turn` per call to bhogad's socket:
`source: "hermes"`, the bhoga provider id for Hermes' provider (and credential and base URL), the model, the
tokens of `usage`, the status code and, for a failed call, the error text and the response's rate-limit headers.

Standard library only, so it loads in Hermes' own Python. A hook returns in microseconds: the line goes out by
one non-blocking `send` on a kept-open Unix socket; when bhogad is not there, not keeping up, or the socket is
busy in another thread, the event is dropped. Nothing here ever raises into Hermes.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections import deque
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

SOCKET_PATH: str | None = None
"""bhogad's socket as `bhoga hermes-plugin enable` saw it (filled in when the file is written)."""

SOURCE = "hermes"
_MAX_ERROR = 4096
_MAX_HEADER_VALUE = 256
_RETRY_CONNECT = 2.0  # seconds between connection attempts while bhogad is away
_HEADER_PREFIXES = ("anthropic-ratelimit-", "x-ratelimit-", "x-codex-", "ratelimit-")
_HEADER_NAMES = frozenset({"retry-after", "retry-after-ms", "x-should-retry"})
_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)

# Hermes' provider id -> bhoga's, where the provider alone decides; for custom routes, the endpoint's host.
# Written from bhoga's provider registry by `bhoga hermes-plugin enable` (between the two marker lines).
# registry: begin
_PROVIDERS = {
    "anthropic": "claude_code",
    "claude": "claude_code",
    "claude-code": "claude_code",
    "anthropic-api": "anthropic_api",
    "custom:anthropic-api": "anthropic_api",
    "openai-codex": "openai-codex",
    "codex": "openai-codex",
    "openai-api": "openai_api",
    "openrouter": "openai_api",
    "copilot": "github-copilot",
    "github": "github-copilot",
    "github-copilot": "github-copilot",
    "github-models": "github-copilot",
    "copilot-acp": "github-copilot",
}
_HOSTS = (
    ("api.anthropic.com", "anthropic_api"),
    ("chatgpt.com", "openai-codex"),
    ("api.openai.com", "openai_api"),
    ("openrouter.ai", "openai_api"),
    ("githubcopilot.com", "github-copilot"),
)
# registry: end


def bhoga_pid(provider: object, base_url: object = None, env: Any = None) -> str | None:
    """The bhoga provider id of one Hermes call, or None for a provider bhoga does not route.

    `anthropic` is Claude Code's subscription unless Hermes would use an API key: it prefers
    `ANTHROPIC_TOKEN` / `CLAUDE_CODE_OAUTH_TOKEN` (subscription tokens), then `ANTHROPIC_API_KEY` (metered).
    """
    env = os.environ if env is None else env
    name = str(provider or "").strip().lower()
    if name in ("anthropic", "claude", "claude-code"):
        if env.get("ANTHROPIC_TOKEN") or env.get("CLAUDE_CODE_OAUTH_TOKEN"):
            return "claude_code"
        return "anthropic_api" if env.get("ANTHROPIC_API_KEY") else "claude_code"
    if name in _PROVIDERS:
        return _PROVIDERS[name]
    host = (urlsplit(str(base_url or "")).hostname or "").lower()
    for suffix, pid in _HOSTS:
        if host == suffix or host.endswith("." + suffix):
            return pid
    return None


_pids: dict[tuple[str, str], str | None] = {}
_pids_until = 0.0


def _cached_pid(provider: object, base_url: object) -> str | None:
    """`bhoga_pid` for the hot path: the answer is kept for a few seconds (Hermes' environment rarely changes)."""
    global _pids_until
    now = time.monotonic()
    if now > _pids_until:
        _pids.clear()
        _pids_until = now + 5.0
    key = (str(provider), str(base_url))
    if key not in _pids:
        if len(_pids) > 64:
            _pids.clear()
        _pids[key] = bhoga_pid(provider, base_url)
    return _pids[key]


def _socket_path() -> str:
    explicit = os.environ.get("BHOGA_SOCKET")
    if explicit:
        return explicit
    if SOCKET_PATH:
        return SOCKET_PATH
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return os.path.join(runtime, "bhoga", "bhogad.sock")


class _Sender:
    """One kept-open non-blocking connection; `send` never waits for anything."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._tail = b""  # the unsent rest of a line a full buffer cut short
        self._next_try = 0.0
        self._lock = threading.Lock()
        self._waiting: deque[bytes] = deque(maxlen=64)
        self.sent = 0
        self.dropped = 0

    def send(self, line: bytes) -> None:
        self._waiting.append(line)
        if not self._lock.acquire(blocking=False):
            return  # another thread is sending: it takes this line along, or the next call does
        try:
            self._flush()
        finally:
            self._lock.release()

    def _flush(self) -> None:
        while self._waiting:
            sock = self._sock or self._connect()
            if sock is None:
                self.dropped += len(self._waiting)
                self._waiting.clear()
                return
            self._drain(sock)
            if self._sock is None:  # bhogad hung up (idle timeout, restart): reconnect once
                continue
            data = self._tail + self._waiting[0]
            try:
                n = sock.send(data, _NOSIGNAL)
            except BlockingIOError:
                n = 0
            except OSError:
                self._close()
                continue
            if n < len(self._tail):
                self._tail = self._tail[n:]
                self.dropped += len(self._waiting)  # bhogad is not keeping up: drop, never wait
                self._waiting.clear()
                return
            self._waiting.popleft()
            self._tail = data[n:]
            if self._tail:  # cut short: the rest goes first next time
                self.dropped += len(self._waiting)
                self._waiting.clear()
                return
            self.sent += 1

    def _connect(self) -> socket.socket | None:
        now = time.monotonic()
        if now < self._next_try:
            return None
        self._next_try = now + _RETRY_CONNECT
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect(_socket_path())
        except OSError:  # no daemon (ENOENT, ECONNREFUSED) or its backlog is full (EAGAIN)
            sock.close()
            return None
        self._sock, self._tail = sock, b""
        return sock

    def _drain(self, sock: socket.socket) -> None:
        """Read and discard bhogad's answers so they never pile up; notice a closed connection."""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    self._close()
                    return
        except BlockingIOError:
            return
        except OSError:
            self._close()

    def _close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock, self._tail = None, b""

    def close(self) -> None:
        with self._lock:
            self._close()


_sender = _Sender()
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _int(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(0, min(value, 1_000_000_000))
    if isinstance(value, float) and value == value:
        return max(0, min(int(value), 1_000_000_000))
    return 0


def _model(kwargs: dict[str, Any]) -> str:
    model = str(kwargs.get("model") or kwargs.get("response_model") or "unknown")[:256]
    if not model.isprintable():
        model = "".join(ch for ch in model if ch.isprintable())
    return model or "unknown"


def _turn(
    pid: str, kwargs: dict[str, Any], status: int, usage: object, error: str | None, headers: dict[str, str]
) -> bytes:
    tokens = usage if isinstance(usage, dict) else {}
    turn: dict[str, Any] = {
        "v": 1,
        "op": "turn",
        "pid": pid,
        "model": _model(kwargs),
        "input_tokens": _int(tokens.get("prompt_tokens") or tokens.get("input_tokens")),
        "output_tokens": _int(tokens.get("output_tokens") or tokens.get("completion_tokens")),
        "status_code": status,
        "source": SOURCE,
    }
    if headers:
        turn["headers"] = headers
    if error:
        turn["error"] = error[:_MAX_ERROR]
    return (_encode(turn) + "\n").encode("utf-8", "replace")


def on_post_api_request(**kwargs: Any) -> None:
    """Hermes hook: a model call succeeded."""
    try:
        pid = _cached_pid(kwargs.get("provider"), kwargs.get("base_url"))
        if pid is not None:
            _sender.send(_turn(pid, kwargs, 200, kwargs.get("usage"), None, {}))
    except Exception:  # noqa: S110 - a plugin must never break a Hermes call
        pass


def _status(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    return 599  # no HTTP status (a transport error or an error inside a stream); see docs/PROTOCOL.md


def _error_text(error: object) -> str:
    if isinstance(error, dict):
        message = error.get("message")
        return message if isinstance(message, str) else ""
    return str(error or "")


def _caller_error() -> BaseException | None:
    """The SDK exception Hermes is handling, from its caller's frame (for its response headers and body).

    Hermes passes only the error's text to the hook; the exception object sits a few frames up as `api_error`.
    """
    frame: FrameType | None = sys._getframe(2)
    for _ in range(8):
        if frame is None:
            return None
        found = frame.f_locals.get("api_error") if "api_error" in frame.f_code.co_varnames else None
        if isinstance(found, BaseException):
            return found
        frame = frame.f_back
    return None


def _limit_headers(exc: BaseException | None) -> tuple[dict[str, str], str | None]:
    """Rate-limit headers (allow-listed: never a key or cookie) and the JSON body of the failed response."""
    if exc is None:
        return {}, None
    out: dict[str, str] = {}
    response = getattr(exc, "response", None)
    raw = getattr(response, "headers", None)
    if raw is not None and hasattr(raw, "items"):
        for name, value in raw.items():
            key = str(name).strip().lower()
            if key in _HEADER_NAMES or key.startswith(_HEADER_PREFIXES):
                out[key] = str(value).strip()[:_MAX_HEADER_VALUE]
            if len(out) >= 64:
                break
    body = getattr(exc, "body", None)
    text = None
    if isinstance(body, dict):
        try:
            text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = None
    return out, text


def on_api_request_error(**kwargs: Any) -> None:
    """Hermes hook: a model call failed (one call per attempt, retries included)."""
    try:
        pid = _cached_pid(kwargs.get("provider"), kwargs.get("base_url"))
        if pid is None:
            return
        headers, body = _limit_headers(_caller_error())
        error = body or _error_text(kwargs.get("error"))
        _sender.send(_turn(pid, kwargs, _status(kwargs.get("status_code")), None, error, headers))
    except Exception:  # noqa: S110 - a plugin must never break a Hermes call
        pass


def register(ctx: Any) -> None:
    """Hermes calls this once when it loads the plugin."""
    ctx.register_hook("post_api_request", on_post_api_request)
    ctx.register_hook("api_request_error", on_api_request_error)
