"""Ask bhogad when it answers, else work on this machine's state: the two paths every `bhoga` command takes.

The daemon is asked with one request on a fresh connection (`bhoga._client.ask`); a daemon that is not there
costs a failed connect of a few microseconds, a hung one at most the timeout, and then the local path runs on a
Router set up with bhogad's own rules.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bhoga import _paths
from bhoga._pause import is_paused
from bhoga.errors import BhogaError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from bhoga._protocol import Request
    from bhoga._responses import Response, StatusAnswer
    from bhoga._router import Router

__all__ = ["live_socket"]

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
