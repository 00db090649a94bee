"""The three pieces of the systemd service protocol bhogad speaks, written by hand (no libsystemd).

- `notify(state)`: one datagram to `$NOTIFY_SOCKET` (`READY=1`, `STATUS=…`, `WATCHDOG=1`, `STOPPING=1`).
- `watchdog_interval()`: how often the main loop must send `WATCHDOG=1` (half of `WATCHDOG_USEC`).
- `listen_fds()`: the sockets systemd passed for socket activation (`LISTEN_FDS`/`LISTEN_PID`).

Outside systemd every function is a harmless no-op, so the daemon calls them unconditionally.
"""

from __future__ import annotations

import logging
import os
import socket

__all__ = ["SD_LISTEN_FDS_START", "listen_fds", "notify", "watchdog_interval"]

log = logging.getLogger(__name__)

# sd_listen_fds(3): passed descriptors always start at 3, right after stdin/stdout/stderr.
SD_LISTEN_FDS_START = 3

_LISTEN_VARS = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


def _notify_address() -> str | None:
    addr = os.environ.get("NOTIFY_SOCKET", "")
    if len(addr) < 2 or addr[0] not in "/@":
        return None
    # '@' marks Linux's abstract namespace, whose names begin with a NUL byte.
    return "\0" + addr[1:] if addr[0] == "@" else addr


def notify(state: str) -> bool:
    """Send `state` (e.g. "READY=1\\nSTATUS=listening") to the service manager; False if it was not sent.

    Never raises: a manager that went away must not take the daemon down with it.
    """
    addr = _notify_address()
    if addr is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode("utf-8"), addr)
    except OSError as exc:
        log.debug("sd_notify to %r failed: %s", addr, exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between two `WATCHDOG=1` pings (half the manager's timeout), or None when no watchdog is armed.

    The pings must come from the main loop: a live helper thread pinging for a hung loop defeats the watchdog.
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    if not usec:
        return None
    pid = os.environ.get("WATCHDOG_PID", "")
    try:
        if pid and int(pid) != os.getpid():
            return None  # armed for another process (our parent, before it exec'd us elsewhere)
        value = int(usec)
    except ValueError:
        log.warning("ignoring malformed WATCHDOG_USEC=%r / WATCHDOG_PID=%r", usec, pid)
        return None
    if value <= 0:
        return None
    return value / 2_000_000


def listen_fds() -> list[int]:
    """The descriptors passed by socket activation (3, 4, …), close-on-exec; [] when none were passed for us.

    The LISTEN_* variables are removed in every case so that children (the `claude` CLI, a shell hook) do not
    mistake them for their own.
    """
    env = {name: os.environ.pop(name, None) for name in _LISTEN_VARS}
    if env["LISTEN_PID"] is None or env["LISTEN_FDS"] is None:
        return []
    try:
        pid = int(env["LISTEN_PID"])
        count = int(env["LISTEN_FDS"])
    except ValueError:
        log.warning("ignoring malformed LISTEN_PID=%r / LISTEN_FDS=%r", env["LISTEN_PID"], env["LISTEN_FDS"])
        return []
    if pid != os.getpid() or count <= 0:
        return []
    fds = list(range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count))
    for fd in fds:
        try:
            os.set_inheritable(fd, False)
        except OSError as exc:
            log.warning("LISTEN_FDS=%d but fd %d is unusable: %s", count, fd, exc)
            return []
    return fds
