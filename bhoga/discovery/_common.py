"""Small helpers every quota source shares: lenient value parsing, time conversion, capped file reads and
secret redaction for the one log line a failure is allowed.

Nothing here raises on bad input: undocumented endpoints drift, so a wrong type is "no value", not an error.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bhoga._merge import MAX_AHEAD

__all__ = [
    "MAX_FILE_BYTES",
    "CredentialFact",
    "after",
    "age_text",
    "as_dict",
    "as_float",
    "from_epoch",
    "log_failure",
    "parse_iso",
    "printable",
    "read_bytes",
    "read_json",
    "redact",
    "retry_after_seconds",
    "utcnow",
]

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


def log_failure(logger: logging.Logger, what: str, exc: BaseException | str, *secrets: str) -> None:
    """Log the one warning line a failed source is allowed, with secrets removed and the text bounded."""
    detail = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    logger.warning("%s: %s", what, printable(redact(detail, *secrets)))


def as_dict(value: object) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty dict (nulls and wrong types read as "nothing")."""
    return value if isinstance(value, dict) else {}


def as_float(value: object) -> float | None:
    """A finite number from a JSON number or numeric string; None for null, bools and garbage."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


_LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""Dates past this come from a broken server; arithmetic on them (plus a day, the month before) overflows."""
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def _sane(dt: datetime) -> datetime | None:
    return dt if _EARLIEST <= dt <= _LATEST else None


def from_epoch(value: object, *, millis: bool = False) -> datetime | None:
    """An aware UTC datetime from epoch seconds (or milliseconds); None when absent or out of range."""
    f = as_float(value)
    if f is None or f <= 0:
        return None
    try:
        return _sane(datetime.fromtimestamp(f / 1000.0 if millis else f, UTC))
    except (OverflowError, OSError, ValueError):
        return None


def after(now: datetime, seconds: object) -> datetime | None:
    """`now` plus a number of seconds from outside, at most 31 days ahead; None when it is not a number."""
    f = as_float(seconds)
    if f is None:
        return None
    return now + timedelta(seconds=min(max(f, 0.0), MAX_AHEAD.total_seconds()))


def parse_iso(value: object) -> datetime | None:
    """An aware datetime from ISO-8601 text (`Z`, offsets, microseconds, a bare date as 00:00 UTC)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
        return _sane(dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC))
    except (ValueError, OverflowError):  # OverflowError: year 9999 with a negative offset
        return None


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `retry-after` value (delay-seconds or HTTP-date); None when unparseable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    f = as_float(text)
    if f is not None:
        return max(0.0, f)
    from email.utils import parsedate_to_datetime  # noqa: PLC0415 - rare: only an HTTP-date retry-after

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


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
        return None
    except OSError:
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


def age_text(delta: timedelta) -> str:
    """A short human age: "42s", "7m", "3h", "8d"."""
    s = max(0, int(delta.total_seconds()))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


@dataclass(frozen=True, slots=True)
class CredentialFact:
    """One read-only fact for `bhoga doctor`: what login was found for a provider, and the fix if any.

    Never holds a secret: only where a credential lives, its kind, and its state.
    """

    provider_id: str
    found: bool | None
    """True: usable credential; False: none or unusable; None: cannot tell (e.g. an OS keyring)."""
    summary: str
    fix: str = ""
