"""Every file bhoga touches on the user's machine goes through here (DESIGN §8.4).

Only regular files, ever: a path is checked after its symlinks are resolved, and a device, FIFO, socket or
directory is refused with one line (`NotRegularFileError`) and left exactly as it was — never opened for
writing, renamed, replaced or moved aside. Reads open with `O_NONBLOCK` (a FIFO cannot hang us), check the
opened descriptor with `fstat` (the path may have been swapped since the check) and stop at a size cap. Lock
files are opened with `O_NOFOLLOW`. Writes go to a temp file whose name says bhoga made it
(`.<name>.bhoga-XXXXXXXX.tmp`), are fsynced with their directory and renamed over the target; only names of
that pattern are ever cleaned up.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from bhoga.errors import NotRegularFileError, StateError

# Annotations only: `typing` is not imported at run time (it would slow `import bhoga`).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from typing import BinaryIO

__all__ = [
    "MAX_READ_BYTES",
    "TEMP_MARK",
    "atomic_write",
    "check_regular",
    "check_regular_nofollow",
    "fsync_dir",
    "is_bhoga_temp",
    "lock_file",
    "locked_for",
    "move_aside",
    "open_fd",
    "open_regular",
    "read_bounded",
    "read_bounded_stat",
    "real_path",
    "remove_orphans",
    "warn_once",
    "write_temp",
]

MAX_READ_BYTES = 32 * 1024 * 1024
"""No file bhoga reads is near this (`.claude.json` with project history reaches a few megabytes)."""
TEMP_MARK = ".bhoga-"
"""Part of every temp file name bhoga makes: `.<target>.bhoga-XXXXXXXX.tmp`."""

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


_warned: set[str] = set()


def warn_once(logger: logging.Logger, exc: BaseException) -> None:
    """Log `exc` as one warning line, once per process (a refused file is read again at every pass)."""
    line = str(exc)
    if line not in _warned:
        _warned.add(line)
        logger.warning("%s", line)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _refuse(path: Path, mode: int) -> NotRegularFileError:
    return NotRegularFileError(path, _kind(mode))


def real_path(path: Path) -> Path:
    """`path` with every symlink resolved (a dangling link resolves to where the file would be created)."""
    return Path(os.path.realpath(path))


def check_regular(path: Path) -> os.stat_result | None:
    """The status of the file `path` names (symlinks followed); None when nothing is there.

    Raises `NotRegularFileError` for a device, FIFO, socket or directory, and `OSError` when it cannot be
    looked at (a permission denied on the way, a loop of symlinks).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(path, st.st_mode)
    return st


def read_bounded_stat(path: Path, limit: int = MAX_READ_BYTES) -> tuple[bytes, os.stat_result]:
    """The bytes of regular file `path` (at most `limit`) and the status of the descriptor they came from.

    Never blocks on a FIFO or a device: they are refused before opening (stat) and again after (fstat),
    since the path may change in between. Raises `FileNotFoundError` when missing, `NotRegularFileError` for
    anything not a regular file or larger than `limit`, and `OSError` for the rest.
    """
    with open_regular(path) as f:
        st = os.fstat(f.fileno())
        # Sized by fstat: asking for `limit` bytes up front would allocate the whole cap for a tiny file.
        want = min(limit + 1, st.st_size + 1)
        data = f.read(want)
        if len(data) == want and want <= limit:  # it grew while we read: the rest, up to the cap
            data += f.read(limit + 1 - len(data))
    if len(data) > limit:
        raise NotRegularFileError(path, f"larger than {limit} bytes")
    return data, st


def open_regular(path: Path) -> BinaryIO:
    """Regular file `path` opened for reading, never blocking on the way (see `read_bounded_stat`)."""
    fd = open_fd(path, os.O_RDONLY)
    if fd is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    return os.fdopen(fd, "rb")


def open_fd(path: Path, flags: int, *, mode: int = 0o600, follow: bool = True) -> int | None:
    """A descriptor on regular file `path` opened with `flags` (`O_APPEND`, `O_CREAT`, ...), never blocking;
    None when nothing is there. `follow=False` refuses a symlink at `path` itself (for files bhoga alone
    writes). Raises `NotRegularFileError` for anything not a regular file, `OSError` for the rest."""
    flags |= os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    if follow:
        check_regular(path)  # a directory would fail to open for writing with a less telling error
    else:
        check_regular_nofollow(path)
    try:
        fd = os.open(path, flags, mode)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP and not follow:
            raise NotRegularFileError(path, "a symlink") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(path, st.st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bounded(path: Path, limit: int = MAX_READ_BYTES) -> bytes:
    """The bytes of regular file `path`, at most `limit` (see `read_bounded_stat` for what it raises)."""
    return read_bounded_stat(path, limit)[0]


@contextlib.contextmanager
def lock_file(path: Path, *, timeout: float | None = None, busy: str = "") -> Iterator[int]:
    """Hold an exclusive `flock` on the lock file `path` (created 0600), yielding its descriptor.

    Opened with `O_NOFOLLOW` (a symlink planted at a lock path is refused, never followed) and non-blocking,
    and refused when it is not a regular file. With `timeout`, `BlockingIOError` (message `busy`) when the
    lock is still held after that many seconds; without, waits as long as it takes.
    """
    fd = open_fd(path, os.O_RDWR | os.O_CREAT, follow=False)
    if fd is None:  # O_CREAT: only a lock file removed between its creation and the open gets here
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    try:
        if timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise BlockingIOError(errno.EWOULDBLOCK, busy or f"{path} is held by another process") from None
                    time.sleep(0.02)
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked_for(path: Path, what: str) -> Iterator[None]:
    """Hold `<path>.lock` (its directory made 0700 first) around a read-merge-write of `path`; a lock that
    cannot be had is one `StateError` line naming `what` ("state", "history")."""
    lock = path.with_name(path.name + ".lock")
    with contextlib.ExitStack() as held:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            held.enter_context(lock_file(lock))
        except NotRegularFileError as e:
            raise StateError(f"{what} lock {e}") from None
        except OSError as e:
            raise StateError(f"cannot open {what} lock {lock}: {e.strerror}") from None
        yield


def check_regular_nofollow(path: Path) -> None:
    """`NotRegularFileError` when `path` itself (not a symlink's target) exists and is not a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise NotRegularFileError(path, "a symlink")
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(path, st.st_mode)


_TEMP_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def is_bhoga_temp(target: Path, name: str) -> bool:
    """Whether `name` is one of the temp files bhoga makes for `target` (`.<target>.bhoga-XXXXXXXX.tmp`)."""
    prefix = f".{target.name}{TEMP_MARK}"
    middle = name[len(prefix) : -len(".tmp")]
    return name.startswith(prefix) and name.endswith(".tmp") and len(middle) == 8 and set(middle) <= _TEMP_CHARS


def remove_orphans(target: Path) -> None:
    """Delete temp files left beside `target` by a bhoga writer killed mid-write.

    Call only under the target's lock: every writer holds it while its temp file exists, so a temp file seen
    then is an orphan. Only regular files named as `is_bhoga_temp` says are removed.
    """
    with contextlib.suppress(OSError), os.scandir(target.parent) as entries:
        for entry in entries:
            if is_bhoga_temp(target, entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (best effort: some filesystems refuse to fsync a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_temp(target: Path, data: bytes, *, mode: int = 0o600, owner: tuple[int, int] | None = None) -> Path:
    """A fsynced temp file beside `target` holding `data`, named so `remove_orphans` recognises it."""
    import tempfile  # noqa: PLC0415 - only writers need it; keeps `import bhoga` fast

    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}{TEMP_MARK}", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            if owner is not None:
                with contextlib.suppress(PermissionError):
                    os.fchown(f.fileno(), *owner)
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600, owner: tuple[int, int] | None = None) -> Path:
    """Replace the file `path` names (its symlinks followed) with `data` atomically; the path written.

    Refuses (`NotRegularFileError`, nothing touched) when the target exists and is not a regular file.
    """
    real = real_path(path)
    check_regular(real)
    tmp = write_temp(real, data, mode=mode, owner=owner)
    try:
        # Checked again just before the rename: the target may have been swapped for a FIFO meanwhile.
        check_regular(real)
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(real.parent)
    return real


def move_aside(path: Path, aside: Path) -> bool:
    """Rename regular file `path` to `aside`; False (nothing moved) when it is anything else or is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    try:
        os.replace(path, aside)  # a symlink is moved itself; its target is never touched
    except OSError:
        return False
    return True
