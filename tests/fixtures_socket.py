"""Socket-test helpers: bhogad's real handler and protocol server in a thread or a subprocess.

The handler is the daemon's own (`bhogad.handler.Handler` over a `Daemon` that is built but not serving), so
every socket test sees the answers bhogad gives. Run as a script (`python tests/fixtures_socket.py SOCKET
[DEADLINE]`) it serves until killed, printing "ready" once it listens; tests measure that process's memory and
liveness.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from bhoga._router import Router
from bhogad.config import DaemonConfig
from bhogad.daemon import Daemon
from bhogad.server import Handler, Server


def real_handler(router: Router | None = None) -> Handler:
    """bhogad's own handler over a daemon that is built but not serving (no discovery, no Hermes passes)."""
    return Daemon(DaemonConfig(notify_desktop=False), router=router).handler


@contextlib.contextmanager
def server_thread(
    path: Path,
    *,
    deadline: float = 10.0,
    router: Router | None = None,
    handler: Handler | None = None,
    **options: Any,
) -> Iterator[Server]:
    """Run a Server (bhogad's handler over `router` unless `handler`; more `Server` options in `options`) on its
    own event loop thread for the `with` block."""
    own = router is None
    r = router if router is not None else Router(eager=False)
    srv = Server(handler or real_handler(r), path=path, deadline=deadline, **options)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(srv.start())
        except BaseException as exc:
            failure.append(exc)
            loop.close()
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(srv.close())
        # Let the hung-up transports close their sockets before the loop goes: a socket left open would take a
        # client's next write as delivered (a daemon process that exits closes them all the same way).
        loop.run_until_complete(asyncio.sleep(0.1))
        loop.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    started.wait(10)
    if failure:
        raise failure[0]
    try:
        yield srv
    finally:
        LineClient.close_all()
        loop.call_soon_threadsafe(loop.stop)
        t.join(10)
        if own:
            r.close()


class LineClient:
    """A blocking test client: send lines, read answer lines. `server_thread` closes any left open."""

    open_clients: ClassVar[list[LineClient]] = []

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        LineClient.open_clients.append(self)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_lines(self, n: int) -> list[bytes]:
        """Read exactly `n` answer lines (fewer only when the server closes the connection)."""
        out: list[bytes] = []
        while len(out) < n:
            if b"\n" in self.buf:
                line, _, self.buf = self.buf.partition(b"\n")
                out.append(line)
                continue
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                break
            self.buf += chunk
        return out

    def ask(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.send(json.dumps(obj).encode() + b"\n")
        lines = self.read_lines(1)
        assert lines, "server closed the connection"
        answer: dict[str, Any] = json.loads(lines[0])
        return answer

    def turns(self) -> int:
        """The turns the daemon says it received (its `status` counter)."""
        return int(self.ask({"v": 1, "op": "status"})["daemon"]["received_turns"])

    def closed_by_server(self, wait: float = 5.0) -> bool:
        """True when the server closes (EOF) within `wait` seconds, reading past any answers."""
        self.sock.settimeout(wait)
        end = time.monotonic() + wait
        try:
            while time.monotonic() < end:
                if not self.sock.recv(1 << 20):
                    return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        return False

    def close(self) -> None:
        self.sock.close()

    @classmethod
    def close_all(cls) -> None:
        while cls.open_clients:
            cls.open_clients.pop().close()


def _serve(path: Path, deadline: float) -> None:
    router = Router(eager=False)
    srv = Server(real_handler(router), path=path, deadline=deadline)

    async def main() -> None:
        await srv.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await stop.wait()
        await srv.close()

    asyncio.run(main())
    router.close()


if __name__ == "__main__":
    _serve(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 10.0)
