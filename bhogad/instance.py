"""One bhogad per user: an exclusive `flock` on a lock file beside the socket.

flock belongs to the open file description and dies with the process, so a crash never leaves a stale lock
(unlike a pid file), and a second `open()` + `flock` in the same process is refused too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from bhoga import _files
from bhoga._paths import socket_path
from bhoga.errors import BhogaError, NotRegularFileError

__all__ = ["AlreadyRunning", "InstanceLock", "lock_path"]


class AlreadyRunning(BhogaError):  # noqa: N818 - reads as the situation it reports
    """Another bhogad holds the instance lock."""


def lock_path() -> Path:
    """`bhogad.lock` in the socket's directory."""
    return socket_path().parent / "bhogad.lock"


class InstanceLock:
    """Hold the lock from `acquire()` to `release()`; the file records the holder's pid for people."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or lock_path()
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise `AlreadyRunning` (one line naming the holder's pid when known)."""
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = _files.open_fd(self.path, os.O_RDWR | os.O_CREAT, follow=False)
        except NotRegularFileError as exc:
            raise BhogaError(f"lock file {exc}") from None
        except OSError as exc:
            raise BhogaError(f"cannot open the lock file {self.path}: {exc.strerror}") from None
        if fd is None:  # O_CREAT: only a file removed between the create and the open gets here
            raise BhogaError(f"cannot open the lock file {self.path}: it vanished while being created")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise AlreadyRunning(f"another bhogad is already running{who}; lock {self.path} is held") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (the file stays: removing it would race with a starting successor)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
