"""Turn HTTP response headers into observations (pure: no I/O, no threads; `now` is a parameter).

Formats (FORMATS.md §0, §4): Anthropic API-key buckets (RFC 3339 resets), `anthropic-ratelimit-unified-*`
(utilization a FRACTION, resets in epoch seconds), OpenAI `x-ratelimit-*` (Go durations such as `6m0s`),
OpenRouter (epoch-millisecond reset), `x-codex-*` (windows matched by length, not slot) and `retry-after`
(seconds or an HTTP-date).

Per-minute buckets of metered APIs say whether a request fits now, so they only ever produce a throttle, never a
window that could be ranked against a subscription's. Every value may be missing, empty, garbage, negative or
NaN: such a value is ignored and nothing here raises.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from bhoga._merge import MAX_AHEAD
from bhoga._model import ANY_MODEL, Observation, QuotaWindow, window_name
from bhoga._provider_entry import Kind
from bhoga._providers import PROVIDERS
from bhoga._values import as_amount, clamp_throttle, from_epoch, later, parse_iso, retry_after_seconds

__all__ = [
    "RATE_LIMIT_HEADER_PREFIXES",
    "calibrate",
    "filter_headers",
    "mark_throttled",
    "parse_go_duration",
    "parse_retry_after",
]

# Annotations only: importing `typing` at run time would cost `import bhoga` two milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RATE_LIMIT_HEADER_PREFIXES = ("anthropic-ratelimit-", "x-ratelimit-", "x-codex-", "ratelimit-")
_EXACT_NAMES = frozenset({"retry-after", "retry-after-ms", "x-should-retry"})
_MAX_VALUE = 256
_MAX_HEADERS = 128
# A 429 without any hint: wait this long before trying the provider again.
DEFAULT_BACKOFF = timedelta(seconds=60)

_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|h|m|s)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_CODEX = re.compile(r"^x-codex-(?:(?P<family>[a-z0-9-]+?)-)?(?P<slot>primary|secondary)-used-percent$")
# Unified windows: header slot → (window name, scope, length in minutes).
_UNIFIED = (
    ("5h", "burst", ANY_MODEL, 300),
    ("7d", "weekly", ANY_MODEL, 10080),
    ("7d-sonnet", "weekly", "sonnet", 10080),
    ("7d_sonnet", "weekly", "sonnet", 10080),
    ("7d-opus", "weekly", "opus", 10080),
    ("7d_opus", "weekly", "opus", 10080),
)


def filter_headers(headers: object) -> dict[str, str]:
    """Keep only rate-limit headers, names lowercased: never an authorization header, cookie or key.

    Accepts a mapping, an iterable of (name, value) pairs or an object with `.items()`; anything else gives {}.
    """
    out: dict[str, str] = {}
    try:
        items: Any = headers.items() if hasattr(headers, "items") else headers
        for item in items:
            if len(out) >= _MAX_HEADERS:
                break
            name, value = item
            if not isinstance(name, str | bytes) or not isinstance(value, str | bytes | int | float):
                continue
            key = (name.decode("latin-1") if isinstance(name, bytes) else name).strip().lower()
            if key in _EXACT_NAMES or key.startswith(RATE_LIMIT_HEADER_PREFIXES):
                text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                out[key] = text.strip()[:_MAX_VALUE]
    except Exception:  # a caller's odd header object must never break a turn
        return out
    return out


def _reset(value: str | None) -> datetime | None:
    """A reset in epoch seconds, or milliseconds (OpenRouter): told apart by size."""
    return from_epoch(value, millis=None)


def parse_go_duration(value: str | None) -> float | None:
    """Seconds in a Go duration such as `6m0s`, `1m19.2s`, `12ms` or `0`; None when it is not one."""
    if not value:
        return None
    text = value.strip()
    if text == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(text):
        m = _GO_PART.match(text, pos)
        if m is None:
            return None
        total += float(m.group(1)) * _GO_UNITS[m.group(2)]
        pos = m.end()
    return total if pos and math.isfinite(total) else None


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """When `retry-after` (delay-seconds or an HTTP-date) says to try again; None when it says nothing."""
    seconds = retry_after_seconds(value, now)
    return None if seconds is None else clamp_throttle(later(now, seconds), now)


def _unified_windows(h: Mapping[str, str], now: datetime) -> tuple[list[QuotaWindow], datetime | None]:
    windows: list[QuotaWindow] = []
    rejected_until: datetime | None = None
    for slot, name, scope, minutes in _UNIFIED:
        prefix = f"anthropic-ratelimit-unified-{slot}-"
        util = as_amount(h.get(prefix + "utilization"))
        reset = _reset(h.get(prefix + "reset"))
        if util is not None:
            pct = min(util * 100.0, 100.0)
            windows.append(QuotaWindow(name, pct, reset, minutes, scope, now, "header"))
        if h.get(prefix + "status", "").lower() == "rejected":
            until = reset or now + DEFAULT_BACKOFF
            rejected_until = until if rejected_until is None else min(rejected_until, until)
    if h.get("anthropic-ratelimit-unified-status", "").lower() == "rejected" and rejected_until is None:
        rejected_until = _reset(h.get("anthropic-ratelimit-unified-reset")) or now + DEFAULT_BACKOFF
    return windows, rejected_until


def _codex_windows(h: Mapping[str, str], now: datetime) -> list[QuotaWindow]:
    windows: list[QuotaWindow] = []
    for key, value in h.items():
        m = _CODEX.match(key)
        if m is None:
            continue
        pct = as_amount(value)
        base = key.removesuffix("used-percent")
        minutes = as_amount(h.get(base + "window-minutes"))
        if pct is None or not minutes:
            continue  # a window of length 0 is an empty slot
        reset = _reset(h.get(base + "reset-at"))
        if reset is None and (seconds := as_amount(h.get(base + "reset-after-seconds"))):
            reset = later(now, seconds)
        scope = ANY_MODEL
        if family := m.group("family"):
            scope = (h.get(f"x-codex-{family}-limit-name") or family).strip().lower() or family
        windows.append(
            QuotaWindow(window_name(int(minutes)), min(pct, 100.0), reset, int(minutes), scope, now, "header")
        )
    return windows


def _bucket_throttle(h: Mapping[str, str], now: datetime) -> datetime | None:
    """The end of an exhausted per-minute bucket (Anthropic API key, OpenAI, OpenRouter), if any."""
    ends: list[datetime] = []
    for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
        if as_amount(h.get(f"anthropic-ratelimit-{kind}-remaining")) == 0:
            ends.append(parse_iso(h.get(f"anthropic-ratelimit-{kind}-reset")) or now + DEFAULT_BACKOFF)
    for kind in ("requests", "tokens"):
        if as_amount(h.get(f"x-ratelimit-remaining-{kind}")) == 0:
            secs = parse_go_duration(h.get(f"x-ratelimit-reset-{kind}"))
            ends.append(later(now, secs) if secs is not None else now + DEFAULT_BACKOFF)
    if as_amount(h.get("x-ratelimit-remaining")) == 0:  # OpenRouter: epoch milliseconds
        ends.append(_reset(h.get("x-ratelimit-reset")) or now + DEFAULT_BACKOFF)
    return max(ends) if ends else None


def _throttle_end(
    h: Mapping[str, str], windows: list[QuotaWindow], now: datetime, body: datetime | None = None
) -> datetime:
    """Precedence (FORMATS.md §4.5): retry-after, then the reset of a full window, then an exhausted bucket,
    then the end the error body names, then a default back-off."""
    if (until := parse_retry_after(h.get("retry-after"), now)) is not None:
        return until
    if ms := as_amount(h.get("retry-after-ms")):
        return clamp_throttle(later(now, ms / 1000.0), now)
    full = [w.resets_at for w in windows if w.pct_used >= 100.0 and w.resets_at and w.resets_at > now]
    if full:
        return clamp_throttle(min(full), now)
    return clamp_throttle(_bucket_throttle(h, now) or body or now + DEFAULT_BACKOFF, now)


def calibrate(
    pid: str, headers: object, *, status_code: int = 200, now: datetime | None = None, error: str | None = None
) -> Observation:
    """What one response's headers (and, for a failed call, its error text) say about provider `pid`.

    Subscriptions get their windows (unified or `x-codex-*`); metered APIs only a throttle when a bucket is
    empty or the status is 429. A 2xx answer proves the credential works and ends an earlier throttle. An error
    body that names a limit (Codex `usage_limit_reached`, Anthropic `rate_limit_error`, OpenAI
    `insufficient_quota`, ...) throttles like a 429 with the same headers would, whatever the status code.
    """
    now = now or datetime.now(UTC)
    h = filter_headers(headers)
    ok = 200 <= status_code < 300
    hint = None
    if error and not ok:
        from bhoga._errorbody import BUDGET_BACKOFF, read_error  # noqa: PLC0415 - failed calls only

        hint = read_error(error, now)
        if hint.headers:  # OpenRouter repeats its rate-limit headers in the body: the real ones win
            h = {**filter_headers(hint.headers), **h}
    sub = pid in PROVIDERS and PROVIDERS[pid].kind is Kind.SUBSCRIPTION
    windows: list[QuotaWindow] = []
    throttled: datetime | None = None
    if sub:
        windows, throttled = _unified_windows(h, now)
        windows += _codex_windows(h, now)
    body_until = None
    if hint is not None and hint.limited:
        body_until = now + BUDGET_BACKOFF if hint.budget else hint.until
    if status_code == 429 or (status_code in (503, 529) and "retry-after" in h) or (hint and hint.limited):
        throttled = _throttle_end(h, windows, now, body_until)
    elif throttled is None:
        throttled = _bucket_throttle(h, now)
    if throttled is not None:
        # A unified `rejected` reset or a 200 with an empty bucket is as much from outside as a retry-after.
        throttled = min(throttled, now + MAX_AHEAD)
    return Observation(
        provider_id=pid,
        at=now,
        windows=tuple(windows),
        throttled_until=throttled,
        # A 429 (or a 402: a spent budget) is an authenticated answer too. A 401/403 says the credential is
        # rejected, not that it is gone: it stays rejected until its file or variable changes (DESIGN §8.1).
        credential=True if ok or status_code in (402, 429) else None,
        succeeded=ok and throttled is None,
        source="header",
        note=f"{status_code}: the credential was rejected" if status_code in (401, 403) else "",
        verdict="verified" if ok or status_code in (402, 429) else ("rejected" if status_code in (401, 403) else ""),
    )


def mark_throttled(pid: str, headers: object = None, *, now: datetime | None = None) -> Observation:
    """A throttle for `pid` as a 429 with these headers would set it (retry-after, reset, or a default)."""
    now = now or datetime.now(UTC)
    h = filter_headers(headers or {})
    windows = _unified_windows(h, now)[0] + _codex_windows(h, now)
    return Observation(provider_id=pid, at=now, throttled_until=_throttle_end(h, windows, now), source="header")
