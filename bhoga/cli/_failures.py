"""Discovery run by a command itself (no bhogad answered): each source that failed is told once, in bhogad's words.

`Router.discover` returns one line per failed source, and each source has also logged that line as a warning as
it failed. A person running `bhoga status` should read every failure once, worded as bhogad's `pass` answer and
`bhogad --once` word it (`discovery failed: <pid>: <why>`), with the provider named; so while discovery runs the
CLI's own stderr handler holds the discovery warnings back, and afterwards lets through only those no failure line
already says (a refused gate file, say). A caller of `bhoga.cli.main` with its own logging keeps every record.
"""

from __future__ import annotations

import logging
import sys

from bhoga.cli import HANDLER

TYPE_CHECKING = False
if TYPE_CHECKING:
    from bhoga._router import Router

__all__ = ["PREFIX", "discover", "tell"]

PREFIX = "discovery failed: "
"""What every failure line starts with, as in the `errors` of bhogad's `pass` answer."""

_SOURCES = "bhoga.discovery"


class _Hold(logging.Filter):
    """Keeps the discovery warnings that reach a handler instead of letting them through."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and (record.name == _SOURCES or record.name.startswith(_SOURCES + ".")):
            self.held.append(record)  # list.append is atomic: sources log from their own threads
            return False
        return True


def discover(router: Router) -> tuple[str, ...]:
    """Run `router.discover()` here; each failed source told on stderr (`tell`). Returns the failure lines."""
    hold = _Hold()
    handlers = [h for h in logging.getLogger().handlers if h.get_name() == HANDLER]
    for handler in handlers:
        handler.addFilter(hold)
    try:
        failed = tuple(PREFIX + line for line in router.discover())
    finally:
        for handler in handlers:
            handler.removeFilter(hold)
    tell(failed)
    for record in hold.held:
        if not any(record.getMessage() in line for line in failed):
            for handler in handlers:
                handler.handle(record)
    return failed


def tell(failed: tuple[str, ...]) -> None:
    """One `bhoga: discovery failed: <pid>: <why>` line on stderr per failure (stdout stays the command's own)."""
    for line in failed:
        print(f"bhoga: {' '.join(line.split())}", file=sys.stderr)
