"""What a discovery failed at, in the one wording every asker reads: `discovery failed: <pid>: <why>`.

Whoever asks sees the same lines: `bhoga status` / `best` / `apply` running discovery themselves, bhogad's `pass`
answer, `bhogad --once`, and bhogad's `status` and `best` answers, which carry what its discoveries last failed at
(`KeptFailures`). A line never holds a secret: each comes from a source's `log_failure` (redacted, bounded) or an
unreadable file's name and errno, never from a response body.

This module loads nothing heavy at import (no `logging`): `bhoga status` answered by bhogad only prints lines.
"""

from __future__ import annotations

import sys

from bhoga._record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from bhoga._model import Observation
    from bhoga._router import Router

__all__ = ["PREFIX", "DiscoveryReport", "KeptFailures", "discover_telling", "tell"]

PREFIX = "discovery failed: "
"""What every failure line starts with, as in the `errors` of bhogad's answers and `--json` output."""

_SOURCES = "bhoga.discovery"


@record
class DiscoveryReport:
    """How one discovery went, provider by provider: what failed, and who had no news (a call skipped)."""

    failed: tuple[tuple[str, str], ...] = ()
    """(provider id, why) for each provider a source of which failed, in the registry's order."""
    unasked: frozenset[str] = frozenset()
    """Providers that did not fail but skipped a call and read nothing fresh: no news either way."""
    error: str | None = None
    """Discovery as a whole failed (one line): no provider was discovered at all."""

    @classmethod
    def of(cls, found: Iterable[Observation]) -> DiscoveryReport:
        """The report of one run's observations."""
        observations = list(found)
        return cls(
            failed=tuple((o.provider_id, "; ".join(o.failures)) for o in observations if o.failures),
            unasked=frozenset(o.provider_id for o in observations if o.unasked and not o.failures),
        )

    def lines(self) -> tuple[str, ...]:
        """One line per failed provider (`claude_code: Claude usage endpoint: HTTP 500`), without `PREFIX`."""
        if self.error is not None:
            return (f"quota discovery: {self.error}",)
        return tuple(f"{pid}: {why}" for pid, why in self.failed)


class KeptFailures:
    """bhogad's memory of its discoveries' failures, per provider, for its `status` and `best` answers.

    A provider's line stays until a later discovery of that provider gets through without failing; a discovery
    that skipped its call (the endpoint's minimum interval, a retry-after, an auth back-off) has no news and
    changes nothing. Without this, a discovery run for a file change seconds after a failed call would hide it.
    Used from the daemon's loop thread only.
    """

    def __init__(self) -> None:
        self._by_pid: dict[str, str] = {}
        self._whole: str | None = None
        self._lines: tuple[str, ...] = ()

    def record(self, report: DiscoveryReport) -> bool:
        """Take one discovery's report; whether the lines told changed."""
        if report.error is not None:
            self._whole = report.error  # nobody was discovered: every provider keeps what it had
        else:
            self._whole = None
            failed = dict(report.failed)
            kept = {pid: why for pid, why in self._by_pid.items() if pid in report.unasked}
            self._by_pid = {**kept, **failed}
        before, self._lines = self._lines, self._told()
        return before != self._lines

    def _told(self) -> tuple[str, ...]:
        from bhoga._providers import PROVIDERS  # noqa: PLC0415 - the daemon has it loaded; a client never does

        order = {pid: i for i, pid in enumerate(PROVIDERS)}
        pids = sorted(self._by_pid, key=lambda pid: (order.get(pid, len(order)), pid))
        lines = [f"{PREFIX}{pid}: {self._by_pid[pid]}" for pid in pids]
        if self._whole is not None:
            lines.append(f"{PREFIX}quota discovery: {self._whole}")
        return tuple(lines)

    def lines(self) -> tuple[str, ...]:
        """What failed and has not got through since, `discovery failed: <pid>: <why>` each, registry order."""
        return self._lines


def tell(failed: Iterable[str], program: str) -> None:
    """One `<program>: discovery failed: <pid>: <why>` line on stderr per failure (stdout stays the command's)."""
    for line in failed:
        print(f"{program}: {' '.join(line.split())}", file=sys.stderr)


def discover_telling(router: Router, *, program: str, handler: str) -> tuple[str, ...]:
    """Run `router.discover()` here and tell each failed source once on stderr (`tell`); the failure lines.

    Each source also logs its failure as a warning as it fails. On the stderr handler named `handler` (the
    command's own) those warnings are held back while discovery runs, and afterwards only those no failure line
    already says (a refused gate file, say) are let through, so a person reads every failure once, in the words
    above. Any other handler (a library caller's own logging) keeps every record.
    """
    import logging  # noqa: PLC0415 - only the path that discovers pays for it

    held: list[logging.LogRecord] = []

    def hold(record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and (record.name == _SOURCES or record.name.startswith(_SOURCES + ".")):
            held.append(record)  # list.append is atomic: sources log from their own threads
            return False
        return True

    handlers = [h for h in logging.getLogger().handlers if h.get_name() == handler]
    for h in handlers:
        h.addFilter(hold)
    try:
        failed = tuple(PREFIX + line for line in router.discover())
    finally:
        for h in handlers:
            h.removeFilter(hold)
    tell(failed, program)
    for rec in held:
        if not any(rec.getMessage() in line for line in failed):
            for h in handlers:
                h.handle(rec)
    return failed
