"""What each `bhoga` command does: ask bhogad when it answers, else work on this machine's state.

The two paths are `bhoga.cli._daemon_or_local`; the commands that write Hermes' route are `bhoga.cli._route_commands`;
the rest, and the table `run` dispatches on, are here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from bhoga import _paths
from bhoga._pause import set_paused
from bhoga.cli import _plugin, _simulate
from bhoga.cli._daemon_or_local import _daemon, _daemon_status, _local_router, _local_status, _print_json, live_socket
from bhoga.cli._route_commands import _apply, _pin_cmd
from bhoga.errors import BhogaError

# `live_socket` is named here as well: bhoga/cli/_doctor.py finds bhogad's socket through this module.
__all__ = ["live_socket", "run"]


def _status(args: argparse.Namespace) -> int:
    if args.watch:
        if args.json:
            raise BhogaError("--watch draws a live view; for JSON, run `bhoga status --json` when you need it")
        from bhoga.cli._watch import watch  # noqa: PLC0415

        return watch(color=False if args.no_color else None, all_windows=args.all)
    from bhoga._protocol import StatusRequest  # noqa: PLC0415
    from bhoga._responses import StatusAnswer  # noqa: PLC0415
    from bhoga._responses_encode import response_json  # noqa: PLC0415

    answer = _daemon(StatusRequest())
    from_daemon = isinstance(answer, StatusAnswer)
    status = answer if isinstance(answer, StatusAnswer) else _local_status()
    if from_daemon and status.errors:
        # What bhogad's discoveries last failed at, told as the local path tells its own (already done there).
        from bhoga.cli._failures import tell  # noqa: PLC0415

        tell(status.errors)
    if args.json:
        _print_json(response_json(status))  # `errors` included: the same shape whoever discovered
        return 0
    from bhoga.cli._render import render_status  # noqa: PLC0415
    from bhoga.cli._term import style_for  # noqa: PLC0415

    style = style_for(sys.stdout, color=False if args.no_color else None)
    sys.stdout.write(render_status(response_json(status), from_daemon=from_daemon, style=style, all_windows=args.all))
    from bhoga.hermes import claude_code_caveat  # noqa: PLC0415

    try:
        caveat = claude_code_caveat()
    except BhogaError:
        caveat = None
    if caveat:
        # Hermes bills ANTHROPIC_API_KEY over the Claude Code login; the user must know what "claude_code" means.
        sys.stdout.write(f"note: {caveat}\n")
    return 0


def _unknown_model(model: str) -> bool:
    from bhoga._providers import model_family  # noqa: PLC0415

    return model_family(model) == "other"


def _best(args: argparse.Namespace) -> int:
    from bhoga._protocol import BestRequest, recommendation_to_json  # noqa: PLC0415
    from bhoga._responses import BestAnswer  # noqa: PLC0415

    answer = _daemon(BestRequest(args.model))
    if isinstance(answer, BestAnswer):
        rec = answer.recommendation
        # `ranked` holds every candidate, best first, the winner included (docs/PROTOCOL.md).
        ranked = list(answer.ranked)
        source = "bhogad"
        failed = answer.errors  # what bhogad's discoveries last failed at: told as the local path tells its own
        if failed:
            from bhoga.cli._failures import tell  # noqa: PLC0415

            tell(failed)
    else:
        from bhoga.cli._failures import discover  # noqa: PLC0415

        with _local_router() as router:
            failed = discover(router)
            ranked = list(router.ranked(args.model))
        rec = ranked[0] if ranked else None
        source = "local"
    unknown = _unknown_model(args.model)
    if unknown and rec is not None and not args.json:
        print(
            f"note: {args.model[:60]!r} is not a model bhoga knows (not Claude, GPT/Codex or Gemini); "
            "only github-copilot might serve it, if Copilot offers it",
            file=sys.stderr,
        )
    unknown = unknown and rec is None
    if args.json:
        out: dict[str, object] = {
            "ok": rec is not None,
            "model": args.model,
            "recommendation": recommendation_to_json(rec),
            "ranked": [recommendation_to_json(r) for r in ranked],
            "source": source,
            "errors": list(failed),
        }
        if rec is None:
            out["error"] = (
                f"unknown model {args.model!r}: not a Claude, GPT/Codex or Gemini model name"
                if unknown
                else f"no provider can serve {args.model} now; run `bhoga doctor` to see what is missing"
            )
        _print_json(out)
    else:
        from bhoga.cli._render import render_best  # noqa: PLC0415

        sys.stdout.write(render_best(args.model, rec, ranked, unknown=unknown))
    return 0 if rec is not None else 1


def _set_quota(args: argparse.Namespace) -> int:
    weekly = "" if args.weekly is None else f", weekly {args.weekly:g}%"
    scope = "" if args.model == "*" else f" for {args.model}"
    from bhoga._protocol import SetQuotaRequest  # noqa: PLC0415

    if _daemon(SetQuotaRequest(args.pid, args.pct, args.weekly, args.model)) is not None:
        where = "sent to bhogad"
    else:
        with _local_router() as router:
            router.set_quota(args.pid, args.pct, weekly_pct=args.weekly, model=args.model)
            if router.save_error is not None:
                raise BhogaError(f"{args.pid}: not saved: {router.save_error}")
        where = f"saved to {_paths.state_path()}"
    print(f"{args.pid}{scope}: {args.pct:g}% left{weekly} ({where})")
    return 0


def _turn(args: argparse.Namespace) -> int:
    from bhoga._calibrate import filter_headers  # noqa: PLC0415
    from bhoga._protocol import TurnRequest  # noqa: PLC0415

    headers = filter_headers(dict(args.headers))
    fields = (args.pid, args.model, args.input_tokens, args.output_tokens, headers, args.status_code)
    turn = TurnRequest(
        args.pid,
        args.model,
        args.input_tokens,
        args.output_tokens,
        args.status_code,
        headers,
        args.error or None,
        args.source or None,
    )
    if _daemon(turn) is None:
        with _local_router() as router:
            router.record_turn(*fields, error=args.error or None)
    return 0


def _history(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from bhoga._flips import read_flips  # noqa: PLC0415
    from bhoga._history import HistoryStore, history_path  # noqa: PLC0415
    from bhoga.cli._history import history_json, render_history  # noqa: PLC0415
    from bhoga.cli._term import style_for  # noqa: PLC0415

    now = datetime.now(UTC)
    try:
        series = HistoryStore(history_path(_paths.state_path())).load(now)
    except BhogaError as exc:
        raise BhogaError(f"cannot read the history: {exc}") from None
    if args.provider:
        series = {k: v for k, v in series.items() if k[0] == args.provider}
    flips = read_flips(since=now - timedelta(days=args.days))
    if args.json:
        _print_json(history_json(series, flips, days=args.days, now=now))
        return 0
    style = style_for(sys.stdout, color=False if args.no_color else None)
    sys.stdout.write(render_history(series, flips, days=args.days, now=now, style=style))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from bhoga.cli._doctor import run_checks  # noqa: PLC0415

    problems = 0
    for check in run_checks():
        mark = {True: "ok ", False: "!! ", None: " ? "}[check.ok]
        print(f"{mark} {check.what}: {check.detail}")
        if check.ok is False:
            problems += 1
            if check.fix:
                print(f"     fix: {check.fix}")
        elif check.ok is None and check.fix:
            print(f"     to set it up: {check.fix}")
    print(f"\n{problems} problem(s) found" if problems else "\nno problems found")
    return 1 if problems else 0


def _pause(args: argparse.Namespace) -> int:
    from bhoga._protocol import PauseRequest, ResumeRequest  # noqa: PLC0415

    paused = args.command == "pause"
    if _daemon(PauseRequest() if paused else ResumeRequest()) is None:
        set_paused(paused)
    if paused:
        print("paused: bhoga will not change the Hermes config until `bhoga resume`")
    else:
        print("resumed: bhoga may change the Hermes config again")
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "status": _status,
    "best": _best,
    "set-quota": _set_quota,
    "apply": _apply,
    "turn": _turn,
    "history": _history,
    "doctor": _doctor,
    "hermes-plugin": lambda args: _plugin.run(args, _daemon_status),
    "simulate": lambda args: _simulate.run(args, _local_router),
    "pause": _pause,
    "resume": _pause,
    "pin": _pin_cmd,
    "unpin": _pin_cmd,
}


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; exceptions are turned into one-line errors by `bhoga.cli.main`."""
    return _COMMANDS[args.command](args)
