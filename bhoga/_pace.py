"""Pace: how fast a window is being used and when it runs out at that rate (pure: no I/O, no clock).

API (other modules build on it; keep it small and stable):

- `Pace(pct_per_hour, runs_out_at, pct_at_reset, points, span_s)`; `UNKNOWN` is the answer when nothing honest
  can be said.
- `forecast(points, now, *, resets_at=None, window_min=0)` → `Pace` for one window from its history points
  (`bhoga._history.Point`, oldest first). `resets_at` defaults to the newest point's.
- `paces(quotas, history, now)` → `{(pid, window_key): Pace}` for every window of `quotas`, the current value
  of each window counting as its newest point.

Method, chosen to be checkable by hand rather than clever:

1. Only the current cycle counts: the points after the last reset seen between two points (the reset time moved
   by more than `RESET_TOLERANCE`, or usage fell by more than half a point).
2. Of those, the points within the look-back (a quarter of the window's length, between 30 min and 24 h; 2 h
   when the length is unknown) before the newest point.
3. The rate is the usage gained between the first and the last of them, per hour; a window giving quota back
   counts as 0. It is unknown with fewer than `MIN_POINTS` points, a span shorter than a sixth of the look-back
   (at least 10 min), a newest point older than the look-back, or a reset that has already passed.
4. At that rate the window runs out `(100 - used) / rate` hours after the newest point; `runs_out_at` is None
   when that is not before the reset (or the rate is 0). A window already at 100 % ran out at its newest point.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from bhoga._history import Point
from bhoga._model import ProviderQuota
from bhoga._record import record

__all__ = ["MIN_POINTS", "RESET_TOLERANCE", "UNKNOWN", "Pace", "current_cycle", "forecast", "lookback", "paces"]

MIN_POINTS = 3
_HORIZON_H = 24.0 * 366  # no window bhoga knows is longer than a year
RESET_TOLERANCE = timedelta(minutes=10)
"""Reset times that move less than this are the same reset (Codex sends seconds-until-reset, which jitters)."""
_MIN_SPAN = timedelta(minutes=10)


@record
class Pace:
    """A window's burn rate and what it means.

    Attributes:
        pct_per_hour: points of the window used per hour recently; None when unknown.
        runs_out_at: when the window reaches 100 % at that rate, if that is before its reset; else None.
        pct_at_reset: the usage projected at the reset (may exceed 100); None when the rate or reset is unknown.
        points: how many observations the rate rests on.
        span_s: the seconds those observations cover.
    """

    pct_per_hour: float | None
    runs_out_at: datetime | None = None
    pct_at_reset: float | None = None
    points: int = 0
    span_s: float = 0.0


UNKNOWN = Pace(None)


def lookback(window_min: int) -> timedelta:
    """How far back the rate looks: a quarter of the window, between 30 min and 24 h; 2 h when unknown."""
    if window_min <= 0:
        return timedelta(hours=2)
    return min(max(timedelta(minutes=window_min / 4), timedelta(minutes=30)), timedelta(hours=24))


def _is_reset(a: Point, b: Point) -> bool:
    if b.pct_used < a.pct_used - 0.5:
        return True
    if (a.resets_at is None) != (b.resets_at is None):
        return False  # one source knows the reset and another does not: no evidence of a new cycle
    return a.resets_at is not None and b.resets_at is not None and abs(b.resets_at - a.resets_at) > RESET_TOLERANCE


def current_cycle(points: Sequence[Point]) -> Sequence[Point]:
    """The points after the last reset that happened between two of them."""
    start = 0
    for i in range(1, len(points)):
        if _is_reset(points[i - 1], points[i]):
            start = i
    return points[start:]


def forecast(points: Sequence[Point], now: datetime, *, resets_at: datetime | None = None, window_min: int = 0) -> Pace:
    """The pace of one window from its points (oldest first); see the module docstring for the method."""
    if not points:
        return UNKNOWN
    last = points[-1]
    resets = resets_at if resets_at is not None else last.resets_at
    if resets is not None and resets <= now:
        return UNKNOWN  # the window is full again; its new cycle has no points yet
    back = lookback(window_min)
    # Walk back from the newest point to the look-back or the last reset, whichever comes first: the cost is
    # bounded by the look-back however long the history is.
    start = len(points) - 1
    while start > 0 and points[start - 1].at >= last.at - back and not _is_reset(points[start - 1], points[start]):
        start -= 1
    recent = points[start:]
    first = recent[0]
    span = last.at - first.at
    if len(recent) < MIN_POINTS or span < max(_MIN_SPAN, back / 6) or now - last.at > back:
        out_now = last.at if last.pct_used >= 100.0 else None  # no rate needed to know it ran out
        return Pace(None, out_now, points=len(recent), span_s=span.total_seconds())
    hours = span.total_seconds() / 3600
    rate = max(0.0, (last.pct_used - first.pct_used) / hours)
    at_reset = None
    if resets is not None:
        at_reset = last.pct_used + rate * (resets - last.at).total_seconds() / 3600
    runs_out: datetime | None = None
    if last.pct_used >= 100.0:
        runs_out = last.at
    elif rate > 0 and (hours_left := (100.0 - last.pct_used) / rate) < _HORIZON_H:
        # A near-zero rate puts "runs out" beyond any datetime; past the horizon it simply does not run out.
        out = last.at + timedelta(hours=hours_left)
        if resets is None or out < resets:
            runs_out = out
    return Pace(round(rate, 4), runs_out, at_reset, len(recent), span.total_seconds())


def paces(
    quotas: Iterable[ProviderQuota], history: Mapping[tuple[str, str], Sequence[Point]], now: datetime
) -> dict[tuple[str, str], Pace]:
    """The pace of every window of `quotas`; a window's current value is its newest point."""
    out: dict[tuple[str, str], Pace] = {}
    for q in quotas:
        for w in q.windows:
            k = (q.provider_id, w.key)
            pts = list(history.get(k, ()))
            if w.observed_at is not None and (not pts or w.observed_at > pts[-1].at):
                pts.append(Point(w.observed_at, w.pct_used, w.resets_at))
            out[k] = forecast(pts, now, resets_at=w.resets_at, window_min=w.window_min)
    return out
