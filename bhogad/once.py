"""`bhogad --once`: one discovery + routing + Hermes pass, printed (DESIGN §6, §8.2).

While a bhogad runs it is the only writer of Hermes' config, so the pass is handed to it (socket op `pass`) and
its answer printed; only with no daemon does this process discover and write itself. Either way each discovery
source that failed is one stderr line, `bhogad: discovery failed: <pid>: <why>`, as `bhoga status` words it.

Exit codes: 0 when the pass ran, whatever discovery failed at (DESIGN §6: `--once` does its pass and exits 0; a
provider that could not be read is ranked on what is known of it, as the daemon's scheduled passes do, and the
failure is told, not hidden); 1 when Hermes' config could not be written, when the daemon refused the request, or
when it did not answer in time (one line on stderr).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from .config import DaemonConfig

if TYPE_CHECKING:
    from pathlib import Path

    from bhoga._responses import PassAnswer

__all__ = ["DEFAULT_TIMEOUT", "run_once"]

DEFAULT_TIMEOUT = 60.0
"""Seconds `--once` waits for a running bhogad's pass: discovery's HTTP calls have 5 s each, a pass that takes a
minute is stuck."""


def run_once(config: DaemonConfig, *, timeout: float = DEFAULT_TIMEOUT) -> int:
    """`bhogad --once`: hand the pass to a running bhogad, or do it here when none runs; prints what it did."""
    if (code := _once_with_daemon(timeout)) is not None:
        return code
    return _once_here(config)


def _once_here(config: DaemonConfig) -> int:
    """Discovery, ranking and at most one Hermes write, in this process (no daemon runs)."""
    from bhoga._discovery_failures import discover_telling  # noqa: PLC0415
    from bhoga._router import Router  # noqa: PLC0415 - keeps `bhogad --help` light

    from .flip import Flipper, Outcome  # noqa: PLC0415
    from .main import HANDLER  # noqa: PLC0415 - main imports this module

    router = Router(eager=False, daemon=False, reserve=config.reserve, policy=config.policy, prices=dict(config.prices))
    try:
        # Each failed source told once on stderr, worded as the daemon's `pass` answer (its log copy held back).
        discover_telling(router, program="bhogad", handler=HANDLER)
        for key, q in sorted(router.quotas().items()):
            _print_quota(key, q.quota_pct, str(q.status), q.note)
        result = Flipper(router).run(config)
    finally:
        router.close()
    _print_hermes(result.path, result.outcome, result.message, result.provider, result.hermes_model)
    if result.outcome is Outcome.ERROR:
        print(f"bhogad: {result.message}", file=sys.stderr)
        return 1
    return 0


def _print_quota(key: str, pct: object, status: object, note: object) -> None:
    left = f"{pct:.0%} left" if isinstance(pct, int | float) and pct >= 0 else "quota unknown"
    print(f"quota {key}: {left}, {status}{f' - {note}' if note else ''}")


def _print_hermes(path: Path | str | None, outcome: str, message: str, provider: str | None, model: str | None) -> None:
    """How the Hermes pass ended and the route it left, whichever process ran it."""
    where = f" {path}" if path else ""
    print(f"hermes{where}: {outcome}: {message}")
    if provider or model:
        print(f"hermes now: provider={provider} model={model}")


def _once_with_daemon(timeout: float) -> int | None:
    """The exit status after a running bhogad did the pass (or refused, or took too long); None when none runs."""
    from bhoga._client_io import connect, read_answer  # noqa: PLC0415
    from bhoga._paths import socket_path  # noqa: PLC0415
    from bhoga._protocol import PassRequest, encode_request  # noqa: PLC0415
    from bhoga._responses import Failure, PassAnswer  # noqa: PLC0415
    from bhoga._responses_decode import decode_response  # noqa: PLC0415
    from bhoga.errors import ProtocolError  # noqa: PLC0415

    path = socket_path()
    try:
        sock = connect(path, 2.0)
    except OSError:
        return None  # nobody listens (no socket, or one left by a daemon that died): this process writes
    request = PassRequest()
    with sock:
        try:
            sock.sendall(encode_request(request))
            line, _rest = read_answer(sock, time.monotonic() + timeout)
            answer = decode_response(request, line)
        except TimeoutError:
            print(
                f"bhogad: the running bhogad did not finish its pass within {timeout:g} s; it carries on "
                "(see `bhoga status` or its log)",
                file=sys.stderr,
            )
            return 1
        except (OSError, ProtocolError) as exc:
            print(f"bhogad: the running bhogad did not answer the pass request ({exc}); see its log", file=sys.stderr)
            return 1
    if isinstance(answer, Failure):
        if answer.error.startswith("unknown op"):
            print("bhogad: the running bhogad is too old to run a pass on request; restart it", file=sys.stderr)
            return 1
        print(f"bhogad: the running bhogad refused the pass: {answer.error}", file=sys.stderr)
        return 1
    if not isinstance(answer, PassAnswer):
        print("bhogad: the running bhogad gave an answer that is not a pass's; see its log", file=sys.stderr)
        return 1
    return _print_pass(answer)


def _print_pass(answer: PassAnswer) -> int:
    for d in answer.discovered:
        _print_quota(f"{d.provider_id}:{d.model}", d.quota_pct, d.status, d.note)
    _print_hermes(answer.path, answer.outcome, answer.message, answer.provider, answer.model)
    joined = ", joining the pass it was running" if answer.joined else ""
    print(f"pass run by bhogad (pid {answer.pid}){joined}: it is the only writer while it runs")
    for error in answer.errors:
        print(f"bhogad: {error}", file=sys.stderr)
    return 1 if answer.outcome == "error" else 0
