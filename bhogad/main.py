"""The `bhogad` command: run the daemon, run one pass, or install/uninstall the user service (DESIGN §6).

Exit codes: 0 success, 1 operational failure (one line on stderr), 2 usage error or invalid bhogad.toml.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bhoga.errors import BhogaError, ConfigError

from .config import load_config
from .once import DEFAULT_TIMEOUT, run_once

__all__ = ["HANDLER", "main", "run_once", "setup_logging"]

log = logging.getLogger("bhogad")

HANDLER = "bhogad-stderr"
"""The name of bhogad's stderr handler: the one whose discovery warnings `bhogad --once` may hold back."""

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def setup_logging(verbose: bool) -> None:
    """One line per event on stderr; journald and launchd add their own timestamps."""
    env = os.environ.get("BHOGA_LOG", "").strip().lower()
    level = logging.DEBUG if verbose else _LEVELS.get(env, logging.INFO)
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER)
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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value <= 3600):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds between 0 and 3600")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bhogad",
        description="Keep Hermes on the provider with the most quota left (runs in the foreground).",
    )
    from bhoga import __version__  # noqa: PLC0415
    from bhoga._paths import daemon_config_path  # noqa: PLC0415

    p.add_argument("--version", action="version", version=f"bhogad {__version__}")
    p.add_argument(
        "--once",
        action="store_true",
        help="one discovery + routing + Hermes pass, then exit (done by bhogad when it runs)",
    )
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"with --once: how long to wait for a running bhogad's pass (default {DEFAULT_TIMEOUT:g})",
    )
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
            return run_once(config, timeout=args.timeout)
        from .daemon import run  # noqa: PLC0415

        return run(config, config_path=args.config)
    except BhogaError as exc:
        print(f"bhogad: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
