"""A bounded history of every window's observations (DESIGN §8.7), kept beside the state file.

API (other modules build on it; keep it small and stable):

- `Point(at, pct_used, resets_at)`: one observation of one window.
- `history_path(state_path)`: where the history of a state file lives (`<state stem>-history.jsonl` beside it).
- `HistoryStore(path)`: `.append(points)` with `points` an iterable of `(pid, window_key, Point)`;
  `.load(now=None)` → `{(pid, window_key): [Point, ...]}` oldest first, deduplicated, at most `KEEP` old.
  `window_key` is `QuotaWindow.key` ("burst", "weekly", "weekly@opus", "monthly", ...).
- `Recorder`: remembers what was recorded last per window and turns a set of `ProviderQuota`s into the few new
  points worth appending (`Recorder.new_points(quotas)`); `Recorder.seen(quotas)` marks windows as known without
  recording them (what another process wrote). The Router's worker calls it when it saves the state, so a turn's
  caller never pays for history.

File format: one JSON object a line, `{"p": pid, "w": window_key, "t": epoch, "u": pct_used, "r": epoch|null}`.
Appends take an `flock` on `<file>.lock` (like the state file) and write whole lines with one `write` on an
`O_APPEND` descriptor; a line cut short by a killed writer is skipped when read and never glued to the next one.
When the oldest line is older than `KEEP` plus a day, or the file passes `MAX_BYTES`, the writer rewrites it under
the lock (temp file, fsync, `os.replace`) with only the last `KEEP` and at most `MAX_PER_WINDOW` points a window.
Reads are bounded (`MAX_BYTES`), refuse anything that is not a regular file, and never block.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bhoga import _files, _lazy
from bhoga._model import ESTIMATE, ProviderQuota
from bhoga._record import record
from bhoga.errors import NotRegularFileError, StateError

__all__ = [
    "KEEP",
    "MAX_BYTES",
    "MAX_PER_WINDOW",
    "HistoryStore",
    "Point",
    "Recorder",
    "history_path",
]

log = _lazy.logger(__name__)

KEEP = timedelta(days=7)
"""Points older than this are dropped."""
MAX_BYTES = 8 * 1024 * 1024
"""A history file larger than this is compacted by the next writer and read only up to this size."""
MAX_PER_WINDOW = 6000
"""About one point every 100 s for seven days; more is thinned when compacting."""
MIN_SPACING = 60.0
"""Seconds: a window that keeps changing is recorded at most once a minute (a reset is always recorded)."""
_RESET_MOVE = timedelta(minutes=10)
IDLE_SPACING = 900.0
"""Seconds: a window that does not change is still recorded every 15 minutes, so a flat rate is visible."""


@record
class Point:
    """One observation of one window: at `at`, `pct_used` percent was used; the window resets at `resets_at`."""

    at: datetime
    pct_used: float
    resets_at: datetime | None = None


def history_path(state_path: Path) -> Path:
    """The history file that belongs to the state file `state_path` (`state.json` → `state-history.jsonl`)."""
    return state_path.with_name(f"{state_path.stem}-history.jsonl")


def _ts(t: datetime | None) -> float | None:
    return None if t is None else round(t.timestamp(), 3)


def _line(pid: str, key: str, p: Point) -> str:
    doc = {"p": pid, "w": key, "t": _ts(p.at), "u": round(p.pct_used, 3), "r": _ts(p.resets_at)}
    return json.dumps(doc, separators=(",", ":")) + "\n"


def _parse(line: bytes) -> tuple[str, str, Point] | None:
    try:
        d = json.loads(line)
        pid, key, t, u, r = d["p"], d["w"], d["t"], d["u"], d.get("r")
        if not (isinstance(pid, str) and isinstance(key, str)):
            return None
        for v in (t, u, r):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                return None
        if t is None or u is None or not 0 <= u <= 100:
            return None
        at = datetime.fromtimestamp(t, UTC)
        resets = datetime.fromtimestamp(r, UTC) if r is not None else None
    except (ValueError, KeyError, TypeError, OverflowError, OSError):
        return None
    return pid, key, Point(at, float(u), resets)


class HistoryStore:
    """Appends points to the history file and reads them back; safe across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        # What `load` has read: the points, and where it stopped with the last whole line before it. Between
        # compactions the file only grows, so a load reads only what was appended since (a week of points takes
        # ~60 ms to parse); a file that no longer has that line there was rewritten, and is read again whole.
        self._read_lock = threading.Lock()
        self._read_to: tuple[int, bytes] | None = None
        self._points: dict[tuple[str, str], dict[datetime, Point]] = {}

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return _files.locked_for(self.path, "history")

    def _open_regular(self, flags: int, *, follow: bool = True) -> int | None:
        """A descriptor on the history file when it is a regular file; None when it does not exist."""
        try:
            return _files.open_fd(self.path, flags, follow=follow)
        except NotRegularFileError as e:
            raise StateError(f"history file {self.path} {e.strerror}; refusing to use it") from None
        except OSError as e:
            raise StateError(f"cannot open history file {self.path}: {e.strerror}") from None

    def _read_raw(self) -> bytes:
        fd = self._open_regular(os.O_RDONLY)
        if fd is None:
            return b""
        try:
            return _tail(fd, os.fstat(fd).st_size)[1]
        except OSError as e:
            raise StateError(f"cannot read history file {self.path}: {e.strerror}") from None
        finally:
            os.close(fd)

    def load(self, now: datetime | None = None) -> dict[tuple[str, str], list[Point]]:
        """Every window's points from the last `KEEP` before `now`, oldest first, one per instant."""
        since = (now or datetime.now(UTC)) - KEEP
        with self._read_lock:
            self._read_new()
            kept = ((k, [p for at, p in pts.items() if at >= since]) for k, pts in self._points.items())
            return {k: sorted(pts, key=_at) for k, pts in kept if pts}

    def _read_new(self) -> None:
        """Bring `_points` up to the file: what was appended since the last read, or all of it (`_tail`) when it
        was rewritten, shrank or is past `MAX_BYTES`."""
        fd = self._open_regular(os.O_RDONLY)
        if fd is None:
            self._read_to, self._points = None, {}
            return
        try:
            size = os.fstat(fd).st_size
            seen = self._read_to
            grown = seen is not None and seen[0] <= size <= MAX_BYTES
            if seen is not None and grown and os.pread(fd, len(seen[1]), seen[0] - len(seen[1])) == seen[1]:
                start = seen[0]
                data = os.pread(fd, size - start, start)
            else:
                self._read_to, self._points = None, {}
                start, data = _tail(fd, size)
        except OSError as e:
            raise StateError(f"cannot read history file {self.path}: {e.strerror}") from None
        finally:
            os.close(fd)
        for line in data.split(b"\n"):
            parsed = _parse(line) if line.strip() else None
            if parsed is not None:
                pid, key, p = parsed
                self._points.setdefault((pid, key), {})[p.at] = p
        # Only whole lines count as read: a line being written (or cut short) is read again next time.
        end = data.rfind(b"\n") + 1
        if end:
            self._read_to = (start + end, data[data.rfind(b"\n", 0, end - 1) + 1 : end])

    def append(self, points: Iterable[tuple[str, str, Point]]) -> None:
        """Append `(pid, window_key, point)`s; compacts the file when it holds too much. Raises `StateError`."""
        data = "".join(_line(pid, key, p) for pid, key, p in points).encode()
        if not data:
            return
        with self._locked():
            fd = self._open_regular(os.O_RDWR | os.O_APPEND | os.O_CREAT, follow=False)
            if fd is None:  # pragma: no cover - O_CREAT makes it exist
                return
            try:
                os.fchmod(fd, 0o600)
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data  # a writer died mid-line: do not glue our first line to its remains
                os.write(fd, data)
                head = os.pread(fd, 256, 0)
            except OSError as e:
                raise StateError(f"cannot append to history file {self.path}: {e.strerror}") from None
            finally:
                os.close(fd)
            if size + len(data) > MAX_BYTES or _too_old(head):
                self._compact()

    def _compact(self) -> None:
        groups = _group(self._read_raw(), datetime.now(UTC))
        lines: list[tuple[datetime, str]] = []
        for (pid, key), pts in groups.items():
            if len(pts) > MAX_PER_WINDOW:
                step = len(pts) / MAX_PER_WINDOW
                pts = [pts[int(i * step)] for i in range(MAX_PER_WINDOW - 1)] + [pts[-1]]
            lines.extend((p.at, _line(pid, key, p)) for p in pts)
        lines.sort(key=lambda x: x[0])
        # Under the lock: a bhoga-named temp file seen now is a killed writer's (see bhoga._files).
        _files.remove_orphans(_files.real_path(self.path))
        try:
            _files.atomic_write(self.path, "".join(line for _, line in lines).encode(), mode=0o600)
        except OSError as e:
            raise StateError(f"cannot compact history file {self.path}: {e.strerror}") from None


def _tail(fd: int, size: int) -> tuple[int, bytes]:
    """The whole lines of the file's last `MAX_BYTES` (past the limit, the newest part is the useful one), and
    the offset they start at. Raises `OSError`."""
    start = max(0, size - MAX_BYTES)
    data = os.pread(fd, min(size, MAX_BYTES), start)
    if start:
        cut = data.find(b"\n") + 1
        start, data = start + cut, data[cut:]
    return start, data


def _at(p: Point) -> datetime:
    return p.at


def _too_old(head: bytes) -> bool:
    first = _parse(head.split(b"\n", 1)[0]) if b"\n" in head else None
    return first is not None and first[2].at < datetime.now(UTC) - KEEP - timedelta(days=1)


def _group(raw: bytes, now: datetime) -> dict[tuple[str, str], list[Point]]:
    since = now - KEEP
    out: dict[tuple[str, str], dict[datetime, Point]] = {}
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        parsed = _parse(line)
        if parsed is None or parsed[2].at < since:
            continue
        pid, key, p = parsed
        out.setdefault((pid, key), {})[p.at] = p
    return {k: sorted(v.values(), key=lambda p: p.at) for k, v in out.items()}


class Recorder:
    """Decides which observations are worth a history point; one per process, used by the Router's worker."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], Point] = {}

    def seen(self, quotas: Iterable[ProviderQuota]) -> None:
        """Treat the windows of `quotas` as recorded already (they came from the file or another process)."""
        for q in quotas:
            for w in q.windows:
                # An estimate was never recorded: taking it as the last point would space out the next reading.
                if w.observed_at is not None and w.source != ESTIMATE:
                    k = (q.provider_id, w.key)
                    last = self._last.get(k)
                    if last is None or w.observed_at > last.at:
                        self._last[k] = Point(w.observed_at, w.pct_used, w.resets_at)

    def new_points(self, quotas: Iterable[ProviderQuota]) -> list[tuple[str, str, Point]]:
        """The points to append for `quotas`, and remember them as recorded."""
        out = []
        for q in quotas:
            for w in q.windows:
                if w.observed_at is None or w.source == ESTIMATE:
                    continue  # an estimate (see `bhoga._turncount`) is no reading: history keeps readings only
                k = (q.provider_id, w.key)
                p = Point(w.observed_at, w.pct_used, w.resets_at)
                if _worth(self._last.get(k), p):
                    self._last[k] = p
                    out.append((q.provider_id, w.key, p))
        return out


def _worth(last: Point | None, p: Point) -> bool:
    if last is None:
        return True
    gap = (p.at - last.at).total_seconds()
    if gap <= 0:
        return False
    moved = (p.resets_at is None) != (last.resets_at is None) or (
        p.resets_at is not None and last.resets_at is not None and abs(p.resets_at - last.resets_at) > _RESET_MOVE
    )
    if moved or p.pct_used < last.pct_used:
        return True  # a reset (or a rolling window giving back): always worth a point
    if p.pct_used != last.pct_used:
        return gap >= MIN_SPACING
    return gap >= IDLE_SPACING
