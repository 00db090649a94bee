"""The `bhogad` command: run the daemon, run one pass, or install/uninstall the user service (DESIGN §6).

Exit codes: 0 success, 1 operational failure (one line on stderr), 2 usage error or invalid bhogad.toml.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bhoga.errors import BhogaError, ConfigError

from .config import DaemonConfig, load_config

__all__ = ["main", "run_once", "setup_logging"]

log = logging.getLogger("bhogad")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def setup_logging(verbose: bool) -> None:
    """One line per event on stderr; journald and launchd add their own timestamps."""
    env = os.environ.get("BHOGA_LOG", "").strip().lower()
    level = logging.DEBUG if verbose else _LEVELS.get(env, logging.INFO)
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt, datefmt="%Y-%m-%dT%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party chatter (every inotify event, every schedule job) is not an event of bhogad's.
    for noisy in ("watchdog", "schedule", "asyncio"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # The Hermes writer reports each write; the daemon's own "flip" line says the same with its reason.
    logging.getLogger("bhoga.hermes").setLevel(max(level, logging.WARNING) if level > logging.DEBUG else level)
    if env and env not in _LEVELS:
        log.warning("BHOGA_LOG=%r is not one of %s; using info", env, ", ".join(_LEVELS))


def _from_env() -> str:
    return ", from BHOGA_CONFIG" if os.environ.get("BHOGA_CONFIG", "").strip() else ""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bhogad",
        description="Keep Hermes on the provider with the most quota left (runs in the foreground).",
    )
    from bhoga import __version__  # noqa: PLC0415
    from bhoga._paths import daemon_config_path  # noqa: PLC0415

    p.add_argument("--version", action="version", version=f"bhogad {__version__}")
    p.add_argument("--once", action="store_true", help="one discovery + routing + Hermes pass, then exit")
    p.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help=f"bhogad.toml to use (default: {daemon_config_path()}{_from_env()})",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging (also BHOGA_LOG=debug)")
    sub = p.add_subparsers(dest="command", metavar="{install,uninstall}")
    inst = sub.add_parser("install", help="write and enable the user service (systemd or launchd)")
    inst.add_argument("--dry-run", action="store_true", help="print what would be written, change nothing")
    inst.add_argument("--no-enable", action="store_true", help="write the files but do not enable/start them")
    inst.add_argument(
        "--hermes-plugin",
        action="store_true",
        help="also install the Hermes plugin that reports Hermes' model calls to bhogad (bhoga hermes-plugin enable)",
    )
    sub.add_parser("uninstall", help="stop, disable and remove the user service (and bhoga's Hermes plugin)")
    return p


def run_once(config: DaemonConfig) -> int:
    """`bhogad --once`: discovery, ranking and at most one Hermes write; prints what it did."""
    from bhoga._router import Router  # noqa: PLC0415 - keeps `bhogad --help` light

    from .flip import Flipper, Outcome  # noqa: PLC0415

    if (code := _once_with_daemon()) is not None:
        return code

    router = Router(eager=False, daemon=False, reserve=config.reserve, policy=config.policy, prices=dict(config.prices))
    try:
        router.discover(force=False)
        for key, q in sorted(router.quotas().items()):
            pct = f"{q.quota_pct:.0%} left" if q.quota_pct >= 0 else "quota unknown"
            note = f" - {q.note}" if q.note else ""
            print(f"quota {key}: {pct}, {q.status}{note}")
        result = Flipper(router).run(config)
    finally:
        router.close()
    where = f" {result.path}" if result.path else ""
    print(f"hermes{where}: {result.outcome}: {result.message}")
    if result.provider or result.hermes_model:
        print(f"hermes now: provider={result.provider} model={result.hermes_model}")
    if result.outcome is Outcome.ERROR:
        print(f"bhogad: {result.message}", file=sys.stderr)
        return 1
    return 0


def _once_with_daemon() -> int | None:
    """While bhogad runs it is the only writer (DESIGN §8.2): print its view and its last pass instead of
    writing; None when no daemon answers."""
    from bhoga._client import ask  # noqa: PLC0415
    from bhoga._paths import socket_path  # noqa: PLC0415
    from bhoga._protocol import StatusRequest  # noqa: PLC0415
    from bhoga._responses import StatusAnswer  # noqa: PLC0415

    answer = ask(socket_path(), StatusRequest(), timeout=2.0)
    if not isinstance(answer, StatusAnswer):
        return None
    for q in answer.quotas:
        pct = q.get("quota_pct", -1.0)
        left = f"{pct:.0%} left" if isinstance(pct, int | float) and pct >= 0 else "quota unknown"
        note = f" - {q['note']}" if q.get("note") else ""
        print(f"quota {q.get('provider_id')}:{q.get('model')}: {left}, {q.get('status')}{note}")
    hermes = answer.hermes
    last = hermes.last_pass
    pid = answer.daemon.pid if answer.daemon else None
    print(
        f"hermes {hermes.path}: bhogad (pid {pid}) is running and is the only writer; "
        f"its last pass: {last.outcome if last else 'none yet'}: {last.message if last else hermes.problem or ''}"
    )
    if hermes.provider or hermes.model:
        print(f"hermes now: provider={hermes.provider} model={hermes.model}")
    return 1 if last is not None and last.outcome == "error" else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `bhogad` console script."""
    args = _parser().parse_args(argv)
    setup_logging(args.verbose)
    if args.command in ("install", "uninstall"):
        from . import plugin_setup, service  # noqa: PLC0415

        if args.command == "install":
            rc = service.install(dry_run=args.dry_run, enable=not args.no_enable)
            if rc == 0 and args.hermes_plugin:
                rc = plugin_setup.install_plugin(dry_run=args.dry_run)
            return rc
        plugin_rc = plugin_setup.remove_plugin()
        return service.uninstall() or plugin_rc
    try:
        if args.config is not None and not args.config.exists():
            raise ConfigError(f"{args.config}: no such file (given with --config)")
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"bhogad: {exc}", file=sys.stderr)
        return 2
    try:
        if args.once:
            return run_once(config)
        from .daemon import run  # noqa: PLC0415

        return run(config, config_path=args.config)
    except BhogaError as exc:
        print(f"bhogad: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
