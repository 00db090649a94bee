"""The note bhogad leaves beside the state file saying which socket it listens on.

A shell without the daemon's XDG_RUNTIME_DIR (su, cron, a plain ssh session) would otherwise compute a different
runtime directory and conclude that no daemon runs; `bhoga._paths.socket_candidates` reads this note.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from bhoga import _files
from bhoga._paths import socket_pointer_path
from bhoga.errors import NotRegularFileError

__all__ = ["forget_socket", "record_socket"]

log = logging.getLogger(__name__)


def record_socket(sock: Path) -> None:
    """Write the socket's path, atomically; a failure only costs shells without XDG_RUNTIME_DIR the shortcut."""
    path = socket_pointer_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Only the bhogad holding the instance lock writes this note, so a bhoga temp file beside it now was
        # left by a predecessor killed mid-write.
        _files.remove_orphans(_files.real_path(path))
        _files.atomic_write(path, f"{sock}\n".encode(), mode=0o600)
    except NotRegularFileError:
        log.warning("%s is not a regular file; not recording the socket path there", path)
    except OSError as exc:
        log.info("could not record the socket path in %s: %s", path, exc.strerror or exc)


def forget_socket(sock: Path) -> None:
    """Remove the note when it still names `sock` (a successor's note stays)."""
    path = socket_pointer_path()
    with contextlib.suppress(OSError):
        if _files.read_bounded(path, 4097).decode("utf-8", "replace").strip() == str(sock):
            path.unlink()
