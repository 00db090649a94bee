"""What a provider's error body says about a limit (pure: no I/O, no clock; `now` is a parameter).

Harnesses often see only the error text, not the response headers: Hermes' `api_request_error` hook gets
`str(exception)`, which the OpenAI and Anthropic SDKs render as `Error code: 429 - {...}` with the body as a
Python literal, not JSON. So the body is read as JSON or as a Python literal, whichever parses, and the limit
signals the providers put in it become a throttle end:

- Codex `usage_limit_reached` with `resets_at` (epoch seconds or ISO time) / `resets_in_seconds`;
- Anthropic `rate_limit_error` (no time in the body: headers or a default back-off), and Claude Code's own
  `Claude AI usage limit reached|<epoch>` line;
- OpenAI `insufficient_quota` and OpenRouter's 402 `Insufficient credits`: a budget, not a window, is spent;
- OpenRouter 429 with `metadata.headers` (`X-RateLimit-Reset` in epoch milliseconds): those are headers;
- Copilot `rate_limited` / `user_weekly_rate_limited` ("try again in 58 hours", "wait 2 minutes",
  "reset on April 20, 2026 at 2:00 AM") and `quota_exceeded` (monthly premium requests, reset on the 1st).

Sources for every shape are in tests/data/errors/README.md. Nothing here raises on any input.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from bhoga._record import field, record
from bhoga._values import after, as_amount, clamp_throttle, parse_time

__all__ = ["BUDGET_BACKOFF", "ErrorHint", "read_error"]

MAX_ERROR = 4096
# No reset is known for a spent budget: look again after a day (a later success ends the throttle sooner).
BUDGET_BACKOFF = timedelta(hours=24)

_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hr": 3600, "hour": 3600,
          "d": 86400, "day": 86400}  # fmt: skip
_IN = re.compile(
    r"(?:try again in|retry in|retry after|wait|resets? in|available in)\s+"
    r"((?:\d+(?:\.\d+)?\s*(?:seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)\b[\s,and]*)+)",
    re.I,
)
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(second|sec|s|minute|min|m|hour|hr|h|day|d)", re.I)
_CLAUDE_PIPE = re.compile(r"usage limit reached\|(\d{9,13})", re.I)
_RESET_ON = re.compile(r"reset (?:on|at) ([A-Z][a-z]+ \d{1,2}, \d{4})(?: at (\d{1,2}):(\d{2})\s*([AP]M))?", re.I)
_LIMIT_WORDS = re.compile(r"rate.?limit|usage limit|quota|too many requests|insufficient credits", re.I)
_RATE_CODES = frozenset({"rate_limit_error", "rate_limited", "rate_limit_exceeded", "user_weekly_rate_limited",
                         "user_global_rate_limited", "too_many_requests", "429"})  # fmt: skip
_BUDGET_CODES = frozenset({"insufficient_quota", "insufficient_credits", "billing_hard_limit_reached",
                           "credits_exhausted"})  # fmt: skip


@record
class ErrorHint:
    """What one error text said. `limited` is True when it names a rate, usage or budget limit at all."""

    limited: bool = False
    until: datetime | None = None
    """The end of the limit when the text gives one (already capped to 31 days)."""
    budget: bool = False
    """A spent budget (no reset of its own): callers throttle for `BUDGET_BACKOFF`."""
    headers: dict[str, str] = field(default_factory=dict)
    """Rate-limit headers the body carries (OpenRouter's `metadata.headers`), names lowercased."""
    kind: str = ""
    """The provider's own error type or code, for logs (`usage_limit_reached`, `rate_limit_error`, ...)."""


_NONE = ErrorHint()


def _body(text: str) -> dict[str, object] | None:
    """The first JSON object (or Python dict literal) in `text`."""
    start = text.find("{")
    while 0 <= start < len(text):
        try:
            obj, _ = json.JSONDecoder().raw_decode(text, start)
        except ValueError:
            obj = _literal(text, start)
        if isinstance(obj, dict):
            return obj
        start = text.find("{", start + 1)
    return None


def _literal(text: str, start: int) -> object:
    end = text.rfind("}")
    if end <= start:
        return None
    import ast  # noqa: PLC0415 - only for the SDKs' Python-literal rendering of a body

    try:
        return ast.literal_eval(text[start : end + 1])
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _duration_in(text: str) -> float | None:
    m = _IN.search(text)
    if m is None:
        return None
    total = 0.0
    for n, unit in _PART.findall(m.group(1)):
        u = unit.lower()
        total += float(n) * _UNITS.get(u, _UNITS.get(u[:1], 0))
    return total or None


def _reset_on(text: str) -> datetime | None:
    m = _RESET_ON.search(text)
    if m is None:
        return None
    try:
        day = datetime.strptime(m.group(1), "%B %d, %Y")
    except ValueError:
        return None
    hour, minute = 0, 0
    if m.group(2):
        hour, minute = int(m.group(2)) % 12, int(m.group(3))
        if m.group(4).upper() == "PM":
            hour += 12
    # The message names no zone; UTC is as good a guess as any and errs by hours, not days.
    return day.replace(hour=hour, minute=minute, tzinfo=UTC)


def _next_month(now: datetime) -> datetime:
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)


def _text_until(text: str, now: datetime) -> datetime | None:
    if m := _CLAUDE_PIPE.search(text):
        return parse_time(m.group(1))
    return after(now, _duration_in(text)) or _reset_on(text)


def _headers(meta: object) -> dict[str, str]:
    if not isinstance(meta, dict):
        return {}
    raw = meta.get("headers")
    if not isinstance(raw, dict):
        return {}
    return {str(k).lower(): str(v) for k, v in raw.items() if isinstance(k, str) and isinstance(v, str | int | float)}


def read_error(error: str | None, now: datetime) -> ErrorHint:
    """What `error` (a message or response body, possibly inside other text) says about a limit."""
    if not error:
        return _NONE
    try:
        return _read(error[:MAX_ERROR], now)
    except Exception:  # hostile text must never break a turn
        return _NONE


def _read(text: str, now: datetime) -> ErrorHint:
    body = _body(text)
    err: dict[str, object] = {}
    if body is not None:
        inner = body.get("error")
        err = inner if isinstance(inner, dict) else body
    kind = ""
    for key in ("type", "code", "error_type"):
        value = err.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).lower() not in ("error", ""):
            kind = str(value).lower()
            break
    kinds = {str(err.get(k, "")).lower() for k in ("type", "code", "error_type")}
    message = err.get("message")
    words = f"{message if isinstance(message, str) else ''} {text}"
    if "usage_limit_reached" in kinds:
        until = parse_time(err.get("resets_at")) or after(now, as_amount(err.get("resets_in_seconds")))
        until = until or _text_until(words, now)
        return ErrorHint(True, until and clamp_throttle(until, now), kind="usage_limit_reached")
    if kinds & _BUDGET_CODES or (err.get("code") == 402 or "402" in kinds) or "insufficient credits" in words.lower():
        return ErrorHint(True, None, budget=True, kind=kind or "insufficient_credits")
    headers = _headers(err.get("metadata"))
    if kinds & _RATE_CODES or "quota_exceeded" in kinds or headers or _LIMIT_WORDS.search(words):
        until = _text_until(words, now)
        if until is None and "quota_exceeded" in kinds:
            until = _next_month(now)  # Copilot's premium requests reset on the 1st of the month, 00:00 UTC
        return ErrorHint(True, until and clamp_throttle(until, now), headers=headers, kind=kind or "rate_limit")
    return _NONE
