"""The daemon's Unix socket as a file and as a peer: who is calling, how many connections fit, binding with no
window for another user, and telling a live daemon's socket from one a crashed daemon left behind.

Kept apart from the server so that what depends on the operating system (peer credentials, descriptor limits,
umask, stale-socket probing) is in one place, and the server only serves.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import stat
import struct
import sys
from pathlib import Path
from typing import Final

from bhoga.errors import BhogaError

__all__ = ["ACCEPT_BATCH", "LISTEN_QUEUE", "SocketInUse", "bind", "connection_limit", "peer_uid", "unlink_if_ours"]

log = logging.getLogger(__name__)

_MAX_CONNECTIONS: Final = 512
ACCEPT_BATCH: Final = 64
"""Connections accepted in one turn of the loop."""
LISTEN_QUEUE: Final = 512
"""Connections the kernel holds for us meanwhile; a full queue fails connect()."""
_SPARE_FDS: Final = 64  # descriptors kept for everything else the daemon opens (state, watches, logs)


class SocketInUse(BhogaError):  # noqa: N818 - the name the daemon and tests use
    """Another daemon already answers on the socket path."""


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a connected Unix socket, None when the OS won't say."""
    try:
        if sys.platform.startswith("linux"):
            _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            return int(uid)
        # macOS / BSD: LOCAL_PEERCRED (1) at level SOL_LOCAL (0) fills a struct xucred.
        raw = sock.getsockopt(0, 1, struct.calcsize("=IIh2x16I"))
        return int(struct.unpack_from("=II", raw)[1])
    except (OSError, struct.error):
        return None


def connection_limit() -> int:
    """How many connections to keep: 512, or fewer when the descriptor limit leaves less room.

    Accepted connections are only looked at a loop turn or two after they were opened, a batch of
    `ACCEPT_BATCH` a turn; three batches and a reserve for the daemon's own files must fit beside the
    connections, or accepting pauses on EMFILE.
    """
    try:
        import resource  # noqa: PLC0415 - Unix only

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return _MAX_CONNECTIONS
    if soft == resource.RLIM_INFINITY:
        return _MAX_CONNECTIONS
    return max(8, min(_MAX_CONNECTIONS, int(soft) - 3 * ACCEPT_BATCH - _SPARE_FDS))


def bind(path: Path) -> tuple[socket.socket, tuple[int, int]]:
    """A socket listening on `path` (its directory made 0700, the socket born 0600) and the (st_dev, st_ino) of
    the file it made; `SocketInUse` when a live daemon already answers there."""
    directory = path.parent
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)
    _clear_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # the socket is born 0600: no window in which another user could connect
    try:
        sock.bind(str(path))
    except OSError:
        sock.close()
        raise
    finally:
        os.umask(old)
    path.chmod(0o600)
    st = path.stat()
    sock.listen(LISTEN_QUEUE)
    return sock, (st.st_dev, st.st_ino)


def unlink_if_ours(path: Path, bound: tuple[int, int]) -> None:
    """Remove the socket file `bind` made, and never a successor's that took the path since."""
    with contextlib.suppress(OSError):
        st = path.stat()
        if (st.st_dev, st.st_ino) == bound:
            path.unlink()


def _clear_stale(path: Path) -> None:
    """Remove a socket file no daemon answers on; `SocketInUse` when one does."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise SocketInUse(f"{path} exists and is not a socket; remove it or set BHOGA_SOCKET")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError as exc:
        if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise SocketInUse(f"{path} cannot be checked ({exc.strerror}); is another bhogad starting?") from None
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        log.info("removed a stale socket %s", path)
        return
    finally:
        probe.close()
    raise SocketInUse(f"another bhogad already listens on {path}")
