"""The turn log: every turn bhogad was told about — when, which model, which provider served it, nothing else —
kept beside the state file for 7 days, so `bhoga simulate` replays the user's real model mix (DESIGN §8.7).

Only bhogad writes it (`Router(log_turns=True, daemon=False)`): a harness's Router that forwards its turns to
bhogad also processes them itself, so a log written by every Router would count those turns twice, and a
Router with no daemon does not log at all (its turns are its process's own business).

- `LoggedTurn(at, pid, model, n)`: `n` successful turns of `model` served by `pid` in the second `at`.
- `TurnLog(since, turns, damaged, beats)`: what a read found; the log is complete from `since` (epoch seconds)
  on, except in its `gaps(now)`.
- `TurnLogStore(path)`: `.append(turns, beats=...)` and `.load(now)`; safe across processes.
- `TurnLogWriter(path)` (`bhoga._turnlog_writer`): the Router's buffer and heartbeat.

An idle bhogad and a stopped one both log no turn; the heartbeat tells them apart. While it logs, the writer
appends `{"up": epoch}` at least every `BEAT_SECONDS`, so a stretch longer than `GAP_SECONDS` with no line at
all is time bhogad was not running (or the machine slept): `bhoga simulate` says how much of the period that was
instead of replaying it as hours nobody worked. A log written before heartbeats existed has no gaps until its first
`up` line.

File format: `{"since": epoch}` first (written with the first line and by every compaction), then one JSON
object a line, `{"t": epoch, "p": pid, "m": model, "n": count}` ("n" left out when 1) or `{"up": epoch}`, in the
order written. Appends take an `flock`
on `<file>.lock` and write whole lines with one `write` on an `O_APPEND` descriptor, like the window history
(`bhoga._history`). Past `MAX_BYTES`, or with its start more than a day past `KEEP`, the writer rewrites it
under the lock with the last `KEEP`, at most `MAX_ENTRIES` lines and half of `MAX_BYTES`; damaged lines it finds
then are moved aside with the old file (`<name>.corrupt-<pid>`), with one warning. Reads skip damaged lines.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path

from bhoga import _files, _lazy
from bhoga._providers import PROVIDERS
from bhoga._record import record
from bhoga.errors import NotRegularFileError, StateError

__all__ = [
    "KEEP_SECONDS",
    "MAX_BYTES",
    "MAX_ENTRIES",
    "LoggedTurn",
    "TurnLog",
    "TurnLogStore",
    "loggable",
    "turnlog_path",
]

log = _lazy.logger(__name__)

KEEP_SECONDS = 7 * 86400.0
"""Turns older than this are dropped (the horizon of the window history)."""
MAX_ENTRIES = 50_000
"""Lines kept at most, the newest: a flood of turns cannot grow the file past this."""
MAX_BYTES = 8 * 1024 * 1024
"""A file larger than this is compacted by the next writer, and read only up to this size (its newest part)."""
BEAT_SECONDS = 900.0
"""A logging bhogad appends an `up` line at least this often, turns or not."""
GAP_SECONDS = 1800.0
"""No line for longer than this (a beat's period, the writer's wake-up slack and some) is a gap in the log."""
_MAX_BEATS = 2 * int(KEEP_SECONDS / BEAT_SECONDS)  # a week of beats, and restarts
_MAX_MODEL = 256  # the protocol's limit of a model name


@record
class LoggedTurn:
    """`n` successful turns of `model`, served by provider `pid`, in the second starting at `at` (epoch)."""

    at: float
    pid: str
    model: str
    n: int = 1


@record
class TurnLog:
    """The turns read, oldest first; the log is complete from `since` (None: empty); `damaged` lines skipped."""

    since: float | None
    turns: tuple[LoggedTurn, ...]
    damaged: int = 0
    beats: tuple[float, ...] = ()
    """When the writer said it was up (epoch seconds, oldest first)."""

    def gaps(self, now: float) -> tuple[tuple[float, float], ...]:
        """The stretches, from the first beat to `now`, with no line for longer than `GAP_SECONDS`: bhogad was
        not logging then. None before the first beat (a log from before heartbeats cannot tell)."""
        if not self.beats:
            return ()
        marks = sorted({*self.beats, *(t.at for t in self.turns if t.at >= self.beats[0]), now})
        return tuple((a, b) for a, b in itertools.pairwise(marks) if b - a > GAP_SECONDS)


def turnlog_path(state_path: Path) -> Path:
    """The turn log of the state file `state_path` (`state.json` → `state-turns.jsonl` beside it)."""
    return state_path.with_name(f"{state_path.stem}-turns.jsonl")


def _line(t: LoggedTurn) -> str:
    # Whole seconds, rounded down like `since`: a turn is never logged before the moment the log is complete from.
    doc: dict[str, object] = {"t": math.floor(t.at), "p": t.pid, "m": t.model}
    if t.n != 1:
        doc["n"] = t.n
    return json.dumps(doc, separators=(",", ":")) + "\n"


def _header(since: float) -> str:
    return json.dumps({"since": math.floor(since)}) + "\n"


def _lines(turns: Iterable[LoggedTurn], beats: Iterable[float]) -> list[tuple[float, str]]:
    """Turn and `up` lines, each with its time, oldest first."""
    out: list[tuple[float, str]] = [(math.floor(t.at), _line(t)) for t in turns]
    out.extend((math.floor(b), json.dumps({"up": math.floor(b)}) + "\n") for b in beats)
    out.sort(key=_first)
    return out


def _first(item: tuple[float, str]) -> float:
    return item[0]


def loggable(model: str) -> bool:
    return 0 < len(model) <= _MAX_MODEL and model.isprintable()  # what a read takes back


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


def _parse(line: bytes) -> LoggedTurn | tuple[str, float] | None:
    """A turn, `("since", epoch)` for a header line, `("up", epoch)` for a beat, or None for a damaged line."""
    try:
        d = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(d, dict):
        return None
    if len(d) == 1 and d.keys() <= {"since", "up"}:
        (tag, at), *_ = d.items()
        return (tag, float(at)) if _number(at) else None
    t, pid, model, n = d.get("t"), d.get("p"), d.get("m"), d.get("n", 1)
    if not _number(t) or pid not in PROVIDERS or not isinstance(model, str):
        return None
    if not loggable(model):
        return None
    if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= 10**9:
        return None
    return LoggedTurn(float(t), str(pid), model, n)  # type: ignore[arg-type]


def _read(raw: bytes, whole: bool, now: float) -> TurnLog:
    """The turn log in `raw` (the whole file when `whole`, else its newest part), as of `now`."""
    since: float | None = None
    turns: list[LoggedTurn] = []
    beats: list[float] = []
    damaged = 0
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        got = _parse(line)
        if got is None:
            damaged += 1
        elif isinstance(got, LoggedTurn):
            turns.append(got)
        elif got[0] == "up":
            beats.append(got[1])
        else:
            since = got[1] if since is None else min(since, got[1])
    turns.sort(key=_at)
    beats.sort()
    if since is None or not whole:
        # No header (or its start cut off): complete from its oldest line.
        since = min([t.at for t in turns[:1]] + beats[:1], default=None)
    horizon = now - KEEP_SECONDS
    fresh = [t for t in turns if t.at >= horizon]
    kept = fresh[-MAX_ENTRIES:]
    if since is not None:
        since = max(since, horizon)  # only the last `KEEP_SECONDS` is kept
        if len(kept) < len(fresh):
            since = max(since, kept[0].at)  # turns dropped for the cap: complete only from the first one left
    first = since if since is not None else horizon
    return TurnLog(since, tuple(kept), damaged, tuple(b for b in beats if b >= first)[-_MAX_BEATS:])


def _at(t: LoggedTurn) -> float:
    return t.at


class TurnLogStore:
    """Appends turns to the log file and reads them back; safe across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _open(self, flags: int) -> int | None:
        try:
            return _files.open_fd(self.path, flags, follow=False)
        except NotRegularFileError as e:
            raise StateError(f"turn log {e}") from None
        except OSError as e:
            raise StateError(f"cannot open turn log {self.path}: {e.strerror}") from None

    def _raw(self) -> tuple[bytes, bool]:
        """The file's whole lines, up to its last `MAX_BYTES`, and whether that is all of it."""
        fd = self._open(os.O_RDONLY)
        if fd is None:
            return b"", True
        try:
            size = os.fstat(fd).st_size
            start = max(0, size - MAX_BYTES)
            data = os.pread(fd, size - start, start)
        except OSError as e:
            raise StateError(f"cannot read turn log {self.path}: {e.strerror}") from None
        finally:
            os.close(fd)
        if start:
            data = data[data.find(b"\n") + 1 :]
        return data, not start

    def load(self, now: float | None = None) -> TurnLog:
        """The turns of the last `KEEP_SECONDS` (at most `MAX_ENTRIES` lines), oldest first. Raises `StateError`
        when the file cannot be used (not a regular file, unreadable); damaged lines are skipped and counted."""
        raw, whole = self._raw()
        return _read(raw, whole, time.time() if now is None else now)

    def append(self, turns: Iterable[LoggedTurn], *, since: float | None = None, beats: Iterable[float] = ()) -> None:
        """Append `turns` and the writer's `beats` (`up` lines); compacts the file when it holds too much. Raises
        `StateError`.

        A new file is complete from `since` (when its writer began to log), or else from its first line."""
        lines = _lines(turns, beats)
        if not lines:
            return
        body = "".join(text for _at, text in lines).encode()
        now = time.time()
        with _files.locked_for(self.path, "turn log"):
            fd = self._open(os.O_RDWR | os.O_APPEND | os.O_CREAT)
            if fd is None:  # pragma: no cover - O_CREAT makes it exist
                return
            try:
                os.fchmod(fd, 0o600)
                size = os.fstat(fd).st_size
                if not size:  # a new log is complete from its first turn on
                    body = _header(lines[0][0] if since is None else since).encode() + body
                elif os.pread(fd, 1, size - 1) != b"\n":
                    body = b"\n" + body  # a writer died mid-line: do not glue our first line to its remains
                os.write(fd, body)
                head = os.pread(fd, 128, 0)
            except OSError as e:
                raise StateError(f"cannot append to turn log {self.path}: {e.strerror}") from None
            finally:
                os.close(fd)
            if size + len(body) > MAX_BYTES or _too_old(head, now):
                self._compact(now)

    def _compact(self, now: float) -> None:
        """Under the lock: rewrite the file with what `load` would keep, within half of `MAX_BYTES`."""
        raw, whole = self._raw()
        kept = _read(raw, whole, now)
        lines = [_line(t) for t in kept.turns]
        size, cut = len(kept.beats) * 20, len(lines)
        while cut and size + len(lines[cut - 1]) <= MAX_BYTES // 2:
            cut -= 1
            size += len(lines[cut])
        since = kept.turns[cut].at if cut else kept.since
        beats = [b for b in kept.beats if since is None or b >= since]
        _files.remove_orphans(_files.real_path(self.path))
        if kept.damaged:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{os.getpid()}")
            if _files.move_aside(self.path, aside):
                log.warning(
                    "turn log %s had %d damaged line(s); moved it to %s and kept its %d good line(s)",
                    self.path,
                    kept.damaged,
                    aside.name,
                    len(kept.turns),
                )
        body = "".join(text for _at, text in _lines(kept.turns[cut:], beats))
        data = (_header(since) if since is not None else "") + body
        try:
            _files.atomic_write(self.path, data.encode(), mode=0o600)
        except OSError as e:
            raise StateError(f"cannot compact turn log {self.path}: {e.strerror}") from None


def _too_old(head: bytes, now: float) -> bool:
    first = _parse(head.split(b"\n", 1)[0]) if b"\n" in head else None
    at = first.at if isinstance(first, LoggedTurn) else None if first is None else first[1]
    return at is not None and at < now - KEEP_SECONDS - 86400
