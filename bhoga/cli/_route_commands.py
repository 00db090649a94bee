"""`bhoga apply`, `pin` and `unpin`: the commands that write Hermes' route, through bhogad while it runs.

While bhogad runs it is the only writer of the Hermes config (DESIGN §8.2): these hand it the request and print
its answer the way the local path prints its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bhoga._pause import is_paused
from bhoga.cli._daemon_or_local import _daemon, _local_router
from bhoga.errors import BhogaError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from bhoga._responses import ApplyAnswer

__all__: list[str] = []


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
