"""The `bhoga` command (DESIGN §6): status, best, set-quota, apply, turn, hermes-plugin, doctor, pause, resume.

Each command asks bhogad when it answers on its socket, so every harness sees one view, and works on this
machine's state file otherwise. Exit codes: 0 success, 1 operational failure (one line on stderr), 2 usage.
Imports are deferred to the command that needs them so `bhoga status` stays quick.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bhoga._providers import PROVIDERS
from bhoga.errors import BhogaError

__all__ = ["build_parser", "main"]


def _shown(text: str, *, quote: bool = True, limit: int = 60) -> str:
    """`text` for an error message, cut short: a 100 KB argument is not echoed back whole."""
    if len(text) > limit:
        return (repr(text[:limit]) if quote else text[:limit]) + f"... ({len(text)} characters)"
    return repr(text) if quote else text


def _pct(text: str) -> float:
    """Percent remaining, 0-100. "0.5%" is half a percent; a bare 0.5 is refused as ambiguous, because
    `quota_pct` elsewhere is a 0-1 fraction and "0.5" most likely means half."""
    raw = text.strip()
    explicit = raw.endswith("%")
    try:
        value = float(raw.removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a number") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{_shown(text, quote=False)} is not a percentage from 0 to 100")
    if 0 < value < 1 and not explicit:
        raise argparse.ArgumentTypeError(
            f"{text} is ambiguous: PCT is percent (0-100), so write {value * 100:g} for {value:g} of the quota, "
            f"or {text}% if you mean {text} percent"
        )
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a whole number") from None
    if not 0 <= value <= 1_000_000_000:
        raise argparse.ArgumentTypeError(f"{_shown(text, quote=False)} is out of range (0 to 1,000,000,000)")
    return value


def _status_code(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not an HTTP status code") from None
    if not 100 <= value <= 599:
        raise argparse.ArgumentTypeError(f"{_shown(text, quote=False)} is not an HTTP status code (100-599)")
    return value


def _history_days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a number of days") from None
    if not 0.1 <= value <= 7:
        raise argparse.ArgumentTypeError(f"{_shown(text, quote=False)} is out of range: history is kept for 7 days")
    return value


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not NAME=VALUE")
    return name.strip(), value.strip()


def _model(text: str) -> str:
    if not text.strip() or not text.isprintable():
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a model name")
    if len(text) > 256:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a model name (longer than 256 characters)")
    return text.strip()


def _sim_policies() -> tuple[str, ...]:
    from bhoga._routing import POLICIES  # noqa: PLC0415

    return (*POLICIES, "original", "failover", "round-robin")


def _days(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not 0 < v <= 7:
        raise argparse.ArgumentTypeError(f"days must be more than 0 and at most 7 (the history kept), got {text}")
    return v


def _error_text(text: str) -> str:
    if text == "-":
        text = sys.stdin.read(4097)
    if len(text) > 4096:
        raise argparse.ArgumentTypeError("is longer than 4,096 characters")
    return text


def _source(text: str) -> str:
    if not text or len(text) > 64 or not text.isprintable():
        raise argparse.ArgumentTypeError(f"{text[:70]!r} is not 1-64 printable characters")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the tests to check the documented options exist)."""
    from bhoga import __version__  # noqa: PLC0415

    p = argparse.ArgumentParser(prog="bhoga", description="Keep AI harnesses on the provider with the most quota left.")
    p.add_argument("--version", action="version", version=f"bhoga {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("status", help="every provider's quota left, reset times, pace and the current choice")
    s.add_argument("--json", action="store_true", help="print the status as JSON")
    s.add_argument("--all", action="store_true", help="every window of each provider, not only the binding one")
    s.add_argument("--watch", action="store_true", help="a live view, redrawn when bhogad's state changes")
    s.add_argument("--no-color", action="store_true", help="no colour even on a terminal (also: NO_COLOR=1)")

    b = sub.add_parser("best", help="the provider to use for a model, why, and the alternatives")
    b.add_argument("model", type=_model, metavar="MODEL")
    b.add_argument("--json", action="store_true", help="print the answer as JSON")

    q = sub.add_parser("set-quota", help="tell bhoga how much of a provider's quota is left")
    q.add_argument("pid", choices=list(PROVIDERS), metavar="PID", help=f"one of: {', '.join(PROVIDERS)}")
    q.add_argument(
        "pct",
        type=_pct,
        metavar="PCT",
        help="percent remaining, 0-100 (5h window or budget); 0.5%% is half a percent",
    )
    q.add_argument("--weekly", type=_pct, metavar="PCT", help="percent remaining in the weekly window, 0-100")
    q.add_argument("--model", type=_model, default="*", metavar="M", help="only for models matching M")

    a = sub.add_parser("apply", help="route Hermes to the best provider for a model now")
    a.add_argument("model", type=_model, metavar="MODEL", nargs="?", help="default: Hermes' current model.default")
    a.add_argument("--dry-run", action="store_true", help="print the unified diff, change nothing")
    a.add_argument(
        "--aux", action="store_true", help="also route the auxiliary tasks listed in Hermes' config (auxiliary:)"
    )

    t = sub.add_parser("turn", help="record one model call (for shell harnesses)")
    t.add_argument("--pid", required=True, choices=list(PROVIDERS), metavar="P", help=f"one of: {', '.join(PROVIDERS)}")
    t.add_argument("--model", required=True, type=_model, metavar="M")
    t.add_argument("--in", dest="input_tokens", type=_count, default=0, metavar="N", help="input tokens")
    t.add_argument("--out", dest="output_tokens", type=_count, default=0, metavar="N", help="output tokens")
    t.add_argument("--status", dest="status_code", type=_status_code, default=200, metavar="CODE")
    t.add_argument(
        "--header",
        dest="headers",
        type=_header,
        action="append",
        default=[],
        metavar="K=V",
        help="a response header (only rate-limit headers are kept); repeatable",
    )
    t.add_argument(
        "--error",
        type=_error_text,
        metavar="TEXT",
        help="the error message or body of a failed call (`-` reads it from stdin); a limit it names throttles",
    )
    t.add_argument("--source", type=_source, metavar="NAME", help="who reports the turn (counted in bhogad's status)")

    h = sub.add_parser("hermes-plugin", help="the Hermes plugin that reports every model call Hermes makes to bhogad")
    h.add_argument(
        "action",
        choices=["enable", "disable", "status"],
        help="enable: write it to $HERMES_HOME/plugins/bhoga and add it to plugins.enabled; disable: remove both",
    )
    h.add_argument("--json", action="store_true", help="status as JSON")

    m = sub.add_parser("simulate", help="replay recorded (or given) demand under each routing policy and compare")
    m.add_argument("--days", type=_days, default=7.0, metavar="N", help="how many recorded days to replay (default 7)")
    m.add_argument(
        "--policy",
        dest="policies",
        action="append",
        default=[],
        choices=[*_sim_policies(), "optimum"],
        metavar="P",
        help=f"one of: {', '.join([*_sim_policies(), 'optimum'])}; repeatable (default: all)",
    )
    m.add_argument("--trace", type=Path, metavar="FILE", help="a trace file (see benchmarks/data/traces)")
    m.add_argument("--json", action="store_true", help="print the results as JSON")

    hi = sub.add_parser("history", help="each window's usage over time as a chart, with bhogad's flips marked")
    hi.add_argument("provider", nargs="?", choices=list(PROVIDERS), metavar="PROVIDER", help="only this provider")
    hi.add_argument("--days", type=_history_days, default=1.0, metavar="N", help="how far back, 0.1-7 days (default 1)")
    hi.add_argument("--json", action="store_true", help="print the points and flips as JSON")
    hi.add_argument("--no-color", action="store_true", help="no colour even on a terminal (also: NO_COLOR=1)")

    sub.add_parser("doctor", help="what is found, what is missing, and the command that fixes each problem")
    sub.add_parser("pause", help="stop changing the Hermes config until `bhoga resume`")
    sub.add_parser("resume", help="let bhoga change the Hermes config again")
    sub.add_parser("pin", help="keep Hermes on its current provider: bhogad changes nothing until `bhoga unpin`")
    sub.add_parser("unpin", help="let bhogad route Hermes again after a pin or a hand edit")
    return p


class _OneLine(logging.Formatter):
    """Log records as single `bhoga: ...` lines on stderr: a person never sees a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f": {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        return "bhoga: " + " ".join(text.split())


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (the console script exits with it)."""
    args = build_parser().parse_args(argv)
    if argv is None:  # the console script; a caller passing argv keeps its own logging setup
        _setup_logging()
    from bhoga.cli import _commands as commands  # noqa: PLC0415 - keep `--help` and usage errors instant

    try:
        return commands.run(args)
    except BhogaError as exc:
        _fail(str(exc))
    except ValueError as exc:  # the Router's own validation of a value the parser let through
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted")
    except BrokenPipeError:
        return 0  # `bhoga status | head`: the reader left, nothing is wrong
    except Exception as exc:  # never a traceback for a person; the type says where to look
        _fail(f"internal error: {type(exc).__name__}: {exc}")
    return 1


def _fail(message: str) -> None:
    print(f"bhoga: {' '.join(message.split())}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
