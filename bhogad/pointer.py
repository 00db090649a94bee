"""The note bhogad leaves beside the state file saying which socket it listens on.

A shell without the daemon's XDG_RUNTIME_DIR (su, cron, a plain ssh session) would otherwise compute a different
runtime directory and conclude that no daemon runs; `bhoga._paths.socket_candidates` reads this note.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

from bhoga._paths import socket_pointer_path

__all__ = ["forget_socket", "record_socket"]

log = logging.getLogger(__name__)


def _odd(path: Path) -> bool:
    """Something other than a regular file (or nothing) is there: never replace it (DESIGN §8.4)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return not stat.S_ISREG(st.st_mode)


def record_socket(sock: Path) -> None:
    """Write the socket's path, atomically; a failure only costs shells without XDG_RUNTIME_DIR the shortcut."""
    path = socket_pointer_path()
    if _odd(path):
        log.warning("%s is not a regular file; not recording the socket path there", path)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, f"{sock}\n".encode())
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        log.info("could not record the socket path in %s: %s", path, exc.strerror or exc)
        with contextlib.suppress(OSError):
            tmp.unlink()


def forget_socket(sock: Path) -> None:
    """Remove the note when it still names `sock` (a successor's note stays)."""
    path = socket_pointer_path()
    with contextlib.suppress(OSError):
        if not _odd(path) and path.read_text(encoding="utf-8").strip() == str(sock):
            path.unlink()
