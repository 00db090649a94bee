"""The `bhoga` command's argument types: each turns one word into a value or a one-line usage error.

An error message never echoes a long argument whole (`_shown`), so a 100 KB word is one short line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

__all__ = ["count", "error_text", "header", "history_days", "model", "pct", "sim_days", "source", "status_code"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    _N = TypeVar("_N", int, float)


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
