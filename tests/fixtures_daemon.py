"""Helpers for daemon tests: run `python -m bhogad` as a real subprocess and talk to it over its socket."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from bhoga._paths import socket_path

WAIT = 30.0
"""Generous upper bound for anything the daemon should do "soon"; tests never assert speed."""


def wait_until(pred: Callable[[], object], timeout: float = WAIT, what: str | Callable[[], str] = "condition") -> Any:
    """Poll `pred` until it returns something truthy; its value, or AssertionError after `timeout`.

    `what` may be a callable, evaluated only on failure, so a message can carry the daemon's log as it is then.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")
        time.sleep(0.05)


def request(obj: Mapping[str, object], path: Path | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """One request line, one response line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path or socket_path()))
        s.sendall(json.dumps({"v": 1, **obj}).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    result: dict[str, Any] = json.loads(buf)
    return result


class DaemonProc:
    """A `bhogad` subprocess with its stderr in a file."""

    def __init__(self, log_path: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bhogad", "--verbose", *args],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            env=full_env,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = WAIT) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"bhogad exited {self.proc.returncode}:\n{self.log()}")
            try:
                return bool(request({"op": "ping"}, timeout=1.0).get("ok"))
            except OSError:
                return False

        wait_until(ready, timeout, "bhogad to answer ping")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


def hermes_config(home: Path) -> Path:
    return home / ".hermes" / "config.yaml"


def write_hermes(home: Path, provider: str, model: str, *, codex_login: bool = True) -> Path:
    """A small Hermes config (and, by default, Hermes' own openai-codex login, without a real token)."""
    path = hermes_config(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# my hermes config\nmodel:\n  default: {model}\n  provider: {provider}\nagent:\n  max_turns: 60  # keep\n"
    )
    if codex_login:
        (path.parent / "auth.json").write_text(
            json.dumps(
                {
                    "active_provider": "openai-codex",
                    "providers": {
                        "openai-codex": {
                            "tokens": {"access_token": "FAKE-HERMES-ACCESS", "refresh_token": "FAKE-HERMES-REFRESH"},
                            "auth_mode": "chatgpt",
                        }
                    },
                }
            )
        )
    return path


def hermes_route(home: Path) -> tuple[str | None, str | None]:
    """(model.provider, model.default) as PyYAML, an independent reader, sees them."""
    import yaml  # type: ignore[import-untyped]

    try:
        data = yaml.safe_load(hermes_config(home).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None, None
    model = data.get("model") or {}
    return model.get("provider"), model.get("default")


@pytest.fixture
def start() -> Iterator[list[DaemonProc]]:
    """Daemons a test starts with `launch`; every one is killed at the end."""
    procs: list[DaemonProc] = []
    yield procs
    for p in procs:
        p.kill()


def launch(procs: list[DaemonProc], tmp_path: Path, *args: str) -> DaemonProc:
    """Start a bhogad with `args`, its log beside the others, and wait until it answers ping."""
    d = DaemonProc(tmp_path / f"bhogad-{len(procs)}.log", *args)
    procs.append(d)
    d.wait_ready()
    return d
