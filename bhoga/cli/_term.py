"""Terminal styling for the CLI's views: plain ANSI colour, Unicode bars, and the width to fit.

Plain ANSI SGR codes rather than a rendering library: the views need a handful of colours, a bar and a line
clear, every terminal (and ssh session) understands those, and `bhoga status` stays quick to start.
Colour follows the usual conventions: only on a terminal, never when `NO_COLOR` is set (https://no-color.org)
or `--no-color` was given, and `FORCE_COLOR` turns it on for a pipe (for `watch -c`, `less -R`).
"""

from __future__ import annotations

import os
import re
import sys

from bhoga._record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

__all__ = ["Style", "strip_ansi", "style_for", "terminal_columns"]

_CODES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "grey": "90",
}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """`text` without escape sequences (what a pipe would have shown)."""
    return _ANSI.sub("", text)


@record
class Style:
    """How to draw: with colour or not, Unicode blocks or ASCII, and how many columns there are."""

    color: bool = False
    unicode: bool = True
    width: int = 80

    def paint(self, text: str, *styles: str) -> str:
        """`text` in the given styles ("red", "bold", ...) when colour is on, else unchanged."""
        if not self.color or not styles or not text:
            return text
        codes = ";".join(_CODES[s] for s in styles if s in _CODES)
        return f"\x1b[{codes}m{text}\x1b[0m" if codes else text

    def bar(self, fraction_left: float, width: int, colour: str) -> str:
        """A bar of the part still left; the used part is drawn faint."""
        fraction_left = max(0.0, min(1.0, fraction_left))
        full = round(fraction_left * width)
        on, off = ("█", "░") if self.unicode else ("#", "-")
        return self.paint(on * full, colour) + self.paint(off * (width - full), "grey")


def _wants_color(stream: TextIO, flag: bool | None) -> bool:
    if flag is False or os.environ.get("NO_COLOR", ""):
        return False
    if flag is True or os.environ.get("FORCE_COLOR", ""):
        return True
    if os.environ.get("TERM", "") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def terminal_columns() -> int:
    """`shutil.get_terminal_size((80, 24)).columns` without importing shutil (~3 ms with its compressors)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns or 80


def style_for(stream: TextIO | None = None, *, color: bool | None = None) -> Style:
    """The style for writing to `stream` (stdout by default); `color=False` is `--no-color`."""
    stream = stream if stream is not None else sys.stdout
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    width = terminal_columns()
    return Style(color=_wants_color(stream, color), unicode=encoding == "utf8", width=max(40, min(width, 200)))
