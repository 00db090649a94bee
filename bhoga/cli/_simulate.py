"""`bhoga simulate` (DESIGN §8.7): the routing policies replayed on recorded or given demand, side by side.

It never asks bhogad: the replay is computed here, from this machine's state, history and turn log, with the
rules of bhogad.toml.
"""

from __future__ import annotations

import argparse
import json
import sys

from bhoga import _paths
from bhoga.errors import BhogaError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from datetime import datetime

    from bhoga._router import Router
    from bhoga._sim_trace import Trace

    LocalRouter = Callable[[], AbstractContextManager[Router]]
    """Opens a Router with the user's rules (bhogad.toml) on this machine's state, closed after the `with`."""

__all__ = ["run"]


def _recorded_trace(days: float, now: datetime, local_router: LocalRouter) -> Trace:
    """The user's own demand: bhogad's turn log where it covers the period, else the estimate from the window
    history. A turn log that cannot be read is one line, and the estimate is used."""
    from bhoga._sim_history import trace_from_history, trace_from_turns  # noqa: PLC0415
    from bhoga._state import StateStore  # noqa: PLC0415
    from bhoga._turnlog import TurnLog, TurnLogStore, turnlog_path  # noqa: PLC0415

    path = turnlog_path(_paths.state_path())
    try:
        turns = TurnLogStore(path).load(now.timestamp())
    except BhogaError as exc:
        print(f"note: {exc}; estimating the demand from the window history", file=sys.stderr)
        turns = TurnLog(None, ())
    if turns.damaged:
        print(f"note: turn log {path}: {turns.damaged} damaged line(s) skipped", file=sys.stderr)
    with local_router() as router:
        quotas, history = router.snapshot(), router.history()
        try:
            learned = StateStore(_paths.state_path()).load_all()[1].costs
        except BhogaError:
            learned = {}
    if turns.since is not None:
        gaps = turns.gaps(now.timestamp())
        trace = trace_from_turns(quotas, history, turns.turns, turns.since, now, days, learned, gaps)
        if trace is not None:
            return trace
    return trace_from_history(quotas, history, now, days)


def run(args: argparse.Namespace, local_router: LocalRouter) -> int:
    """Replay the demand (a trace file, else the user's own) under each policy; `local_router` opens a Router
    with the user's rules on this machine's state."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from bhoga._sim_trace import load_trace  # noqa: PLC0415
    from bhoga._simulate import Result, fmt_table, policy_names, simulate, verdict  # noqa: PLC0415

    demand = "trace"
    if args.trace is not None:
        trace = load_trace(args.trace)
    else:
        trace = _recorded_trace(args.days, datetime.now(UTC), local_router)
        demand = "logged" if trace.name == "recorded turns" else "estimate"
    from bhoga._settings import load_policy  # noqa: PLC0415

    rules = load_policy()  # the user's reserve, margin and models, as bhogad would apply them (DESIGN §8.3)
    wanted = list(dict.fromkeys(args.policies)) or [*policy_names(), "optimum"]
    results: list[Result] = [
        simulate(trace, p, reserve=rules.reserve, margin=rules.margin, models=rules.models)
        for p in wanted
        if p != "optimum"
    ]
    note = ""
    if "optimum" in wanted:
        from bhoga._sim_optimum import optimum  # noqa: PLC0415

        try:
            results.append(optimum(trace))
        except BhogaError as exc:
            note = f"optimum not computed: {exc}"
    if args.json:
        out = {
            "trace": trace.name,
            "demand": demand,
            "unlogged_hours": round(trace.unlogged / 3600, 2) if demand == "logged" else None,
            "requests": len(trace.requests),
            "policy": rules.policy,
            "results": [
                {
                    "policy": r.policy,
                    "avoidable_walls": r.avoidable_walls,
                    "walls": r.walls,
                    "unserved": r.unserved,
                    "unused_pct": round(r.unused_pct, 2),
                    "spend": r.spend,
                    "flips_per_day": None if r.policy == "optimum" else round(r.flips_per_day, 2),
                    "max_flips_hour": None if r.policy == "optimum" else r.max_flips_hour,
                }
                for r in results
            ],
            "note": note or None,
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))  # as every `--json` of the CLI prints
        return 0
    print(
        f"{trace.name}: {len(trace.requests)} requests over {trace.days:g} days"
        + (f" ({trace.description})" if trace.description else "")
    )
    sys.stdout.write(fmt_table(results, rules.policy))
    for line in verdict(results, rules.policy):
        print(line)
    if note:
        print(note)
    return 0
