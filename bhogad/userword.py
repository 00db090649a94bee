"""The user's word on Hermes' route is final (DESIGN §8.2), and bhogad, the one writer, carries it out.

* A change of `model.provider` that bhoga did not write pins the route (`pin_check`, asked by every pass).
* `bhoga pin` / `unpin` set or lift the pin (`set_pin`).
* `bhoga apply` handed to bhogad is written by it (`apply_model`), lifting any pin, and the model applied is
  routed from then on while Hermes uses it, so no pass reverts it.

Each takes the `Flipper`'s lock: one Hermes write at a time, whoever asked for it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from bhoga import _pin
from bhoga._record import record
from bhoga.errors import HermesConfigError
from bhoga.hermes import SETTLE

from .config import DaemonConfig

if TYPE_CHECKING:
    from .flip import Flipper

__all__ = ["ApplyResult", "apply_model", "pin_check", "set_pin"]

log = logging.getLogger(__name__)


def pin_check(path: Path, file_provider: str | None) -> _pin.RouteRecord:
    """The route record, after noticing a `model.provider` that bhoga did not write (which pins)."""
    record = _pin.load().for_config(path)
    if record.known_provider is None:
        # First sight of this file: what it says is the starting point, not somebody's edit.
        _pin.record_written(path, file_provider or "")
        return record
    if not record.pinned and record.ours(file_provider):
        if record.pending_provider is not None:
            _pin.record_written(path, file_provider)  # a write of ours that was not recorded (killed?)
        return record
    if not record.pinned:
        before = record.known_provider or "(none)"
        record = _pin.set_pinned(path, file_provider, True)
        log.info(
            "Hermes model.provider changed from %s to %s outside bhoga: route pinned, bhogad will not change it "
            "(run `bhoga unpin` to let bhogad route again)",
            before,
            file_provider or "(none)",
        )
    return record


@record
class ApplyResult:
    """What an `apply` request did (DESIGN §8.2)."""

    changed: bool
    provider: str
    """The bhoga provider id Hermes is routed to."""
    reason: str
    path: Path
    diff: str = ""
    """The unified diff (dry runs only)."""
    route: str = ""
    """`model.provider / model.default` after the write."""


def apply_model(flipper: Flipper, config: DaemonConfig, model: str, *, dry_run: bool, aux: bool) -> ApplyResult:
    """Route Hermes to the best provider for `model` now, as `bhoga apply` asks: the one writer's write.

    The route is handed back to bhogad (an existing pin is lifted) and `model` is routed from now on while Hermes
    uses it, so the daemon never reverts what was applied. A config being written by someone else is waited for as
    `bhoga.hermes.apply_to_hermes` waits (blocking: run it off the loop). Raises `HermesConfigError` with one line
    (`HermesConfigBusyError` for a config still being written after that: nothing is written into it).
    """
    from bhoga import hermes  # noqa: PLC0415

    with flipper._lock:
        path = hermes.hermes_config_path()
        exclusions = hermes.hermes_exclusions(path)
        ranked = flipper.router.ranked(model, exclude=exclusions)
        if not ranked:
            raise HermesConfigError(f"no provider Hermes can use for {model}; run `bhoga doctor`")
        rec = ranked[0]
        fallbacks = ranked[1:] if config.write_fallbacks else ()
        write_aux = aux or config.write_auxiliary
        if dry_run:
            diff = hermes.hermes_diff(rec, config_path=path, write_auxiliary=write_aux, fallbacks=fallbacks)
            return ApplyResult(False, rec.provider_id, rec.reason, path, diff)
        # The guard and the patience of `bhoga apply` without a daemon (`_patiently`: `BUSY_TRIES` tries, `SETTLE`
        # apart, then the same one line): this runs in a worker thread, and the client waits `APPLY_WAIT` for it.
        # bhogad's own last write is no one's save in progress.
        own = flipper._own is not None and hermes.file_identity(path) == flipper._own
        settle = None if own else SETTLE
        changed = hermes._patiently(
            lambda: hermes.apply_recommendation(
                rec, config_path=path, write_auxiliary=write_aux, fallbacks=fallbacks, settle=settle
            ),
            settle,
        )
        if changed:
            flipper._own = hermes.file_identity(path)
        after = hermes.read_hermes_route(path)
        provider = after.provider if after else None
        if _pin.load().for_config(path).pinned:
            log.info("apply %s: route unpinned (bhoga apply hands the route back to bhogad)", model)
        _pin.set_pinned(path, provider, False)
        written = (after.model if after and after.model else rec.hermes_model, model)
        flipper._applied = flipper._written = written
        if changed:
            log.info("apply %s: %s → %s in %s (%s)", model, provider, rec.provider_id, path, rec.reason)
        return ApplyResult(changed, rec.provider_id, rec.reason, path, "", f"{provider} / {written[0]}")


def set_pin(flipper: Flipper, pinned: bool) -> _pin.RouteRecord:
    """Pin Hermes' current route (`bhoga pin`) or hand it back to bhogad (`bhoga unpin`)."""
    from bhoga import hermes  # noqa: PLC0415

    with flipper._lock:
        path = hermes.hermes_config_path()
        route = hermes.read_hermes_route(path)
        record = _pin.set_pinned(path, route.provider if route else None, pinned)
    log.info("route %s%s", "pinned" if pinned else "unpinned", f" to {record.pinned_provider}" if pinned else "")
    return record
