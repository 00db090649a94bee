"""The CLI's side of discovery failures: each source that failed is told once on stderr, in bhogad's words.

Worded as bhogad's answers word it (`bhoga: discovery failed: <pid>: <why>`), whoever found the failure: a
command that ran discovery itself (`discover`: the discovery log's own copy of each line is held back on the
CLI's stderr handler), or bhogad, whose `status` and `best` answers carry what its discoveries last failed at
(`tell`). Loads no `logging` for the latter: a command bhogad answers stays light.
"""

from __future__ import annotations

from bhoga._discovery_failures import PREFIX, discover_telling
from bhoga._discovery_failures import tell as _tell
from bhoga.cli import HANDLER

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from bhoga._router import Router

__all__ = ["PREFIX", "discover", "tell"]


def discover(router: Router) -> tuple[str, ...]:
    """Run `router.discover()` here; each failed source told on stderr (`tell`). Returns the failure lines."""
    return discover_telling(router, program="bhoga", handler=HANDLER)


def tell(failed: Iterable[str]) -> None:
    """One `bhoga: discovery failed: <pid>: <why>` line on stderr per failure (stdout stays the command's own)."""
    _tell(failed, "bhoga")
