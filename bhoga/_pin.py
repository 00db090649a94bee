"""Pins (DESIGN §8.2): the user's word on Hermes' route is final.

One small JSON file beside the state file (`hermes-route.json`) remembers, for the Hermes config bhoga routes,
the `model.provider` bhoga last wrote or took as its starting point, and whether the route is pinned. A
provider in the file that differs from it was written by someone else (by hand, `hermes model`, Hermes'
setup): that pins the route, and bhogad changes nothing of `model.provider`, `model.default`, `base_url` or
`api_mode` until `bhoga unpin`. The file survives restarts, so a hand edit made while bhogad was stopped pins
too. It holds no secret.
"""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from bhoga import _files
from bhoga._paths import state_path
from bhoga._record import record, replace
from bhoga.errors import StateError

__all__ = [
    "RouteRecord",
    "load",
    "pin_path",
    "record_abandoned",
    "record_pending",
    "record_written",
    "save",
    "set_pinned",
]

log = logging.getLogger(__name__)


def pin_path() -> Path:
    """`hermes-route.json` in the directory of the state file."""
    return state_path().parent / "hermes-route.json"


@record
class RouteRecord:
    """What bhoga knows about the route of one Hermes config."""

    config: str | None = None
    """The config.yaml this record is about; a record for another file is no record."""
    known_provider: str | None = None
    """`model.provider` as bhoga last wrote it or took it as its starting point."""
    pinned: bool = False
    pinned_since: datetime | None = None
    pinned_provider: str | None = None
    pending_provider: str | None = None
    """What a bhoga write in progress is about to put there: a write killed after its rename but before it was
    recorded must not look like somebody else's edit."""

    def ours(self, provider: str | None) -> bool:
        """Whether `provider` in the file is one bhoga wrote (or took as its starting point)."""
        return (provider or "") in {self.known_provider, self.pending_provider}

    def for_config(self, path: Path) -> RouteRecord:
        """This record when it is about `path`, else an empty one for it."""
        return self if self.config == str(path) else RouteRecord(config=str(path))


def load() -> RouteRecord:
    """The saved record; an empty one when there is none or it cannot be read (never raises)."""
    try:
        d = json.loads(_files.read_bounded(pin_path(), 65536))
    except (OSError, ValueError, RecursionError):
        return RouteRecord()
    if not isinstance(d, dict):
        return RouteRecord()

    def text(key: str) -> str | None:
        v = d.get(key)
        return v if isinstance(v, str) and v else None

    since = None
    with contextlib.suppress(TypeError, ValueError):
        since = datetime.fromisoformat(d["pinned_since"]) if isinstance(d.get("pinned_since"), str) else None
    return RouteRecord(
        config=text("config"),
        known_provider=text("known_provider"),
        pinned=d.get("pinned") is True,
        pinned_since=since,
        pinned_provider=text("pinned_provider"),
        pending_provider=text("pending_provider"),
    )


def save(record: RouteRecord) -> None:
    """Write `record` atomically (0600); a failure is one warning, never an exception."""
    path = pin_path()
    doc = {
        "config": record.config,
        "known_provider": record.known_provider,
        "pinned": record.pinned,
        "pinned_since": record.pinned_since.isoformat() if record.pinned_since else None,
        "pinned_provider": record.pinned_provider,
        "pending_provider": record.pending_provider,
    }
    try:
        # Under its lock, so a bhoga temp file seen beside it is a writer's killed mid-write, not one in progress.
        with _files.locked_for(path, "Hermes route record"):
            _files.remove_orphans(_files.real_path(path))
            _files.atomic_write(path, json.dumps(doc, indent=1).encode(), mode=0o600)
    except OSError as exc:
        log.warning("cannot save the Hermes route record %s: %s", path, exc.strerror or exc)
    except StateError as exc:
        log.warning("cannot save the Hermes route record: %s", exc)


def record_written(config: Path, provider: str | None) -> None:
    """bhoga wrote (or accepted) `provider` into `config`: it is the starting point of pin detection."""
    record = load().for_config(config)
    new = replace(record, known_provider=provider or "", pending_provider=None)
    if new != record:  # saved already: an apply that changed nothing writes (and fsyncs) nothing either
        save(new)


def record_pending(config: Path, provider: str) -> None:
    """bhoga is about to write `provider` into `config` (see `RouteRecord.pending_provider`)."""
    record = load().for_config(config)
    if record.known_provider is not None and provider != record.known_provider:
        save(replace(record, pending_provider=provider))


def record_abandoned(config: Path) -> None:
    """The write `record_pending` announced did not happen (the file was being written by someone else)."""
    record = load().for_config(config)
    if record.pending_provider is not None:
        save(replace(record, pending_provider=None))


def set_pinned(config: Path, provider: str | None, pinned: bool, now: datetime | None = None) -> RouteRecord:
    """Pin the route of `config` to its current `provider` or unpin it; the saved record."""
    record = load().for_config(config)
    if pinned:
        since = record.pinned_since if record.pinned else (now or datetime.now(UTC))
        record = replace(record, pinned=True, pinned_since=since, pinned_provider=provider, known_provider=provider)
    else:
        record = replace(record, pinned=False, pinned_since=None, pinned_provider=None, known_provider=provider)
    save(record)
    return record
