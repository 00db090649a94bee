"""Socket benchmarks: server throughput (1 and 10 pipelining clients) and the client's caller-thread cost.

The server runs in its own process with a handler that feeds a real Router (as the daemon does); each client is
another process that pipelines turn events and counts the answers, so "processed" means answered, none lost.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks._util import Row, median_per_call

AREA = "socket"
EVENTS = 200_000
_TURN = {
    "v": 1,
    "op": "turn",
    "pid": "claude_code",
    "model": "claude-sonnet-4-6",
    "input_tokens": 1200,
    "output_tokens": 800,
    "status_code": 200,
    "headers": {
        "anthropic-ratelimit-unified-5h-utilization": "0.42",
        "anthropic-ratelimit-unified-5h-reset": "1893456000",
    },
}


def _serve(path: Path, use_router: bool) -> None:
    from bhoga._protocol import PingRequest, StatusRequest, TurnRequest
    from bhoga._router import Router
    from bhogad.server import Server

    router = Router(eager=False)
    turns = [0]

    def handle(req: object) -> dict[str, object]:
        if isinstance(req, TurnRequest):
            turns[0] += 1
            if use_router:
                router.record_turn(
                    req.pid, req.model, req.input_tokens, req.output_tokens, req.headers, req.status_code
                )
            return {"ok": True}
        if isinstance(req, StatusRequest):
            return {"ok": True, "turns": turns[0], "dropped": router.dropped_turns}
        assert isinstance(req, PingRequest)
        return {"ok": True}

    async def main() -> None:
        srv = Server(handle, path=path)
        await srv.start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await stop.wait()
        await srv.close()

    asyncio.run(main())
    router.close()


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
    headers = {"anthropic-ratelimit-unified-5h-utilization": "0.42", "authorization": "Bearer x"}
    try:
        return median_per_call(
            lambda: client.send_turn("claude_code", "claude-sonnet-4-6", 1200, 800, headers, 200), calls=2_000
        )
    finally:
        client.close()


def _serve_and_measure(path: Path, env: dict[str, str], mode: str) -> tuple[list[Row], float | None]:
    label = "protocol + parse only" if mode == "count" else "+ Router.record_turn"
    rows: list[Row] = []
    cost = None
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_socket", "--serve", str(path), mode],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        for clients in (1, 10):
            rate, answers, errors = _throughput(path, clients)
            ok = rate >= 100_000 and answers == EVENTS and errors == 0
            note = f"{label}; {answers:,} of {EVENTS:,} answered, {errors} errors"
            rows.append(
                Row(AREA, f"server, {clients} client(s) pipelining turns", rate, "ev/s", ">= 100,000", ok, note)
            )
        if mode == "router":
            cost = _client_cost(path)
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
    return rows, cost


def run() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bhoga-bench-") as tmp:
        env = dict(os.environ, HOME=tmp, XDG_CACHE_HOME=f"{tmp}/cache", BHOGA_OFFLINE="1")
        path = Path(tmp) / "run" / "bhogad.sock"
        with_daemon = None
        for mode in ("count", "router"):
            more, cost = _serve_and_measure(path, env, mode)
            rows.extend(more)
            with_daemon = cost if cost is not None else with_daemon
        without = _client_cost(Path(tmp) / "run" / "nobody-here.sock")
    assert with_daemon is not None
    for label, c in (("daemon running", with_daemon), ("no daemon", without)):
        rows.append(Row(AREA, f"DaemonClient.send_turn, caller thread ({label})", c * 1e6, "µs", "<= 1 µs", c <= 1e-6))
    return rows


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        _serve(Path(sys.argv[2]), sys.argv[3] == "router")
    elif sys.argv[1] == "--client":
        _client(Path(sys.argv[2]), int(sys.argv[3]))
