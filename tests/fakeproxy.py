"""An HTTPS-intercepting CONNECT proxy on 127.0.0.1, for clients that cannot be pointed at a loopback URL.

Hermes 0.19's native `anthropic` provider ignores `ANTHROPIC_BASE_URL` and always talks to
`https://api.anthropic.com` once bhoga has written its route. With `HTTPS_PROXY` pointing here and
`SSL_CERT_FILE` naming the test CA (`make_ca`), a tunnel to a host in `routes` is answered with TLS for that
host (a certificate from the test CA) and each request on it is passed, in plain HTTP, to the loopback
server for that host (`tests.fakeserver.FakeServer`, which records it). A CONNECT to any other host is refused
and recorded in `refused`: nothing ever leaves the machine.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["InterceptProxy", "make_ca"]


def make_ca(directory: Path, hosts: list[str]) -> tuple[Path, Path, Path]:
    """A throwaway CA and one server certificate for `hosts`: (ca.pem, server.pem, server.key)."""
    d = directory
    ca_key, ca, key, csr, cert = d / "ca.key", d / "ca.pem", d / "server.key", d / "server.csr", d / "server.pem"
    ext = d / "san.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "subjectAltName=" + ",".join(f"DNS:{h}" for h in hosts) + "\n"
    )

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
        "-subj", "/CN=bhoga test CA")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={hosts[0]}")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-out", str(cert),
        "-days", "2", "-extfile", str(ext))  # fmt: skip
    return ca, cert, key


def _read_head(sock: socket.socket | ssl.SSLSocket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > 1 << 20:
            break
    return data


class InterceptProxy:
    """`with InterceptProxy({"api.anthropic.com": fake.url}, cert, key) as proxy:` then `HTTPS_PROXY=proxy.url`."""

    def __init__(self, routes: dict[str, str], cert: Path, key: Path) -> None:
        self.routes = {host: urlsplit(url) for host, url in routes.items()}
        self.refused: list[str] = []
        self.tunnels: list[str] = []
        self._lock = threading.Lock()
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(str(cert), str(key))
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._handle(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> InterceptProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        head = _read_head(conn)
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        target = parts[1] if len(parts) > 1 else ""
        host = target.rsplit(":", 1)[0]
        if len(parts) < 2 or parts[0] != "CONNECT" or host not in self.routes:
            with self._lock:
                self.refused.append(line)
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        with self._lock:
            self.tunnels.append(host)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            tls = self._ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return
        upstream = self.routes[host]
        with tls:
            while True:  # one plain-HTTP exchange per request; the fake server closes after each answer
                request = _read_head(tls)
                if not request:
                    return
                header, _, body = request.partition(b"\r\n\r\n")
                length = 0
                for h in header.split(b"\r\n")[1:]:
                    name, _, value = h.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip() or 0)
                while len(body) < length:
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                with socket.create_connection((upstream.hostname or "127.0.0.1", upstream.port or 80), 30) as up:
                    up.sendall(header + b"\r\n\r\n" + body)
                    while chunk := up.recv(65536):
                        tls.sendall(chunk)
                return  # the answer said Connection: close
