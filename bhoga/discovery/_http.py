"""One careful HTTP GET for the usage endpoints: explicit timeouts, a total deadline, a byte cap, TLS
verification, no redirects (a redirect must never carry a token to another host) and no exceptions.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bhoga._paths import offline

__all__ = ["DEFAULT_TIMEOUT", "MAX_BODY_BYTES", "USER_AGENT", "HttpResult", "http_get"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
USER_AGENT = "bhoga/0.2 (quota discovery)"
MAX_BODY_BYTES = 1024 * 1024
"""Usage payloads are a few kilobytes; a megabyte means something else is answering."""


@dataclass(frozen=True, slots=True)
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


def _opener() -> Any:
    import ssl  # noqa: PLC0415 - deferred: urllib and ssl cost ~15 ms, only paid when the network is used
    import urllib.request  # noqa: PLC0415

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(_NoRedirect(), urllib.request.HTTPSHandler(context=ssl.create_default_context()))


def http_get(
    url: str, headers: Mapping[str, str], *, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = MAX_BODY_BYTES
) -> HttpResult:
    """GET `url` with `headers`; every failure becomes an `HttpResult` with status 0 or the HTTP status.

    `timeout` bounds the connection, each read and the whole body together, so a server dripping bytes
    cannot hold a discovery thread longer than about `timeout`.
    """
    if offline():
        # A second guard behind the callers' checks: BHOGA_OFFLINE=1 promises not one request.
        return HttpResult(0, error="offline (BHOGA_OFFLINE=1)")
    import http.client  # noqa: PLC0415
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    failures = (OSError, ValueError, http.client.HTTPException)

    if not url.startswith(("https://", "http://")):
        return HttpResult(0, error="unsupported URL scheme")
    deadline = time.monotonic() + timeout
    req = urllib.request.Request(url, method="GET")  # noqa: S310 - scheme checked above
    for k, v in headers.items():
        req.add_unredirected_header(k, v)
    try:
        resp = _opener().open(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        resp = e
    except failures as e:
        reason = getattr(e, "reason", None) or e
        return HttpResult(0, error=f"{type(e).__name__}: {reason}"[:200])
    try:
        status = int(getattr(resp, "status", None) or resp.getcode() or 0)
        hdrs = {k.lower(): v for k, v in resp.headers.items()} if resp.headers else {}
        chunks: list[bytes] = []
        total = 0
        while True:
            if time.monotonic() > deadline:
                return HttpResult(status, headers=hdrs, error="body not received within the timeout")
            chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                return HttpResult(status, headers=hdrs, error=f"body larger than {max_bytes} bytes")
            chunks.append(chunk)
        return HttpResult(status, b"".join(chunks), hdrs)
    except failures as e:
        return HttpResult(0, error=f"{type(e).__name__} while reading the body")
    finally:
        with contextlib.suppress(OSError):
            resp.close()
