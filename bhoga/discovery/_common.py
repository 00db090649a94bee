"""Small helpers every quota source shares: capped file reads and secret redaction for the one log line a
failure is allowed (lenient values and times are `bhoga._values`, shared with header calibration).

Nothing here raises on bad input: undocumented endpoints drift, so a wrong type is "no value", not an error.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bhoga._model import Observation, QuotaWindow
from bhoga._record import field, record

__all__ = [
    "MAX_FILE_BYTES",
    "Collected",
    "CredentialFact",
    "Reading",
    "Watched",
    "call_skipped",
    "collect_failures",
    "fresh_answer",
    "log_failure",
    "printable",
    "read_bytes",
    "read_json",
    "redact",
    "utcnow",
]


@record(frozen=False)
class Reading:
    """What one discovery pass has learned about a provider so far; `observation` is what it returns.

    Sources fill in `notes`, `verdict` and `credential` as they are tried, so every return of a pass builds its
    observation the same way.
    """

    pid: str
    now: datetime
    credential: bool | None = None
    sources: tuple[str, ...] = ()
    marker: str = ""
    extra: tuple[tuple[str, str], ...] = ()
    notes: list[str] = field(default_factory=list)
    verdict: str = ""
    """"verified" or "rejected" when the provider answered for this very credential."""

    def observation(
        self, windows: tuple[QuotaWindow, ...] = (), more: tuple[tuple[str, str], ...] = (), source: str = "none"
    ) -> Observation:
        return Observation(
            self.pid,
            self.now,
            windows,
            credential=self.credential,
            source=source,
            note="; ".join(n for n in self.notes if n),
            extra=self.extra + more,
            sources=self.sources,
            verdict=self.verdict,
            marker=self.marker,
        )


@record
class Watched:
    """A directory whose files tell a provider's quota or login (a discovery module's `watched()`); bhogad
    watches it and runs discovery when they change."""

    tag: str
    directory: Path
    names: frozenset[str] | None = None
    """File names that matter; None means every file."""
    modified: bool = False
    """In-place modifications count too (files kept open and appended)."""
    new_dirs: bool = False
    """A directory created in here counts (a new day directory)."""
    login: bool = False
    """A change here is a new login: discovery may skip its "too soon" guard."""


MAX_FILE_BYTES = 32 * 1024 * 1024
"""`.claude.json` keeps project history and reaches megabytes; anything past this is not a file we know."""

# Token shapes of every provider bhoga reads; a log line or exception text is passed through `redact`
# so a secret that slipped into a message (an echoed header, a path containing a key) never leaves.
_SECRET_PATTERNS = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]{6,}|sk-[A-Za-z0-9_\-]{12,}|eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-.]*"
    r"|gh[opsur]_[A-Za-z0-9]{8,}|github_pat_[A-Za-z0-9_]{8,}|rt_[A-Za-z0-9_\-]{8,}"
    # After "Bearer"/"token" only a secret-looking word (8+ characters with a digit, or 16+ of any), so
    # "token rejected (expired or revoked)" stays readable.
    r"|(?i:bearer|token)\s+(?=[A-Za-z_\-.=]*[0-9]|[A-Za-z0-9_\-.=]{16})[A-Za-z0-9_\-.=]{8,})"
)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def redact(text: str, *secrets: str) -> str:
    """`text` with every token-shaped substring and every given secret replaced by `***`."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return _SECRET_PATTERNS.sub("***", text)


def printable(text: str, limit: int = 300) -> str:
    """`text` as one printable line of at most `limit` characters: control characters, escape sequences and
    undecodable bytes from a server are shown escaped (`\\x1b`), never passed to a terminal or a journal."""
    out = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text[: limit * 4])
    return out if len(out) <= limit else out[: limit - 1] + "…"


@record(frozen=False)
class Collected:
    """What one provider's discovery told while `collect_failures` ran: its failure lines, and whether it skipped
    a call (the call gate refused it) with no fresh answer after, so that it has no news either way."""

    lines: list[str] = field(default_factory=list)
    unasked: bool = False


_collector = threading.local()
"""This thread's `Collected` while `collect_failures` runs (discovery runs one provider per thread at a time: a
thread-local needs no handing down through every source's helpers)."""


@contextlib.contextmanager
def collect_failures() -> Iterator[Collected]:
    """The failure lines every source reports in this thread meanwhile (`log_failure`, an unreadable file), so a
    caller who asked for discovery learns what failed, not only the log; and whether a call was skipped."""
    outer = getattr(_collector, "current", None)
    got = Collected()
    _collector.current = got
    try:
        yield got
    finally:
        _collector.current = outer


def _collect(line: str) -> None:
    got: Collected | None = getattr(_collector, "current", None)
    if got is not None and line not in got.lines:
        got.lines.append(line)


def call_skipped() -> None:
    """The call gate refused a call (minimum interval, retry-after, auth back-off): no news from that endpoint."""
    got: Collected | None = getattr(_collector, "current", None)
    if got is not None:
        got.unasked = True


def fresh_answer() -> None:
    """A source answered (the gate keeps it as the last good answer): news, whatever was skipped before it."""
    got: Collected | None = getattr(_collector, "current", None)
    if got is not None:
        got.unasked = False


def log_failure(logger: logging.Logger, what: str, exc: BaseException | str, *secrets: str) -> None:
    """Log the one warning line a failed source is allowed, with secrets removed and the text bounded; the same
    line goes to whoever collects failures (`collect_failures`)."""
    detail = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    line = f"{what}: {printable(redact(detail, *secrets))}"
    logger.warning("%s", line)
    _collect(line)


def read_bytes(path: Path, *, limit: int = MAX_FILE_BYTES) -> bytes | None:
    """The file's bytes, or None when it is missing, unreadable, not a regular file or larger than `limit`.

    A FIFO, device, socket or directory where a credential or cache file belongs is refused with one warning
    and never opened for reading in a way that could block (see `bhoga._files`).
    """
    from bhoga import _files  # noqa: PLC0415 - bhoga._files imports nothing heavy; kept beside its one use
    from bhoga.errors import NotRegularFileError  # noqa: PLC0415

    try:
        return _files.read_bounded(path, limit)
    except NotRegularFileError as e:
        _files.warn_once(logging.getLogger("bhoga.discovery"), e)
        _collect(printable(redact(str(e))))
        return None
    except OSError as e:
        if e.errno == errno.ENOENT:
            return None  # not there: the source says what that means (no login, no cache)
        # There but unreadable (permissions, a loop of symlinks): said once in the log, every time to an asker.
        line = printable(redact(f"cannot read {path}: {e.strerror or type(e).__name__}"))
        _files.warn_once(logging.getLogger("bhoga.discovery"), OSError(line))
        _collect(line)
        return None


def read_json(path: Path, *, limit: int = MAX_FILE_BYTES) -> dict[str, Any] | None:
    """A JSON object from `path`; None when the file is missing, empty, too big, not JSON or not an object."""
    data = read_bytes(path, limit=limit)
    if not data:
        return None
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


@record
class CredentialFact:
    """One read-only fact for `bhoga doctor`: what login was found for a provider, and the fix if any.

    Never holds a secret: only where a credential lives, its kind, and its state.
    """

    provider_id: str
    found: bool | None
    """True: usable credential; False: none or unusable; None: cannot tell (e.g. an OS keyring)."""
    summary: str
    fix: str = ""
