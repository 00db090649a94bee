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
from typing import TYPE_CHECKING, Any

from bhoga import _paths
from bhoga.errors import BhogaError

if TYPE_CHECKING:
    from bhoga._router import Router

__all__ = ["run"]

_TIMEOUT = 2.0


def _daemon(request: dict[str, object]) -> dict[str, Any] | None:
    """The daemon's answer, None when no daemon answers; a refused request is a `BhogaError`."""
    from bhoga._client import UNREACHABLE, ask  # noqa: PLC0415

    answer = ask(_paths.socket_path(), {"v": 1, **request}, timeout=_TIMEOUT)
    if answer is UNREACHABLE:
        return None
    assert isinstance(answer, dict)
    if answer.get("ok") is not True:
        raise BhogaError(f"bhogad refused the request: {answer.get('error') or 'no reason given'}")
    return answer


@contextmanager
def _local_router(*, discover: bool) -> Iterator[Router]:
    from bhoga._router import Router  # noqa: PLC0415

    router = Router(eager=False, daemon=False)
    try:
        if discover:
            router.discover()
        yield router
    finally:
        router.close()


def _print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def _local_status() -> dict[str, Any]:
    from bhoga._protocol import quota_to_json, recommendation_to_json  # noqa: PLC0415
    from bhoga.hermes import hermes_config_path, read_hermes_route  # noqa: PLC0415

    path = hermes_config_path()
    try:
        route = read_hermes_route(path)
    except BhogaError as exc:
        print(f"bhoga: {exc}", file=sys.stderr)
        route = None
    with _local_router(discover=True) as router:
        routes = []
        if route is not None and route.model:
            ranked = router.ranked(route.model)
            routes.append(
                {
                    "model": route.model,
                    "recommendation": recommendation_to_json(ranked[0] if ranked else None),
                    "ranked": [recommendation_to_json(r) for r in ranked],
                }
            )
        quotas = [quota_to_json(q) for q in router.quotas().values()]
    return {
        "ok": True,
        "quotas": quotas,
        "hermes": {
            "path": str(path),
            "provider": route.provider if route else None,
            "model": route.model if route else None,
        },
        "routes": routes,
        "paused": _paths.paused_marker_path().exists(),
        "daemon": None,
    }


def _status(args: argparse.Namespace) -> int:
    answer = _daemon({"op": "status"})
    from_daemon = answer is not None
    if answer is None:
        answer = _local_status()
    if args.json:
        _print_json(answer)
        return 0
    from bhoga._cli_render import render_status  # noqa: PLC0415
    from bhoga._protocol import quota_from_json  # noqa: PLC0415

    quotas = [quota_from_json(q) for q in answer.get("quotas") or ()]
    text = render_status(
        quotas,
        answer.get("routes") or (),
        answer.get("hermes"),
        paused=bool(answer.get("paused")),
        daemon=(answer.get("daemon") or {}) if from_daemon else None,
    )
    sys.stdout.write(text)
    from bhoga.errors import BhogaError  # noqa: PLC0415
    from bhoga.hermes import claude_code_caveat  # noqa: PLC0415

    try:
        caveat = claude_code_caveat()
    except BhogaError:
        caveat = None
    if caveat:
        # Hermes bills ANTHROPIC_API_KEY over the Claude Code login; the user must know what "claude_code" means.
        sys.stdout.write(f"note: {caveat}\n")
    return 0


def _best(args: argparse.Namespace) -> int:
    from bhoga._protocol import recommendation_from_json, recommendation_to_json  # noqa: PLC0415

    answer = _daemon({"op": "best", "model": args.model})
    if answer is not None:
        rec = recommendation_from_json(answer.get("recommendation"))
        alternatives = [recommendation_from_json(r) for r in answer.get("ranked") or ()]
        ranked = [r for r in ([rec, *alternatives] if rec else alternatives) if r is not None]
        source = "bhogad"
    else:
        with _local_router(discover=True) as router:
            ranked = list(router.ranked(args.model))
        rec = ranked[0] if ranked else None
        source = "local"
    if args.json:
        _print_json(
            {
                "ok": rec is not None,
                "model": args.model,
                "recommendation": recommendation_to_json(rec),
                "ranked": [recommendation_to_json(r) for r in ranked],
                "source": source,
            }
        )
    else:
        from bhoga._cli_render import render_best  # noqa: PLC0415

        sys.stdout.write(render_best(args.model, rec, ranked))
    return 0 if rec is not None else 1


def _set_quota(args: argparse.Namespace) -> int:
    weekly = "" if args.weekly is None else f", weekly {args.weekly:g}%"
    scope = "" if args.model == "*" else f" for {args.model}"
    request: dict[str, object] = {"op": "set_quota", "pid": args.pid, "pct_remaining": args.pct, "model": args.model}
    if args.weekly is not None:
        request["weekly_pct"] = args.weekly
    if _daemon(request) is not None:
        where = "sent to bhogad"
    else:
        with _local_router(discover=False) as router:
            router.set_quota(args.pid, args.pct, weekly_pct=args.weekly, model=args.model)
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
    # The daemon saves its view to the shared state file, so a local Router sees it; discover only without one.
    from bhoga._client import daemon_running  # noqa: PLC0415

    with _local_router(discover=not daemon_running(_paths.socket_path())) as router:
        usable = router.ranked(args.model, exclude=tuple(hermes_exclusions()))
        if not usable:
            raise BhogaError(f"no provider Hermes can use for {args.model}; run `bhoga doctor`")
        if args.dry_run:
            diff = hermes_diff(router, args.model, write_auxiliary=args.aux)
            sys.stdout.write(diff or f"{path} already routes {args.model} to {usable[0].provider_id}; no change\n")
            return 0
        if _paths.paused_marker_path().exists():
            print("note: bhoga is paused; writing anyway because you asked (bhogad still will not)", file=sys.stderr)
        changed = apply_to_hermes(router, args.model, write_auxiliary=args.aux)
    best = usable[0]
    if changed:
        route = read_hermes_route(path)
        written = f"{route.provider} / {route.model}" if route else best.hermes_model
        print(f"Hermes now uses {written} ({best.provider_id}) for {args.model}: {best.reason}  [{path}]")
    else:
        print(f"{path} already routes {args.model} to {best.provider_id}; no change")
    return 0


def _turn(args: argparse.Namespace) -> int:
    from bhoga._calibrate import filter_headers  # noqa: PLC0415

    headers = filter_headers(dict(args.headers))
    fields = (args.pid, args.model, args.input_tokens, args.output_tokens, headers, args.status_code)
    request = dict(
        zip(("pid", "model", "input_tokens", "output_tokens", "headers", "status_code"), fields, strict=True)
    )
    if _daemon({"op": "turn", **request}) is None:
        with _local_router(discover=False) as router:
            router.record_turn(*fields)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from bhoga._cli_doctor import run_checks  # noqa: PLC0415

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
    paused = args.command == "pause"
    if _daemon({"op": args.command}) is None:
        marker = _paths.paused_marker_path()
        if paused:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        else:
            marker.unlink(missing_ok=True)
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
    "doctor": _doctor,
    "pause": _pause,
    "resume": _pause,
}


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; exceptions are turned into one-line errors by `bhoga.cli.main`."""
    return _COMMANDS[args.command](args)
