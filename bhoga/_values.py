"""Values from outside, read leniently, and time spans and windows named for people (pure: no I/O, no clock).

Endpoints drift, headers get garbled and error bodies are free text, so nothing here raises on bad input: a
wrong type, NaN, infinity or a date out of range is "no value", and only that value is lost (DESIGN §8.4).
Discovery, header calibration and error bodies all read numbers and times through this module, and every
command, log line and routing reason prints durations and window names through it, so "2h 5m" and "monthly"
read the same everywhere.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from bhoga._merge import MAX_AHEAD

# Annotations only: importing `typing` at run time would cost `import bhoga` two milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "after",
    "as_amount",
    "as_dict",
    "as_float",
    "clamp_throttle",
    "from_epoch",
    "human_duration",
    "later",
    "parse_iso",
    "parse_time",
    "retry_after_seconds",
    "stored_time",
    "window_label",
]

_MIN_THROTTLE = timedelta(seconds=1)
""""retry-after: 0" still deserves a short pause."""
_EPOCH_MILLIS = 1e11
"""Epoch numbers above this are milliseconds (OpenRouter, Claude Code's limit line): as seconds it is year 5138."""
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""Dates past this come from a broken server; arithmetic on them (plus a day, the month before) overflows."""


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
    return f if math.isfinite(f) else None


def as_amount(value: object) -> float | None:
    """A finite number that is not negative (a percentage, a count, seconds to wait); None otherwise."""
    f = as_float(value)
    return f if f is not None and f >= 0 else None


def _sane(dt: datetime) -> datetime | None:
    return dt if _EARLIEST <= dt <= _LATEST else None


def from_epoch(value: object, *, millis: bool | None = False) -> datetime | None:
    """An aware UTC datetime from epoch seconds (`millis=True`: milliseconds; None: told apart by size);
    None when absent, zero, negative or out of range."""
    f = as_float(value)
    if f is None or f <= 0:
        return None
    if millis or (millis is None and f > _EPOCH_MILLIS):
        f /= 1000.0
    try:
        return _sane(datetime.fromtimestamp(f, UTC))
    except (OverflowError, OSError, ValueError):
        return None


def parse_iso(value: object) -> datetime | None:
    """An aware UTC datetime from ISO-8601 text (`Z`, offsets, microseconds, a bare date as 00:00 UTC)."""
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


def stored_time(value: object) -> datetime | None:
    """A time bhoga wrote itself (ISO-8601 with its offset, as `datetime.isoformat` gives it); None for anything
    else, a time without an offset included: a file of bhoga's with one has been edited, and it is not guessed at."""
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo else None


def parse_time(value: object) -> datetime | None:
    """A time given either way servers give one: an epoch number (seconds or milliseconds) or ISO-8601 text."""
    return from_epoch(value, millis=None) if as_float(value) is not None else parse_iso(value)


def later(now: datetime, seconds: float) -> datetime:
    """`now` plus `seconds`, never before `now` and at most 31 days ahead."""
    return now + timedelta(seconds=min(max(seconds, 0.0), MAX_AHEAD.total_seconds()))


def after(now: datetime, seconds: object) -> datetime | None:
    """`now` plus a number of seconds from outside, at most 31 days ahead; None when it is not a number."""
    f = as_float(seconds)
    return None if f is None else later(now, f)


def clamp_throttle(until: datetime, now: datetime) -> datetime:
    """A throttle end from outside, at least a second and at most 31 days from `now`."""
    return min(max(until, now + _MIN_THROTTLE), now + MAX_AHEAD)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `retry-after` value (delay-seconds or HTTP-date); None when it says nothing
    usable (absent, garbage, or a negative number)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if as_float(text) is not None:
        return as_amount(text)
    from email.utils import parsedate_to_datetime  # noqa: PLC0415 - rare: only an HTTP-date retry-after

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def human_duration(span: float | timedelta) -> str:
    """A time span as people say it, its two largest units with a zero second one left out: "45s", "10m",
    "2h", "2h 5m", "3d", "3d 4h" (`span` in seconds or a timedelta). Every duration bhoga prints (status,
    reasons, notes, logs) reads this way."""
    s = max(0, int(span.total_seconds() if isinstance(span, timedelta) else span))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    big, small, units = (s // 3600, s // 60 % 60, "hm") if s < 86400 else (s // 86400, s // 3600 % 24, "dh")
    return f"{big}{units[0]} {small}{units[1]}" if small else f"{big}{units[0]}"


_SHORT = {"burst": "5h", "weekly": "7d", "monthly": "monthly", "budget": "budget", "budget_weekly": "budget 7d"}
_LONG = {
    "burst": "5-hour window",
    "weekly": "weekly window",
    "monthly": "monthly window",
    "budget": "budget",
    "budget_weekly": "weekly budget",
}


def window_label(name: str, scope: str = "*", *, long: bool = False) -> str:
    """A window's name as people know it: "5h", "7d", "7d opus", "monthly", "budget 7d" (`long`: "5-hour
    window", "weekly window (opus)" for chart titles). An unknown name is shown as it is."""
    base = (_LONG if long else _SHORT).get(name, name)
    if scope in ("*", ""):
        return base
    return f"{base} ({scope})" if long else f"{base} {scope}"
