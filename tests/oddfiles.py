"""Odd file-system nodes for hardening tests: FIFOs, private device nodes, sockets and directories, all made
inside the test's temp directory (never a real system path), and a way to tell a node was left alone."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from pathlib import Path

import pytest

KINDS = ("fifo", "chardev", "socket", "directory")


def make_node(path: Path, kind: str) -> tuple[int, int, int]:
    """Create an odd node of `kind` at `path` (its parents too); returns its identity (see `identity`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "chardev":
        # Same major/minor as the null device, but the node itself is private to the temp directory.
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("mknod needs privileges")
    elif kind == "socket":
        # A relative bind keeps long temp paths under the 108-byte sun_path limit.
        here = os.getcwd()
        os.chdir(path.parent)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.bind(path.name)
        finally:
            os.chdir(here)
    elif kind == "directory":
        path.mkdir()
    else:
        raise ValueError(kind)
    return identity(path)


def identity(path: Path) -> tuple[int, int, int]:
    """Inode, file type and device number of `path` itself (not a symlink's target)."""
    st = os.lstat(path)
    return st.st_ino, stat.S_IFMT(st.st_mode), st.st_rdev


def leftovers(directory: Path, name: str) -> list[str]:
    """Names in `directory` that a refused write or move-aside of `name` might have made."""
    with contextlib.suppress(FileNotFoundError):
        return sorted(n for n in os.listdir(directory) if n.startswith((f"{name}.corrupt", f".{name}.")))
    return []
