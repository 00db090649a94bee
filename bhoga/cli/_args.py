"""What the `bhoga` command line accepts: every subcommand with its arguments (`_subcommands`, which
`bhoga.cli.build_parser` builds the parser from), and the argument types, each of which turns one word into a
value or a one-line usage error.

An error message never echoes a long argument whole (`_shown`), so a 100 KB word is one short line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from bhoga._providers import PROVIDERS

__all__ = ["count", "error_text", "header", "history_days", "model", "pct", "sim_days", "source", "status_code"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias, TypeVar

    _N = TypeVar("_N", int, float)
    Arg: TypeAlias = tuple[tuple[str, ...], dict[str, Any]]


def _shown(text: str, *, quote: bool = True, limit: int = 60) -> str:
    """`text` for an error message, cut short: a 100 KB argument is not echoed back whole."""
    if len(text) > limit:
        return (repr(text[:limit]) if quote else text[:limit]) + f"... ({len(text)} characters)"
    return repr(text) if quote else text


def _ranged(parse: Callable[[str], _N], ok: Callable[[_N], bool], noun: str, out: str) -> Callable[[str], _N]:
    """A type that parses with `parse`, says "is not `noun`" when it cannot, and "`out`" when `ok` refuses."""

    def check(text: str) -> _N:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_shown(text)} is not {noun}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{_shown(text, quote=False)} {out}")
        return value

    return check


count = _ranged(int, lambda v: 0 <= v <= 1_000_000_000, "a whole number", "is out of range (0 to 1,000,000,000)")
status_code = _ranged(int, lambda v: 100 <= v <= 599, "an HTTP status code", "is not an HTTP status code (100-599)")
history_days = _ranged(
    float, lambda v: 0.1 <= v <= 7, "a number of days", "is out of range: history is kept for 7 days"
)
sim_days = _ranged(
    float,
    lambda v: 0 < v <= 7,
    "a number of days",
    "is out of range: more than 0 and at most 7 days (the history kept)",
)


def pct(text: str) -> float:
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


def header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not NAME=VALUE")
    return name.strip(), value.strip()


def model(text: str) -> str:
    if not text.strip() or not text.isprintable():
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a model name")
    if len(text) > 256:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a model name (longer than 256 characters)")
    return text.strip()


def error_text(text: str) -> str:
    if text == "-":
        text = sys.stdin.read(4097)
    if len(text) > 4096:
        raise argparse.ArgumentTypeError("is longer than 4,096 characters")
    return text


def source(text: str) -> str:
    if not text or len(text) > 64 or not text.isprintable():
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not 1-64 printable characters")
    return text


def _arg(*names: str, **options: Any) -> Arg:
    return names, options


def _json(what: str) -> Arg:
    return _arg("--json", action="store_true", help=f"print {what} as JSON")


def _provider(*names: str, **options: Any) -> Arg:
    options.setdefault("help", f"one of: {', '.join(PROVIDERS)}")
    return _arg(*names, choices=list(PROVIDERS), **options)


def _subcommands() -> tuple[tuple[str, str, tuple[Arg, ...]], ...]:
    """Every subcommand: its name, its one-line help and its arguments, in `bhoga --help` order."""
    from bhoga._routing import BASELINES, POLICIES  # noqa: PLC0415

    no_color = _arg("--no-color", action="store_true", help="no colour even on a terminal (also: NO_COLOR=1)")
    policies = (*POLICIES, *BASELINES, "optimum")
    return (
        (
            "status",
            "every provider's quota left, reset times, pace and the current choice",
            (
                _json("the status"),
                _arg("--all", action="store_true", help="every window of each provider, not only the binding one"),
                _arg("--watch", action="store_true", help="a live view, redrawn when bhogad's state changes"),
                no_color,
            ),
        ),
        (
            "best",
            "the provider to use for a model, why, and the alternatives",
            (_arg("model", type=model, metavar="MODEL"), _json("the answer")),
        ),
        (
            "set-quota",
            "tell bhoga how much of a provider's quota is left",
            (
                _provider("pid", metavar="PID"),
                _arg(
                    "pct",
                    type=pct,
                    metavar="PCT",
                    help="percent remaining, 0-100 (5h window or budget); 0.5%% is half a percent",
                ),
                _arg("--weekly", type=pct, metavar="PCT", help="percent remaining in the weekly window, 0-100"),
                _arg("--model", type=model, default="*", metavar="M", help="only for models matching M"),
            ),
        ),
        (
            "apply",
            "route Hermes to the best provider for a model now",
            (
                _arg("model", type=model, metavar="MODEL", nargs="?", help="default: Hermes' current model.default"),
                _arg("--dry-run", action="store_true", help="print the unified diff, change nothing"),
                _arg(
                    "--aux",
                    action="store_true",
                    help="also route the auxiliary tasks listed in Hermes' config (auxiliary:)",
                ),
            ),
        ),
        (
            "turn",
            "record one model call (for shell harnesses)",
            (
                _provider("--pid", required=True, metavar="P"),
                _arg("--model", required=True, type=model, metavar="M"),
                _arg("--in", dest="input_tokens", type=count, default=0, metavar="N", help="input tokens"),
                _arg("--out", dest="output_tokens", type=count, default=0, metavar="N", help="output tokens"),
                _arg("--status", dest="status_code", type=status_code, default=200, metavar="CODE"),
                _arg(
                    "--header",
                    dest="headers",
                    type=header,
                    action="append",
                    default=[],
                    metavar="K=V",
                    help="a response header (only rate-limit headers are kept); repeatable",
                ),
                _arg(
                    "--error",
                    type=error_text,
                    metavar="TEXT",
                    help="the error message or body of a failed call (`-` reads it from stdin); "
                    "a limit it names throttles",
                ),
                _arg(
                    "--source",
                    type=source,
                    metavar="NAME",
                    help="who reports the turn (counted in bhogad's status)",
                ),
            ),
        ),
        (
            "hermes-plugin",
            "the Hermes plugin that reports every model call Hermes makes to bhogad",
            (
                _arg(
                    "action",
                    choices=["enable", "disable", "status"],
                    help="enable: write it to $HERMES_HOME/plugins/bhoga and add it to plugins.enabled; "
                    "disable: remove both",
                ),
                _json("the status"),
            ),
        ),
        (
            "simulate",
            "replay recorded (or given) demand under each routing policy and compare",
            (
                _arg(
                    "--days",
                    type=sim_days,
                    default=7.0,
                    metavar="N",
                    help="how many recorded days to replay (default 7)",
                ),
                _arg(
                    "--policy",
                    dest="policies",
                    action="append",
                    default=[],
                    choices=policies,
                    metavar="P",
                    help=f"one of: {', '.join(policies)}; repeatable (default: all)",
                ),
                _arg("--trace", type=Path, metavar="FILE", help="a trace file (see benchmarks/data/traces)"),
                _json("the results"),
            ),
        ),
        (
            "history",
            "each window's usage over time as a chart, with bhogad's flips marked",
            (
                _provider("provider", nargs="?", metavar="PROVIDER", help="only this provider"),
                _arg(
                    "--days",
                    type=history_days,
                    default=1.0,
                    metavar="N",
                    help="how far back, 0.1-7 days (default 1)",
                ),
                _json("the points and flips"),
                no_color,
            ),
        ),
        ("doctor", "what is found, what is missing, and the command that fixes each problem", ()),
        ("pause", "stop changing the Hermes config until `bhoga resume`", ()),
        ("resume", "let bhoga change the Hermes config again", ()),
        ("pin", "keep Hermes on its current provider: bhogad changes nothing until `bhoga unpin`", ()),
        ("unpin", "let bhogad route Hermes again after a pin or a hand edit", ()),
    )
