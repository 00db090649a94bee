"""Forecast math: burn rate and runs-out time per window, unknown when the evidence is thin."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import assume, example, given
from hypothesis import strategies as st

from bhoga._history import Point
from bhoga._model import ProviderQuota, QuotaWindow
from bhoga._pace import UNKNOWN, current_cycle, forecast, lookback, paces
from tests.strategies import NOW


def _line(rate: float, n: int, step_min: float, start: float = 10.0, resets_h: float = 3.0) -> list[Point]:
    resets = NOW + timedelta(hours=resets_h)
    return [
        Point(NOW - timedelta(minutes=step_min * (n - 1 - i)), start + rate * step_min * i / 60, resets)
        for i in range(n)
    ]


def test_hand_checked_example() -> None:
    """10 → 30 % over one hour is 20 %/h; 70 points left run out in 3.5 h, after a reset in 3 h: None."""
    pts = _line(20, 5, 15)
    p = forecast(pts, NOW, window_min=300)
    assert p.pct_per_hour == 20.0
    assert p.runs_out_at is None
    assert p.pct_at_reset == 90.0
    p = forecast(pts, NOW, window_min=300, resets_at=NOW + timedelta(hours=5))
    assert p.runs_out_at == NOW + timedelta(hours=3.5)


def test_too_few_points_or_too_short_a_span_is_unknown() -> None:
    """Two points, or three points within five minutes, or no points say nothing about the rate."""
    assert forecast([], NOW) == UNKNOWN
    assert forecast(_line(20, 2, 30), NOW, window_min=300).pct_per_hour is None
    assert forecast(_line(20, 3, 2), NOW, window_min=300).pct_per_hour is None


def test_stale_history_is_unknown() -> None:
    """A newest point older than the look-back says nothing about now."""
    pts = _line(20, 5, 15)
    assert forecast(pts, NOW + lookback(300) + timedelta(minutes=1), window_min=300).pct_per_hour is None


def test_a_passed_reset_is_unknown() -> None:
    """Once the window has reset it is full again and its old rate does not apply."""
    assert forecast(_line(20, 5, 15, resets_h=0), NOW) == UNKNOWN


def test_only_points_after_a_reset_count() -> None:
    """A reset between points (usage falls, reset time moves) starts the cycle over."""
    old = [Point(NOW - timedelta(hours=2, minutes=m), 80.0 + m / 10, NOW - timedelta(hours=1)) for m in (30, 20, 10)]
    new = _line(6, 4, 10, start=1.0)
    assert current_cycle(old + new) == new
    assert forecast(old + new, NOW, window_min=300).pct_per_hour == 6.0


def test_reset_jitter_is_not_a_reset() -> None:
    """Reset times that move by seconds (Codex's resets_in_seconds) are the same cycle."""
    pts = [Point(p.at, p.pct_used, p.resets_at + timedelta(seconds=i * 7)) for i, p in enumerate(_line(12, 4, 10))]
    assert current_cycle(pts) == pts


def test_exhausted_ran_out_at_its_newest_point() -> None:
    """A window at 100 % ran out when it was last seen so."""
    pts = _line(15, 4, 10, start=91.0)
    pts[-1] = Point(pts[-1].at, 100.0, pts[-1].resets_at)
    assert forecast(pts, NOW, window_min=300).runs_out_at == pts[-1].at


def test_paces_use_the_current_value_as_newest_point() -> None:
    """A window's current observation extends its history."""
    pts = _line(20, 3, 15)
    w = QuotaWindow("burst", 25.0, pts[0].resets_at, 300, "*", NOW + timedelta(minutes=15), "header")
    got = paces([ProviderQuota("claude_code", windows=(w,))], {("claude_code", "burst"): pts}, NOW)
    assert got[("claude_code", "burst")].pct_per_hour == 20.0
    assert got[("claude_code", "burst")].points == 4


@given(
    rate=st.floats(min_value=0.5, max_value=200),
    n=st.integers(min_value=3, max_value=40),
    step=st.floats(min_value=5, max_value=30),
    start=st.floats(min_value=0, max_value=50),
    resets_h=st.floats(min_value=0.1, max_value=200),
)
def test_linear_use_gives_its_rate_back(rate: float, n: int, step: float, start: float, resets_h: float) -> None:
    """On a straight line the rate is the slope, and runs_out_at is where the line meets 100 % before the reset."""
    pts = _line(rate, n, step, start, resets_h)
    assume(pts[-1].pct_used <= 100)
    p = forecast(pts, NOW, window_min=300)
    if p.pct_per_hour is None:
        back = lookback(300)
        recent = [q for q in pts if q.at >= pts[-1].at - back]
        assert len(recent) < 3 or recent[-1].at - recent[0].at < max(timedelta(minutes=10), back / 6)
        return
    assert abs(p.pct_per_hour - rate) <= 1e-3 * rate + 1e-3
    last = pts[-1]
    out = last.at + timedelta(hours=(100 - last.pct_used) / rate)
    resets = NOW + timedelta(hours=resets_h)
    slack = timedelta(seconds=1e-3 * (out - last.at).total_seconds() + 2)
    if out < resets - slack:
        assert p.runs_out_at is not None
        assert abs((p.runs_out_at - out).total_seconds()) <= 1e-3 * (out - last.at).total_seconds() + 2
    elif out > resets + slack:
        assert p.runs_out_at is None


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-86400, max_value=0),
            st.floats(min_value=0, max_value=100),
            st.none() | st.integers(min_value=-3600, max_value=86400),
        ),
        max_size=30,
    )
)
@example([(0, 2.220446049250313e-16, None), (-1, 0.0, None), (-14400, 0.0, None)])  # a rate of ~0: overflowed
def test_forecast_never_raises_and_never_negative(raw: list[tuple[int, float, int | None]]) -> None:
    """Any history yields a Pace with a rate that is None or ≥ 0, and a runs-out time not before the data."""
    pts = sorted(
        (Point(NOW + timedelta(seconds=t), u, None if r is None else NOW + timedelta(seconds=r)) for t, u, r in raw),
        key=lambda p: p.at,
    )
    p = forecast(pts, NOW, window_min=10080)
    assert p.pct_per_hour is None or p.pct_per_hour >= 0
    if p.runs_out_at is not None:
        assert p.runs_out_at >= pts[0].at
