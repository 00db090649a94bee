"""Routing policies compared on the committed synthetic traces (`python -m benchmarks routing`).

Prints, per trace, one table of every policy against the offline optimum (markdown, as published in the
README), then returns the goal checks of bhoga's default policy as benchmark rows: no avoidable wall, spend at
most 5 % over the optimum, at most 5 points more capacity unused at resets, at most 4 flips in any hour. The
default policy is run twice: as in the first week after install (a model is in use from its first request on)
and with the trace's models known from the start ("models known": listed in bhogad.toml `models`, or
remembered from the week before). Regenerate the traces with `python -m benchmarks.routing_traces`.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks._util import Row
from bhoga._routing import DEFAULT_POLICY
from bhoga._sim_optimum import optimum
from bhoga._sim_trace import Trace, load_trace
from bhoga._simulate import Result, policy_names, simulate

TRACES = Path(__file__).parent / "data" / "traces"
KNOWN = f"{DEFAULT_POLICY}, models known"
MAX_FLIPS_HOUR = 4


def _md(name: str, requests: int, results: list[Result], opt: Result) -> str:
    lines = [
        f"**{name}** ({requests} requests, 7 days)",
        "",
        "| policy | avoidable walls | all walls | unserved | unused at resets | metered spend | flips/day"
        " | max flips in an hour |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in [*results, opt]:
        flips = "—" if r is opt else f"{r.flips_per_day:.1f}"
        maxh = "—" if r is opt else str(r.max_flips_hour)
        over = "" if r is opt or not opt.spend else f" ({(r.spend / opt.spend - 1) * 100:+.0f} %)"
        lines.append(
            f"| {r.policy} | {r.avoidable_walls} | {r.walls} | {r.unserved} | {r.unused_pct:.1f} % "
            f"| ${r.spend:.2f}{over} | {flips} | {maxh} |"
        )
    return "\n".join(lines) + "\n"


def _goal_rows(name: str, r: Result, opt: Result) -> list[Row]:
    over = (r.spend / opt.spend - 1) * 100 if opt.spend else (0.0 if r.spend == 0 else 100.0)
    extra = r.unused_pct - opt.unused_pct
    who = f"{name}: {r.policy}"
    return [
        Row("routing", f"{who} avoidable walls", r.avoidable_walls, "", "0", r.avoidable_walls == 0),
        Row("routing", f"{who} spend over optimum", max(over, 0.0), "%", "≤ 5 %", over <= 5.0),
        Row("routing", f"{who} unused over optimum", max(extra, 0.0), "points", "≤ 5", extra <= 5.0),
        Row(
            "routing",
            f"{who} most flips in an hour",
            r.max_flips_hour,
            "",
            f"≤ {MAX_FLIPS_HOUR}",
            r.max_flips_hour <= MAX_FLIPS_HOUR,
        ),
    ]


def _ranking_cost() -> list[Row]:
    """`Router.ranked` (always re-ranks) with a week of one-a-minute history: what "pace" and "value" add."""
    import tempfile
    from datetime import UTC, datetime, timedelta

    from benchmarks._util import median_per_call
    from bhoga._history import HistoryStore, Point, history_path
    from bhoga._router import Router

    rows = []
    with tempfile.TemporaryDirectory() as d:
        state = Path(d) / "state.json"
        now = datetime.now(UTC)
        week = [
            (pid, key, Point(now - timedelta(minutes=7 * 1440 - i), (i % 300) / 3, now + timedelta(hours=3)))
            for i in range(7 * 1440)
            for pid, key in (("claude_code", "burst"), ("claude_code", "weekly"))
        ]
        HistoryStore(history_path(state)).append(week)
        for policy in ("headroom", "pace", "value"):
            with Router(state_path=state, eager=False, daemon=False, policy=policy) as router:
                router.set_quota("claude_code", 50, weekly_pct=60)
                router.set_quota("github-copilot", 70)
                per = median_per_call(lambda r=router: r.ranked("claude-opus-4"), calls=500, repeat=7)
            rows.append(
                Row(
                    "routing",
                    f"Router.ranked, policy {policy}, a week of history",
                    per * 1e6,
                    "µs",
                    "< 1000",
                    per < 1e-3,
                )
            )
    return rows


def results(trace: Trace) -> list[Result]:
    """Every policy on `trace`, and the default once more with the trace's models known from the start."""
    out = [simulate(trace, p) for p in policy_names()]
    known = simulate(trace, DEFAULT_POLICY, models={m for _, m in trace.requests})
    known.policy = KNOWN
    at = next(i for i, r in enumerate(out) if r.policy == DEFAULT_POLICY) + 1
    return [*out[:at], known, *out[at:]]


def run() -> list[Row]:
    rows: list[Row] = _ranking_cost()
    for path in sorted(TRACES.glob("*.json")):
        trace = load_trace(path)
        t0 = time.perf_counter()
        runs = results(trace)
        elapsed = time.perf_counter() - t0
        opt = optimum(trace)
        print(_md(trace.name, len(trace.requests), runs, opt))
        by = {r.policy: r for r in runs}
        rows.extend(_goal_rows(trace.name, by[DEFAULT_POLICY], opt))
        rows.extend(_goal_rows(trace.name, by[KNOWN], opt))
        rows.append(
            Row(
                "routing",
                f"{trace.name}: simulate all {len(runs)} policies",
                elapsed / len(runs) / max(len(trace.requests), 1) * 1e6,
                "µs/request",
                "informational",
                True,
            )
        )
    return rows
