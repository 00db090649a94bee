"""One careful HTTP GET for the usage endpoints: explicit timeouts, a total deadline, a byte cap, TLS
verification, no redirects (a redirect must never carry a token to another host) and no exceptions.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from bhoga._paths import offline
from bhoga._record import field, record

__all__ = ["DEFAULT_TIMEOUT", "MAX_BODY_BYTES", "USER_AGENT", "HttpResult", "http_get"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
USER_AGENT = "bhoga/0.2 (quota discovery)"
MAX_BODY_BYTES = 1024 * 1024
"""Usage payloads are a few kilobytes; a megabyte means something else is answering."""


@record
class HttpResult:
    """What came back: `status` 0 means no HTTP answer at all (refused, timeout, TLS, offline)."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str = ""
    """A one-line reason when there is no usable body; never contains request headers."""

    def json(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None for HTML, garbage, arrays and empty bodies."""
        if not self.body:
            return None
        try:
            obj = json.loads(self.body)
        except (ValueError, RecursionError):
            return None
        return obj if isinstance(obj, dict) else None

    def header(self, name: str) -> str | None:
        """A response header by case-insensitive name."""
        return self.headers.get(name.lower())


class _Deadline:
    """Ends one exchange at a fixed time: a timer shuts the connection's socket down, so a server that sends
    its status line or headers a byte at a time cannot stretch the per-read socket timeout forever."""

    def __init__(self, seconds: float) -> None:
        import threading  # noqa: PLC0415

        self.expired = False
        self._conns: list[Any] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def track(self, conn: Any) -> None:
        with self._lock:
            if conn not in self._conns:
                self._conns.append(conn)
            expired = self.expired
        if expired:
            self._kill(conn)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            conns = list(self._conns)
        for conn in conns:
            self._kill(conn)

    @staticmethod
    def _kill(conn: Any) -> None:
        import socket  # noqa: PLC0415

        sock = getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _opener(deadline: _Deadline) -> Any:
    import http.client  # noqa: PLC0415
    import ssl  # noqa: PLC0415 - deferred: urllib and ssl cost ~15 ms, only paid when the network is used
    import urllib.request  # noqa: PLC0415

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    # Tracked before connecting: a TLS handshake (or a proxy tunnel) can be dripped too, and the timer shuts
    # down whatever socket the connection holds by then; one created after the deadline is shut down at once.
    class _Http(http.client.HTTPConnection):
        def connect(self) -> None:
            deadline.track(self)
            super().connect()
            deadline.track(self)

    class _Https(http.client.HTTPSConnection):
        def connect(self) -> None:
            deadline.track(self)
            super().connect()
            deadline.track(self)

    class _HttpHandler(urllib.request.HTTPHandler):
        def http_open(self, req: Any) -> Any:
            return self.do_open(_Http, req)

    context = ssl.create_default_context()

    class _HttpsHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: Any) -> Any:
            return self.do_open(_Https, req, context=context)

    return urllib.request.build_opener(_NoRedirect(), _HttpHandler(), _HttpsHandler(context=context))


def http_get(
    url: str, headers: Mapping[str, str], *, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = MAX_BODY_BYTES
) -> HttpResult:
    """GET `url` with `headers`; every failure becomes an `HttpResult` with status 0 or the HTTP status.

    `timeout` is one deadline for the whole exchange — connect, TLS, status line, headers and body — so a
    server dripping bytes anywhere cannot hold a discovery thread longer than about `timeout`.
    """
    if offline():
        # A second guard behind the callers' checks: BHOGA_OFFLINE=1 promises not one request.
        return HttpResult(0, error="offline (BHOGA_OFFLINE=1)")
    import http.client  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    failures = (OSError, ValueError, http.client.HTTPException)

    if not url.startswith(("https://", "http://")):
        return HttpResult(0, error="unsupported URL scheme")
    req = urllib.request.Request(url, method="GET")  # noqa: S310 - scheme checked above
    for k, v in headers.items():
        req.add_unredirected_header(k, v)
    deadline = _Deadline(timeout)
    try:
        return _exchange(req, timeout, max_bytes, deadline, failures)
    finally:
        deadline.cancel()


def _exchange(
    req: Any, timeout: float, max_bytes: int, deadline: _Deadline, failures: tuple[type[Exception], ...]
) -> HttpResult:
    import urllib.error  # noqa: PLC0415

    late = f"timeout: no complete answer within {timeout:g} s"
    try:
        resp = _opener(deadline).open(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        resp = e
    except failures as e:
        if deadline.expired:
            return HttpResult(0, error=late)
        reason = getattr(e, "reason", None) or e
        return HttpResult(0, error=f"{type(e).__name__}: {reason}"[:200])
    try:
        status = int(getattr(resp, "status", None) or resp.getcode() or 0)
        hdrs = {k.lower(): v for k, v in resp.headers.items()} if resp.headers else {}
        chunks: list[bytes] = []
        total = 0
        while True:
            if deadline.expired:
                return HttpResult(0, error=late)
            chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                return HttpResult(status, headers=hdrs, error=f"body larger than {max_bytes} bytes")
            chunks.append(chunk)
        if deadline.expired:  # the socket was shut down: what arrived may be cut short
            return HttpResult(0, error=late)
        return HttpResult(status, b"".join(chunks), hdrs)
    except failures as e:
        if deadline.expired:
            return HttpResult(0, error=late)
        return HttpResult(0, error=f"{type(e).__name__} while reading the body")
    finally:
        with contextlib.suppress(OSError):
            resp.close()
