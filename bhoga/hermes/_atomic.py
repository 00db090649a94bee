"""Replace a config file atomically without clobbering a concurrent writer (DAEMON.md §5).

A temporary file in the real target's directory (a symlink is followed, so stow/chezmoi links survive) gets
the new bytes, the old mode and owner, and an fsync; just before `os.replace` the target is compared with the
snapshot taken when it was read (inode, size, mtime_ns, sha256), because Hermes writes the file too and takes
no lock. The lock file only serialises bhoga's own writers (the daemon and the CLI).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bhoga import _files
from bhoga._record import record
from bhoga.errors import HermesConfigBusyError, HermesConfigError, NotRegularFileError

__all__ = [
    "BACKUP_SUFFIX",
    "Snapshot",
    "check_writable",
    "identity",
    "locked",
    "read_file",
    "replace_file",
    "settle",
    "write_backup",
]

log = logging.getLogger(__name__)

BACKUP_SUFFIX = ".bhoga.bak"
LOCK_TIMEOUT = 10.0
MAX_CONFIG_BYTES = 8 * 1024 * 1024
"""A Hermes config is a few kilobytes; past this it is not a file to edit."""


@record
class Snapshot:
    """Identity of the bytes read: if any part differs just before the rename, someone else wrote."""

    ino: int
    dev: int
    size: int
    mtime_ns: int
    sha256: bytes
    nlink: int
    mode: int
    uid: int
    gid: int


def _oserror(path: Path, e: OSError) -> HermesConfigError:
    if isinstance(e, NotRegularFileError):
        return HermesConfigError(str(e))
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return HermesConfigError(f"{path}: read-only ({e.strerror}); file left unchanged")
    return HermesConfigError(f"{path}: {e.strerror or e}; file left unchanged")


def read_file(real: Path) -> tuple[bytes, Snapshot] | None:
    """The file's bytes and snapshot, None when it does not exist."""
    try:
        raw, st = _files.read_bounded_stat(real, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise _oserror(real, e) from None
    snap = Snapshot(
        st.st_ino,
        st.st_dev,
        st.st_size,
        st.st_mtime_ns,
        hashlib.sha256(raw).digest(),
        st.st_nlink,
        stat.S_IMODE(st.st_mode),
        st.st_uid,
        st.st_gid,
    )
    return raw, snap


def _unchanged(real: Path, snap: Snapshot | None) -> bool:
    now = read_file(real)
    if now is None or snap is None:
        return now is None and snap is None
    s = now[1]
    return (s.ino, s.dev, s.size, s.mtime_ns, s.sha256) == (snap.ino, snap.dev, snap.size, snap.mtime_ns, snap.sha256)


def _same_stat(real: Path, snap: Snapshot | None) -> bool:
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return snap is None
    if snap is None:
        return False
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns) == (snap.ino, snap.dev, snap.size, snap.mtime_ns)


def identity(path: Path) -> tuple[int, int, int, int] | None:
    """(inode, device, size, mtime_ns) of the file at `path`, None when nothing is there: any write changes it."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise _oserror(path, e) from None
    return st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns


def settle(path: Path, quiet: float, seen: tuple[int, int, int, int] | None = None) -> tuple[int, int, int, int] | None:
    """Wait until the file at `path` (as `seen`, else as it is now) has been left alone for `quiet` seconds, and
    return its identity; `HermesConfigBusyError` when it changed meanwhile.

    An editor that truncates the file and writes it anew (vim with backupcopy, `>` redirection) keeps its own
    descriptor on the file: a replacement renamed in between would take its bytes to an unlinked inode. So a file
    written less than `quiet` ago is given the rest of that time first; a file untouched for longer costs one stat.
    """
    first = identity(path) if seen is None else seen
    if first is None:
        return None
    age = time.time() - first[3] / 1e9
    if age >= quiet:
        return first if seen is None else _still(path, first)
    time.sleep(quiet - age if age >= 0 else quiet)  # a time in the future (a skewed clock): one whole wait
    return _still(path, first)


def _still(path: Path, seen: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    if identity(path) != seen:
        raise HermesConfigBusyError(f"{path} changed while bhoga read it (being written?); nothing written")
    return seen


_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
_renameat2: Any = None


def _renameat2_fn() -> Any:
    """libc's renameat2, False where there is none (looked up once, so never inside the window before a swap)."""
    global _renameat2
    if _renameat2 is None:
        if sys.platform != "linux":
            _renameat2 = False
        else:
            import ctypes  # noqa: PLC0415 - only when a config is written

            fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
            if fn is not None:
                fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
                fn.restype = ctypes.c_int
            _renameat2 = fn or False
    return _renameat2


def _rename2(src: bytes, dst: bytes, flags: int) -> bool | None:
    """Linux renameat2(2): True done, False refused (EEXIST/ENOENT), None where the call or flag is missing."""
    fn = _renameat2_fn()
    if fn is False:
        return None
    if fn(-100, src, -100, dst, flags) == 0:  # -100: AT_FDCWD
        return True
    import ctypes  # noqa: PLC0415

    err = ctypes.get_errno()
    if err in (errno.EEXIST, errno.ENOENT):
        return False
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return None
    raise OSError(err, os.strerror(err), os.fsdecode(dst))


def _swap_in(tmp: str, real: Path, snap: Snapshot | None) -> bool | None:
    """Put `tmp` at `real` atomically, then make sure what it displaced was the file read (`snap`); if another
    writer replaced it in between, put that writer's file back. True written, False not (someone else wrote),
    None when the kernel cannot swap (the caller renames after a last stat)."""
    src, dst = os.fsencode(tmp), os.fsencode(real)
    if _renameat2_fn() is False:
        return None
    if snap is None:
        done = _rename2(src, dst, _RENAME_NOREPLACE)
        if done is False:
            os.unlink(tmp)
        return done
    ours = os.stat(tmp).st_ino
    # Until the other writer's file is swapped back, ours is what a reader of the config gets; if that reader is
    # the other writer, it saves on top of ours and its own last save is lost. So a save that landed after the
    # content check must be seen before the swap (one stat, next to it), and nothing may run between a swap that
    # displaced the wrong file and the swap back (not even a log line).
    if not _same_stat(real, snap):
        return _drop(tmp, False)
    done = _rename2(src, dst, _RENAME_EXCHANGE)
    if not done:
        return done if done is None else _drop(tmp, False)
    st = os.stat(tmp)  # what was at `real` until the swap
    if (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns) == (snap.ino, snap.dev, snap.size, snap.mtime_ns):
        return _drop(tmp, True)
    _put_back(src, dst, ours, st.st_ino)
    log.info("hermes: %s was written by someone else at the last moment; their version kept", real)
    return _drop(tmp, False)


def _put_back(src: bytes, dst: bytes, at_real: int, held: int) -> None:
    """Swap the file held at `src` back to `dst`. Each swap hands back what was at `dst`: when that is not the file
    believed there (`at_real`), the other writer saved again meanwhile, and that newer file is swapped in instead.
    Bounded: a writer that saves between every two system calls keeps its last save at `src`, dropped."""
    for _ in range(4):
        if not _rename2(src, dst, _RENAME_EXCHANGE):
            return
        out = os.stat(src).st_ino
        if out == at_real:
            return
        at_real, held = held, out


def _drop(tmp: str, result: bool) -> bool:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    return result


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold `<config>.lock` beside `path` (flock; never on the config itself, whose inode a rename swaps).

    Beside the config's own name, not a symlink's target, so a dotfiles repository gets no stray files.
    """
    lock_path = path.with_name(path.name + ".lock")
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(_files.lock_file(lock_path, timeout=LOCK_TIMEOUT))
        except BlockingIOError:
            raise HermesConfigError(
                f"{path}: another bhoga process holds {lock_path.name}; file left unchanged"
            ) from None
        except OSError as e:
            raise _oserror(lock_path, e) from None
        yield


def _write_temp(real: Path, data: bytes, mode: int, owner: tuple[int, int] | None) -> str:
    # Callers hold the lock, and every bhoga writer holds it while its temp file exists: a bhoga-named temp
    # file seen now was left by a writer killed between mkstemp and rename.
    _files.remove_orphans(real)
    try:
        return str(_files.write_temp(real, data, mode=mode, owner=owner))
    except OSError as e:
        raise _oserror(real, e) from None


def write_backup(path: Path, raw: bytes, snap: Snapshot) -> bool:
    """Keep the content as `<config>.bhoga.bak` beside `path` unless one exists already (the first write ever)."""
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    try:
        if _files.check_regular(backup) is not None or backup.is_symlink():
            return False
    except OSError as e:
        raise _oserror(backup, e) from None
    tmp = _write_temp(backup, raw, snap.mode, (snap.uid, snap.gid))
    try:
        os.replace(tmp, backup)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _oserror(backup, e) from None
    return True


def check_writable(real: Path, snap: Snapshot | None) -> None:
    """`HermesConfigError` unless `real` may be replaced: not hard-linked, not read-only."""
    if snap is not None and snap.nlink > 1:
        raise HermesConfigError(
            f"{real}: has {snap.nlink} hard links; replacing it would split them, so it was left unchanged"
        )
    # A file without its owner's write bit is read-only by intent (a Nix store, a chmod 444), even for root.
    if snap is not None and (not snap.mode & stat.S_IWUSR or not os.access(real, os.W_OK)):
        raise HermesConfigError(f"{real}: read-only (mode {snap.mode:04o}); file left unchanged")


def replace_file(real: Path, data: bytes, snap: Snapshot | None) -> bool:
    """Atomically replace `real` with `data`; False (nothing written) when the file changed since `snap`."""
    try:
        _files.check_regular(real)
    except OSError as e:
        raise _oserror(real, e) from None
    check_writable(real, snap)
    mode = snap.mode if snap is not None else 0o600
    owner = (snap.uid, snap.gid) if snap is not None else None
    try:
        tmp = _write_temp(real, data, mode, owner)
    except OSError as e:
        raise _oserror(real, e) from None
    try:
        # Hermes takes no lock, so a write of its own can land until the rename. The full check (content hash)
        # comes first. Then, where the kernel can, the files are swapped atomically and the one swapped out is
        # checked afterwards: a Hermes rename in between is swapped back, not lost. Elsewhere the last step
        # before the rename is one stat (a rename by Hermes changes the inode, an in-place write the size or
        # mtime), so the window is a stat and a rename long, not a read and a hash of the whole file.
        if not _unchanged(real, snap):
            os.unlink(tmp)
            return False
        swapped = _swap_in(tmp, real, snap)
        if swapped is not None:
            if not swapped:
                return False
        elif not _same_stat(real, snap):
            os.unlink(tmp)
            return False
        else:
            os.replace(tmp, real)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _oserror(real, e) from None
    _files.fsync_dir(real.parent)
    return True
