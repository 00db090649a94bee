"""What each `bhoga` command does: ask bhogad when it answers, else work on this machine's state.

The daemon is asked with one request on a fresh connection (`bhoga._client.ask`); a daemon that is not there
costs a failed connect of a few microseconds, a hung one at most the timeout, and then the local path runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bhoga import _paths
from bhoga._pause import is_paused, set_paused
from bhoga.cli import _plugin, _simulate
from bhoga.errors import BhogaError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from bhoga._protocol import Request
    from bhoga._responses import ApplyAnswer, Response, StatusAnswer
    from bhoga._router import Router

__all__ = ["run"]

_TIMEOUT = 2.0


def live_socket() -> Path:
    """The socket a running bhogad answers on: the configured one, else another place a daemon may use."""
    from bhoga._client import daemon_running  # noqa: PLC0415

    first = _paths.socket_path()
    if not _paths.socket_configured() and not daemon_running(first, timeout=0.5):
        for path in _paths.socket_fallbacks(first):
            if path.exists() and daemon_running(path, timeout=0.5):
                return path
    return first


def _daemon(request: Request) -> Response | None:
    """The daemon's answer, None when no daemon answers; a refused request is a `BhogaError`."""
    from bhoga._client import UNREACHABLE, ask  # noqa: PLC0415
    from bhoga._responses import Failure  # noqa: PLC0415

    answer = ask(live_socket(), request, timeout=_TIMEOUT)
    if answer is UNREACHABLE:
        return None
    if isinstance(answer, Failure):
        raise BhogaError(f"bhogad refused the request: {answer.error}")
    return answer


def _daemon_status() -> StatusAnswer | None:
    """bhogad's `status`, None when no daemon answers."""
    from bhoga._protocol import StatusRequest  # noqa: PLC0415
    from bhoga._responses import StatusAnswer  # noqa: PLC0415

    answer = _daemon(StatusRequest())
    return answer if isinstance(answer, StatusAnswer) else None


@contextmanager
def _local_router() -> Iterator[Router]:
    from bhoga._router import Router  # noqa: PLC0415
    from bhoga._settings import load_policy  # noqa: PLC0415

    # The same rules as bhogad (DESIGN §8.3): bhogad.toml's reserve and policy.
    rules = load_policy()
    router = Router(eager=False, daemon=False, reserve=rules.reserve, policy=rules.policy, prices=dict(rules.prices))
    if rules.policy == "value" and rules.models:
        router.economics(*rules.models)  # in use from the start, as bhogad's passes make them
    try:
        yield router
    finally:
        router.close()


def _print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def _local_status() -> StatusAnswer:
    """The status computed here, after a discovery; its `errors` what failed in it, each already told on stderr."""
    from bhoga._settings import load_policy  # noqa: PLC0415
    from bhoga._status import build_status, hermes_view  # noqa: PLC0415
    from bhoga.hermes import hermes_config_path, read_hermes_route  # noqa: PLC0415

    path = hermes_config_path()
    problem: str | None = None
    try:
        route = read_hermes_route(path)
    except BhogaError as exc:
        problem = str(exc)
        route = None
    if route is None and problem is None:
        problem = f"{path} does not exist; run `hermes setup`"
    elif route is not None and not route.provider and problem is None:
        problem = f"{path} has no model.provider; run `hermes model` or `bhoga apply MODEL`"
    models = list(load_policy().models) or ([route.model.rsplit("/", 1)[-1]] if route and route.model else [])
    hermes = hermes_view(path, route.provider if route else None, route.model if route else None, problem=problem)
    with _local_router() as router:
        from bhoga.cli._failures import discover  # noqa: PLC0415 - loads logging, which bhogad's answer never needs

        failed = discover(router)
        return build_status(router, models, hermes, paused=is_paused(), daemon=None, errors=failed)


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


def _apply(args: argparse.Namespace) -> int:
    from bhoga.hermes import (  # noqa: PLC0415
        apply_to_hermes,
        hermes_config_path,
        hermes_diff,
        hermes_exclusions,
        read_hermes_route,
    )

    path = hermes_config_path()
    if args.model is None:
        route = read_hermes_route(path)
        if route is None or not route.model:
            raise BhogaError(f"no MODEL given and {path} has no model.default; name the model: bhoga apply MODEL")
        args.model = route.model.rsplit("/", 1)[-1]
    # While bhogad runs it is the only writer (DESIGN §8.2): hand it the request and print its answer.
    from bhoga._protocol import ApplyRequest  # noqa: PLC0415
    from bhoga._responses import ApplyAnswer  # noqa: PLC0415

    answer = _daemon(ApplyRequest(args.model, bool(args.dry_run), bool(args.aux)))
    if isinstance(answer, ApplyAnswer):
        return _print_apply(args, path, answer)
    from bhoga import _pin  # noqa: PLC0415
    from bhoga.cli._failures import discover  # noqa: PLC0415

    with _local_router() as router:
        discover(router)
        usable = router.ranked(args.model, exclude=tuple(hermes_exclusions()))
        if not usable:
            raise BhogaError(f"no provider Hermes can use for {args.model}; run `bhoga doctor`")
        if args.dry_run:
            diff = hermes_diff(router, args.model, write_auxiliary=args.aux)
            sys.stdout.write(diff or f"{path} already routes {args.model} to {usable[0].provider_id}; no change\n")
            return 0
        if is_paused():
            print("note: bhoga is paused; writing anyway because you asked (bhogad still will not)", file=sys.stderr)
        changed = apply_to_hermes(router, args.model, write_auxiliary=args.aux)
        after = read_hermes_route(path)
        if _pin.load().for_config(path).pinned:
            print("note: the route was pinned; `bhoga apply` hands it back to bhoga (unpinned)", file=sys.stderr)
        _pin.set_pinned(path, after.provider if after else None, False)
    best = usable[0]
    if args.aux:
        print(_aux_note(path), file=sys.stderr)
    if changed:
        route = read_hermes_route(path)
        written = f"{route.provider} / {route.model}" if route else best.hermes_model
        print(f"Hermes now uses {written} ({best.provider_id}) for {args.model}: {best.reason}  [{path}]")
    else:
        print(f"{path} already routes {args.model} to {best.provider_id}; no change")
    return 0


def _print_apply(args: argparse.Namespace, path: Path, answer: ApplyAnswer) -> int:
    """Print bhogad's answer to `apply` the way the local path prints its own."""
    pid = answer.provider
    if args.dry_run:
        sys.stdout.write(answer.diff or f"{path} already routes {args.model} to {pid}; no change\n")
        return 0
    if args.aux:
        print(_aux_note(path), file=sys.stderr)
    if answer.changed:
        route = answer.route or pid
        print(f"Hermes now uses {route} ({pid}) for {args.model}: {answer.reason}  [{path}] (written by bhogad)")
    else:
        print(f"{path} already routes {args.model} to {pid}; no change (bhogad)")
    return 0


def _pin_cmd(args: argparse.Namespace) -> int:
    pinned = args.command == "pin"
    from bhoga.hermes import hermes_config_path, read_hermes_route  # noqa: PLC0415

    path = hermes_config_path()
    route = read_hermes_route(path)
    if route is None:
        raise BhogaError(f"{path} does not exist; nothing to {args.command} (run `hermes setup` first)")
    from bhoga._protocol import PinRequest  # noqa: PLC0415

    if _daemon(PinRequest(pinned)) is None:
        from bhoga import _pin  # noqa: PLC0415

        _pin.set_pinned(path, route.provider, pinned)
    if pinned:
        print(f"pinned: bhogad will keep Hermes on {route.provider or '(no provider)'} until `bhoga unpin`")
    else:
        print("unpinned: bhogad routes Hermes again")
    return 0


def _aux_note(path: Path) -> str:
    """What `--aux` did: the tasks it routed, or why there was nothing to route (never silence)."""
    import os  # noqa: PLC0415

    from bhoga.hermes import _atomic  # noqa: PLC0415
    from bhoga.hermes._apply import _parse  # noqa: PLC0415
    from bhoga.hermes._yamldoc import to_data  # noqa: PLC0415

    current = _atomic.read_file(Path(os.path.realpath(path)))
    data = to_data(_parse(current[0], current[1].sha256, path).root) if current is not None else None
    aux = data.get("auxiliary") if isinstance(data, dict) else None
    tasks = [t for t, v in aux.items() if t != "compression" and isinstance(v, dict)] if isinstance(aux, dict) else []
    if not tasks:
        return (
            f"note: --aux: {path} lists no auxiliary tasks besides compression (auxiliary: section), so only "
            "compression follows the main route, as without --aux"
        )
    return f"--aux: auxiliary tasks routed with the main model where they have no own endpoint: {', '.join(tasks)}"


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
