"""A real HTTP server on 127.0.0.1 standing in for provider endpoints in tests.

Routes, status codes, headers, bodies, delays and slow ("dripping") bodies can be changed while it runs,
and every request is recorded (method, path, headers, body) so a test can assert what was sent, to whom
and how often. Reusable by any test: `with FakeServer() as srv: srv.route("/x", Reply(200, {...}))`.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeServer", "Recorded", "Reply"]


@dataclass
class Reply:
    """One canned answer. `body` may be bytes, str, or anything JSON-serialisable."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before sending anything (simulates a hung server)."""
    drip: float = 0.0
    """Seconds between body chunks of `drip_size` bytes (simulates a slow body)."""
    drip_size: int = 16
    stamp: Any = None
    """Called with no arguments just before the answer is sent; its dict of headers is added (e.g. a reset
    time relative to the moment of the answer)."""
    drip_headers: float = 0.0
    """Seconds between single bytes of the status line and headers (a server that never finishes its head)."""

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/html; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json"


@dataclass(frozen=True)
class Recorded:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FakeServer:
    """Threaded loopback HTTP server with run-time routes and a request log."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, list[Reply]] = {}
        self.requests: list[Recorded] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def route(self, path: str, *replies: Reply) -> None:
        """Answer `path` with `replies` in turn; the last one repeats."""
        with self._lock:
            self._routes[path] = list(replies)

    def count(self, path: str | None = None) -> int:
        """Requests received (for `path` only, when given; the query string is ignored)."""
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path.split("?", 1)[0] == path)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def _next(self, path: str) -> Reply | None:
        with self._lock:
            replies = self._routes.get(path) or self._routes.get(path.split("?", 1)[0])
            if not replies:
                return None
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _record(self, r: Recorded) -> None:
        with self._lock:
            self.requests.append(r)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server._record(Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                reply = server._next(self.path) or Reply(404, {"error": "no route"})
                if reply.delay:
                    time.sleep(reply.delay)
                data, ctype = reply.payload()
                if reply.drip_headers:
                    head = f"HTTP/1.1 {reply.status} OK\r\nContent-Type: {ctype}\r\n" + "".join(
                        f"X-Filler-{i}: {'x' * 40}\r\n" for i in range(1000)
                    )
                    try:
                        for byte in head.encode():
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(reply.drip_headers)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    self.close_connection = True
                    return
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": ctype, **reply.headers, **(reply.stamp() if reply.stamp else {})}
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if reply.drip:
                        for i in range(0, len(data), reply.drip_size):
                            self.wfile.write(data[i : i + reply.drip_size])
                            self.wfile.flush()
                            time.sleep(reply.drip)
                    else:
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            do_GET = _serve  # noqa: N815 - names required by BaseHTTPRequestHandler
            do_POST = _serve  # noqa: N815

        return Handler
