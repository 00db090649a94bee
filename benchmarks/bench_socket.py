"""Socket benchmarks against the real bhogad: throughput with 1 and 10 pipelining clients, and the client's
caller-thread cost.

bhogad runs as a subprocess (`python -m bhogad`) in a temporary HOME, offline. Each client is another process
that pipelines the same realistic turn — the 17 headers an Anthropic subscription response carries (11
rate-limit headers, 6 others), from benchmarks/data/anthropic_turn.json, copied from the shared samples — and
counts answers. Losses are counted by the daemon itself: its `status` says how many turns it received
(`received_turns`), how many its Router's bounded queue dropped (`dropped_turns`) and how many the Router's
worker took from the queue (`processed_turns`); a run counts as lossless when every turn sent was received and
processed, none dropped and no answer was an error. Each client count runs `RUNS` times; the row is the median,
and says which JSON decoder bhogad used and the machine's load when the runs started (the machine is shared).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks._util import Row, median_per_call

AREA = "socket"
EVENTS = 200_000
RUNS = 3
_TURN = json.loads((Path(__file__).parent / "data" / "anthropic_turn.json").read_text())["turn"]


def _request(path: Path, obj: dict[str, object]) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(path))
        s.sendall(json.dumps({"v": 1, **obj}).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
    answer: dict[str, Any] = json.loads(buf)
    return answer


def _counters(path: Path) -> tuple[int, int, int]:
    """(received, dropped, processed) turns by the daemon's own count."""
    d = _request(path, {"op": "status"})["daemon"]
    return int(d["received_turns"]), int(d["dropped_turns"]), int(d["processed_turns"])


def _client(path: Path, events: int) -> None:
    """Pipeline `events` turn lines in chunks of 100 while a thread counts answers; print the seconds taken."""
    line = json.dumps(_TURN).encode() + b"\n"
    chunk = line * 100
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(path))
    got = 0
    bad = 0

    def read() -> None:
        nonlocal got, bad
        while got < events:
            data = sock.recv(1 << 20)
            if not data:
                break
            got += data.count(b"\n")
            bad += data.count(b'"ok":false')

    print("go", flush=True)
    sys.stdin.readline()
    reader = threading.Thread(target=read)
    t0 = time.perf_counter()
    reader.start()
    for _ in range(events // 100):
        sock.sendall(chunk)
    reader.join()
    print(json.dumps({"seconds": time.perf_counter() - t0, "answers": got, "errors": bad}), flush=True)
    sock.close()


def _throughput(path: Path, clients: int) -> tuple[float, int, int]:
    """Events/s for `clients` processes sending EVENTS in total; also answers and error answers received."""
    per = EVENTS // clients
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_socket", "--client", str(path), str(per)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(clients)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "go"
    t0 = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("\n")
        p.stdin.flush()
    results = []
    for p in procs:
        assert p.stdout is not None
        results.append(json.loads(p.stdout.readline()))
        p.wait(60)
        p.stdout.close()
        assert p.stdin is not None
        p.stdin.close()
    wall = time.perf_counter() - t0
    return EVENTS / wall, sum(r["answers"] for r in results), sum(r["errors"] for r in results)


def _client_cost(path: Path) -> float:
    from bhoga._client import DaemonClient

    client = DaemonClient(path)
    headers = dict(_TURN["headers"], authorization="Bearer x")
    try:
        return median_per_call(
            lambda: client.send_turn("claude_code", "claude-sonnet-4-6", 1200, 800, headers, 200), calls=2_000
        )
    finally:
        client.close()


def _daemon_env(root: Path) -> dict[str, str]:
    home = root / "home"
    home.mkdir()
    run = root / "run"
    run.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BHOGA_", "HERMES_", "CODEX_", "CLAUDE_"))}
    return env | {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_RUNTIME_DIR": str(run),
        "BHOGA_OFFLINE": "1",
    }


def _run_once(path: Path, clients: int) -> tuple[float, int, int, int, int, int]:
    """(events/s, answers, error answers, received, dropped, processed) of one run, the counts by the daemon."""
    before = _counters(path)
    rate, answers, errors = _throughput(path, clients)
    deadline = time.monotonic() + 30
    while True:  # the Router's worker may still be taking the last turns from its queue
        received, dropped, processed = (a - b for a, b in zip(_counters(path), before, strict=True))
        if processed >= received or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return rate, answers, errors, received, dropped, processed


def _decoder() -> str:
    """Which parser bhogad (the same interpreter and checkout) decodes turn lines with."""
    try:
        import bhoga._protocol_fast  # noqa: F401 - loads msgspec, as bhogad's first turn does
    except ImportError:
        return "standard-library json"
    return "msgspec typed decoding, each run of turn lines of one read (up to 64 KiB) in one call"


def _measure(path: Path, clients: int) -> Row:
    load = os.getloadavg()[0]
    runs = [_run_once(path, clients) for _ in range(RUNS)]
    rate = statistics.median(r[0] for r in runs)
    sent = EVENTS * RUNS
    answers, errors, received, dropped, processed = (sum(r[i] for r in runs) for i in range(1, 6))
    lost = sent - received + dropped + (received - processed)
    ok = rate >= 100_000 and answers == sent and errors == 0 and lost == 0
    note = (
        f"real bhogad ({_decoder()}); each client pipelines the 17-header Anthropic turn of"
        f" benchmarks/data/anthropic_turn.json; median of {RUNS} runs of {EVENTS:,} turns"
        f" ({', '.join(f'{r[0]:,.0f}' for r in runs)}); losses by the daemon's own counters over all runs:"
        f" {received:,} received, {dropped} dropped, {processed:,} processed of {sent:,} sent;"
        f" {errors} error answers; load average {load:.1f} at the start"
    )
    return Row(AREA, f"bhogad, {clients} client(s) pipelining turns", rate, "ev/s", ">= 100,000", ok, note)


def run() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bhoga-bench-") as tmp:
        env = _daemon_env(Path(tmp))
        path = Path(env["XDG_RUNTIME_DIR"]) / "bhoga" / "bhogad.sock"
        log = (Path(tmp) / "bhogad.log").open("wb")
        daemon = subprocess.Popen([sys.executable, "-m", "bhogad"], env=env, stdout=log, stderr=log)
        try:
            t0 = time.monotonic()
            while time.monotonic() - t0 < 30:
                try:
                    if _request(path, {"op": "ping"}).get("ok"):
                        break
                except OSError:
                    time.sleep(0.05)
            for clients in (1, 10):
                rows.append(_measure(path, clients))
            with_daemon = _client_cost(path)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(20)
            log.close()
        without = _client_cost(Path(tmp) / "run" / "nobody-here.sock")
    for label, c in (("daemon running", with_daemon), ("no daemon", without)):
        rows.append(Row(AREA, f"DaemonClient.send_turn, caller thread ({label})", c * 1e6, "µs", "<= 1 µs", c <= 1e-6))
    return rows


if __name__ == "__main__":
    if sys.argv[1] == "--client":
        _client(Path(sys.argv[2]), int(sys.argv[3]))
