"""A socket-abuse run against a real `bhogad` process (DESIGN §8.5), shared by the chaos test and the benchmark.

The daemon runs in a temporary HOME under a 1,024-descriptor limit (RLIMIT_NOFILE, as systemd gives a
service by default). Phase "flood": 600 connections sit idle while 10 clients flood `status` without reading
(reconnecting whenever they are cut off). Phase "storm": clients connect and drop as fast as they can. In
both, a prober pings on a fresh connection every 50 ms and the `bhoga` CLI runs status, best, pause and
resume halfway through. `run_abuse` returns what was seen; the caller decides what to assert (the chaos test:
correctness; the benchmark: the latency and memory figures).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bhoga._client_io import connect

FLOODERS = 10
IDLE = 600
STORMERS = 2
NOFILE = 1024
CLI = (("status", "--json"), ("best", "gpt-5.5"), ("pause",), ("resume",))


def daemon_env(root: Path, openai_key: str = "sk-abuse-fake") -> dict[str, str]:
    """A private HOME with a Hermes config and Hermes' own Codex login (fake), offline, no real credentials."""
    home = root / "home"
    run = root / "run"
    home.mkdir()
    run.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BHOGA_", "HERMES_", "CODEX_", "CLAUDE_"))}
    for k in ("ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN"):
        env.pop(k, None)
    env.pop("PYTEST_CURRENT_TEST", None)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_RUNTIME_DIR=str(run),
        BHOGA_OFFLINE="1",
        OPENAI_API_KEY=openai_key,
        PYTHONUNBUFFERED="1",
    )
    hermes = home / ".hermes"
    hermes.mkdir()
    (hermes / "config.yaml").write_text("model:\n  default: gpt-5.5\n  provider: openai-codex\n")
    auth = {"providers": {"openai-codex": {"tokens": {"access_token": "x", "refresh_token": "y"}}}}
    (hermes / "auth.json").write_text(json.dumps(auth))
    return env


def _limit_fds() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


@contextlib.contextmanager
def abused_daemon(root: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, str], Path]]:
    """A real bhogad (its log in root/bhogad.log) limited to NOFILE descriptors; killed after."""
    env = daemon_env(root)
    sock = root / "run" / "bhoga" / "bhogad.sock"
    with (root / "bhogad.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bhogad"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=_limit_fds,  # only setrlimit, before exec
        )
        try:
            deadline = time.monotonic() + 60
            while ping(sock, 1.0) is None:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"bhogad did not start:\n{(root / 'bhogad.log').read_text()}")
                time.sleep(0.1)
            yield proc, env, sock
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


def ping(path: Path, timeout: float = 10.0) -> float | None:
    """Seconds for a `ping` on a fresh connection (as the CLI does it), None when it was not answered."""
    from bhoga._client_io import ask
    from bhoga._protocol import PingRequest
    from bhoga._responses import PingAnswer

    t0 = time.perf_counter()
    if not isinstance(ask(path, PingRequest(), timeout=timeout), PingAnswer):
        return None
    return time.perf_counter() - t0


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class Phase:
    """What one phase of the run saw: pings on fresh connections, and the CLI commands run in its middle."""

    name: str
    pings: list[float] = field(default_factory=list)
    ping_failures: int = 0
    cli: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ping_median_ms(self) -> float:
        return statistics.median(self.pings) * 1000 if self.pings else float("inf")

    @property
    def status(self) -> dict[str, object]:
        try:
            answer = json.loads(self.cli["status --json"].stdout)
        except (KeyError, json.JSONDecodeError):
            return {}
        return answer if isinstance(answer, dict) else {}


@dataclass
class AbuseResult:
    phases: list[Phase] = field(default_factory=list)
    baseline_ping: float = 0.0
    rss_idle: float = 0.0
    rss_peak: float = 0.0
    fds_peak: int = 0
    daemon_pid: int = 0
    alive: bool = True
    log: str = ""


def _flooder(path: Path, stop: threading.Event, sent: list[int]) -> None:
    """Send `status` requests and never read; when the daemon cuts the connection off, start again."""
    chunk = b'{"v":1,"op":"status"}\n' * 2048
    while not stop.is_set():
        try:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(5)
            s.connect(str(path))
            s.setblocking(False)
        except OSError:
            time.sleep(0.05)
            continue
        with s:
            while not stop.is_set():
                try:
                    sent[0] += s.send(chunk)
                except BlockingIOError:
                    time.sleep(0.01)
                except OSError:
                    break  # cut off for not reading: reconnect and do it again


def _stormer(path: Path, stop: threading.Event, count: list[int], n: int) -> None:
    """Connect and drop as fast as possible: some say nothing, some send a ping and leave without reading."""
    i = 0
    while not stop.is_set():
        i += 1
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(path))
            count[0] += 1
            if (i + n) % 2:
                s.sendall(b'{"v":1,"op":"ping"}\n')


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bhoga", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _load(path: Path, phase: str, seconds: float) -> None:
    """The abusers, in their own process so they never hold the prober's GIL. `flood`: IDLE idle connections
    and FLOODERS clients sending `status` without reading; `storm`: STORMERS threads connecting and dropping.
    Prints "ready" once set up, abuses for `seconds`, then prints what it did as JSON."""
    stop = threading.Event()
    sent = [0]
    connects = [0]
    idle: list[socket.socket] = []
    threads: list[threading.Thread] = []
    if phase == "flood":
        for _ in range(IDLE):
            idle.append(connect(path, 10.0))  # retries while the listen queue is full, as the CLI does
        threads = [threading.Thread(target=_flooder, args=(path, stop, sent), daemon=True) for _ in range(FLOODERS)]
    else:
        threads = [
            threading.Thread(target=_stormer, args=(path, stop, connects, n), daemon=True) for n in range(STORMERS)
        ]
    print("ready", flush=True)
    for t in threads:
        t.start()
    time.sleep(seconds)
    still_open = sum(1 for s in idle if _still_open(s))
    stop.set()
    for t in threads:
        t.join(10)
    for s in idle:
        s.close()
    counts = {"flood_bytes": sent[0], "storm_connects": connects[0], "idle_open": still_open}
    print(json.dumps(counts), flush=True)


def _phase(name: str, proc: subprocess.Popen[bytes], env: dict[str, str], path: Path, seconds: float,
           result: AbuseResult) -> Phase:  # fmt: skip
    phase = Phase(name)
    load = subprocess.Popen(
        [sys.executable, __file__, str(path), name, str(seconds)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert load.stdout is not None
    try:
        assert load.stdout.readline().strip() == "ready"
        end = time.monotonic() + seconds
        cli_at = time.monotonic() + seconds / 2
        while time.monotonic() < end:
            t = ping(path)
            if t is None:
                phase.ping_failures += 1
            else:
                phase.pings.append(t)
            result.rss_peak = max(result.rss_peak, rss_mib(proc.pid))
            result.fds_peak = max(result.fds_peak, open_fds(proc.pid))
            if not phase.cli and time.monotonic() >= cli_at:
                for args in CLI:
                    phase.cli[" ".join(args)] = _cli(env, *args)
            time.sleep(0.05)
        phase.counts = json.loads(load.stdout.readline() or "{}")
    finally:
        if load.poll() is None:
            load.wait(30)
        load.stdout.close()
    return phase


def run_abuse(root: Path, seconds: float = 15.0) -> AbuseResult:
    """Abuse a fresh daemon: a flood phase then a storm phase of `seconds` each, pinging it throughout and
    running every CLI command in the middle of each."""
    result = AbuseResult()
    with abused_daemon(root) as (proc, env, path):
        result.daemon_pid = proc.pid
        base = [ping(path) for _ in range(20)]
        result.baseline_ping = statistics.median(t for t in base if t is not None)
        result.rss_idle = rss_mib(proc.pid)
        for name in ("flood", "storm"):
            result.phases.append(_phase(name, proc, env, path, seconds, result))
        result.alive = proc.poll() is None
    result.log = (root / "bhogad.log").read_text(errors="replace")
    return result


def _still_open(s: socket.socket) -> bool:
    """Whether the daemon has not closed this connection (a read that would block means it is still there)."""
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


if __name__ == "__main__":
    _load(Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]))
