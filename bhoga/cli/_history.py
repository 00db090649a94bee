"""`bhoga history`: each window's usage over time as a terminal chart, with bhogad's flips marked.

The chart is pure text: one small block chart per window (percent used, 0-100 %, six rows of eighth-blocks, so
48 levels), time running left to right over the last N days, and a row of ▲ under the moments bhogad moved
Hermes to another provider. A window's value is carried forward between observations and drops to 0 at its
recorded reset, so a reset reads as the cliff it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from bhoga._flips import Flip
from bhoga._history import Point
from bhoga._providers import PROVIDERS
from bhoga._values import human_duration, window_label
from bhoga.cli._term import Style

__all__ = ["Sample", "history_json", "render_history", "series_value"]

_ROWS = 6
_AXIS = 5  # "100%" plus the axis line
_EIGHTHS = " ▁▂▃▄▅▆▇█"
_ASCII = " .:-=+*#@"


Sample = Point
"""One observation of a window (the history's own record)."""


def series_value(samples: Sequence[Sample], start: datetime, end: datetime) -> float | None:
    """The usage to draw for the time slot [start, end): the highest reading in it, else the last reading before
    it carried forward (0 once that reading's reset has passed); None before the first reading."""
    inside = [s.pct_used for s in samples if start <= s.at < end]
    if inside:
        return max(inside)
    before = [s for s in samples if s.at < start]
    if not before:
        return None
    last = before[-1]
    if last.resets_at is not None and last.resets_at <= start:
        return 0.0
    return last.pct_used


def _cell(value: float | None, row: int, glyphs: str) -> str:
    """The glyph for `row` (0 = bottom) of a column showing `value` percent."""
    if value is None:
        return " "
    eighths = round(max(0.0, min(100.0, value)) / 100 * _ROWS * 8)
    filled = eighths - row * 8
    return glyphs[max(0, min(8, filled))]


def _colour(value: float | None) -> str:
    if value is None:
        return ""
    return "red" if value >= 90 else "yellow" if value >= 60 else "green"


def _title(pid: str, key: str) -> str:
    name, _, scope = key.partition("@")
    return f"{pid} · {window_label(name, scope, long=True)}"


def _x_axis(start: datetime, span: timedelta, cols: int) -> str:
    """Tick labels under the chart: how long ago each tick is, "now" at the right end."""
    ticks = 4 if cols >= 40 else 2
    line = [" "] * cols
    for i in range(ticks + 1):
        col = min(cols - 1, round(i * (cols - 1) / ticks))
        ago = span * (1 - i / ticks)
        text = "now" if i == ticks else _ago(ago)
        pos = max(0, min(cols - len(text), col - (len(text) if i == ticks else len(text) // 2)))
        if i == ticks:
            pos = cols - len(text)
        for j, ch in enumerate(text):
            line[pos + j] = ch
    return "".join(line)


def _ago(d: timedelta) -> str:
    return "-" + human_duration(d.total_seconds())


def render_history(
    series: Mapping[tuple[str, str], Sequence[Sample]],
    flips: Sequence[Flip],
    *,
    days: float,
    now: datetime | None = None,
    style: Style | None = None,
) -> str:
    """All charts, one per window with readings in the last `days` days, in provider order."""
    style = style or Style()
    now = now or datetime.now(UTC)
    span = timedelta(days=days)
    start = now - span
    cols = max(20, min(style.width, 120) - _AXIS - 1)
    step = span / cols
    glyphs = _EIGHTHS if style.unicode else _ASCII
    order = {pid: i for i, pid in enumerate(PROVIDERS)}
    keys = sorted(
        (k for k, v in series.items() if any(s.at >= start for s in v) or v),
        key=lambda k: (order.get(k[0], 99), k[1]),
    )
    shown_flips = [f for f in flips if f.at >= start]
    flip_cols = {min(cols - 1, int((f.at - start) / step)) for f in shown_flips}
    out: list[str] = [style.paint(f"Usage over the last {_days(days)} (percent used; ▲ = bhogad moved Hermes)", "grey")]
    if not keys:
        out.append("No readings recorded yet: bhoga records each window as it is observed (bhogad does it all day).")
    for pid, key in keys:
        samples = sorted(series[(pid, key)], key=lambda s: s.at)
        values = [series_value(samples, start + step * c, start + step * (c + 1)) for c in range(cols)]
        latest = next((v for v in reversed(values) if v is not None), None)
        now_text = f"{latest:.0f}% used now" if latest is not None else "no reading"
        out.append("")
        out.append(style.paint(_title(pid, key), "bold") + style.paint(f"  {now_text}", "grey"))
        for row in reversed(range(_ROWS)):
            label = {_ROWS - 1: "100%", 0: "  0%"}.get(row, " 50%" if row == _ROWS // 2 else "")
            cells = "".join(style.paint(_cell(v, row, glyphs), _colour(v)) for v in values)
            out.append(f"{label:>4} │{cells}")
        marks = "".join("▲" if c in flip_cols else " " for c in range(cols)) if style.unicode else ""
        if not style.unicode:
            marks = "".join("^" if c in flip_cols else " " for c in range(cols))
        out.append(f"{'':>4} └" + (style.paint(marks, "magenta") if shown_flips else "─" * cols))
        out.append(f"{'':>4}  " + style.paint(_x_axis(start, span, cols), "grey"))
    if shown_flips:
        out.append("")
        out.append("Flips:")
        for f in shown_flips[-8:]:
            line = f"  ▲ {f.at.astimezone():%m-%d %H:%M}  {f.model} → {f.to}: {f.why}"
            out.append(line if len(line) <= style.width else line[: style.width - 1] + "…")
        if len(shown_flips) > 8:
            out.append(style.paint(f"  ({len(shown_flips) - 8} earlier flips not listed; --json has them all)", "grey"))
    return "\n".join(out) + "\n"


def _days(days: float) -> str:
    if days == 1:
        return "day"
    return f"{days:g} days" if days >= 1 else f"{days * 24:g} hours"


def history_json(
    series: Mapping[tuple[str, str], Sequence[Sample]], flips: Sequence[Flip], *, days: float, now: datetime
) -> dict[str, object]:
    """The points behind the charts, for `bhoga history --json`."""
    start = now - timedelta(days=days)

    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t is not None else None

    windows = [
        {
            "provider_id": pid,
            "window": key,
            "points": [
                {"at": iso(p.at), "pct_used": p.pct_used, "resets_at": iso(p.resets_at)}
                for p in sorted(points, key=lambda p: p.at)
                if p.at >= start
            ],
        }
        for (pid, key), points in sorted(series.items())
    ]
    return {
        "ok": True,
        "days": days,
        "windows": [w for w in windows if w["points"]],
        "flips": [{"at": iso(f.at), "model": f.model, "to": f.to, "why": f.why} for f in flips if f.at >= start],
    }
