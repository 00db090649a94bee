"""The log of Hermes route changes bhogad made ("flips"), kept beside the state file for `bhoga history`.

One JSON object a line: `{"t": epoch, "model": ..., "to": pid, "why": ...}`. Appends are single `write`s on an
`O_APPEND` descriptor, so lines never interleave; the file is cut to the last `KEEP` when it grows past
`MAX_BYTES`. Reads are bounded, refuse anything but a regular file, and never block.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bhoga import _files
from bhoga._paths import state_path
from bhoga._record import record
from bhoga.errors import NotRegularFileError

__all__ = ["Flip", "flips_path", "read_flips", "record_flip"]

log = logging.getLogger(__name__)

KEEP = timedelta(days=7)
MAX_BYTES = 256 * 1024


@record
class Flip:
    """Hermes was moved to provider `to` for `model` at `at`, for the reason `why`."""

    at: datetime
    model: str
    to: str
    why: str


def flips_path() -> Path:
    """`flips.jsonl` beside the state file."""
    return state_path().with_name("flips.jsonl")


def _open(path: Path, flags: int) -> int | None:
    try:
        return _files.open_fd(path, flags, follow=False)
    except NotRegularFileError:
        log.warning("%s is not a regular file; flips are not recorded there", path)
    except OSError:
        pass
    return None


def record_flip(model: str | None, to: str | None, why: str, *, at: datetime | None = None) -> None:
    """Append one flip; a failure costs only the chart its mark."""
    path = flips_path()
    line = json.dumps(
        {"t": round((at or datetime.now(UTC)).timestamp(), 3), "model": model or "", "to": to or "", "why": why[:300]},
        ensure_ascii=False,
    )
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
    fd = _open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    if fd is None:
        return
    try:
        size = os.fstat(fd).st_size
        # A line left unfinished by a killed writer must not swallow this one: start on a fresh line.
        torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
        os.write(fd, (("\n" if torn else "") + line + "\n").encode())
        big = os.fstat(fd).st_size > MAX_BYTES
    except OSError as exc:
        log.info("could not record a flip in %s: %s", path, exc.strerror or exc)
        return
    finally:
        os.close(fd)
    if big:
        _compact(path)


def _compact(path: Path) -> None:
    # Under a lock, so two compacting writers do not race and a temp file seen now is a killed writer's.
    with contextlib.suppress(OSError), _files.lock_file(path.with_name(path.name + ".lock"), timeout=5):
        _files.remove_orphans(path)
        keep = read_flips(path, since=datetime.now(UTC) - KEEP)[-1000:]
        rows = ({"t": flip.at.timestamp(), "model": flip.model, "to": flip.to, "why": flip.why} for flip in keep)
        _files.atomic_write(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode())


def read_flips(path: Path | None = None, *, since: datetime | None = None) -> list[Flip]:
    """The recorded flips, oldest first, from `since` on; a damaged line is skipped."""
    fd = _open(path or flips_path(), os.O_RDONLY)
    if fd is None:
        return []
    try:
        raw = os.read(fd, MAX_BYTES * 2)
    except OSError:
        return []
    finally:
        os.close(fd)
    out: list[Flip] = []
    for line in raw.decode("utf-8", "replace").splitlines():
        try:
            obj = json.loads(line)
            flip = Flip(
                datetime.fromtimestamp(float(obj["t"]), UTC), str(obj["model"]), str(obj["to"]), str(obj["why"])
            )
        except (ValueError, KeyError, TypeError, OverflowError):
            continue
        if since is None or flip.at >= since:
            out.append(flip)
    return out
