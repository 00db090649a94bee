"""Watching a few directories with watchdog (inotify on Linux), debounced, on behalf of the asyncio loop.

Theory of operation:

* A `WatchSpec` names one directory and the files in it that matter, with a tag ("claude", "codex", ...).
  `specs()` is called again on every re-arm, so targets that move (the newest Codex day directory) are simply
  recomputed.
* Each directory is watched non-recursively at its real path (a symlinked `~/.hermes` delivers no events
  otherwise), plus the nearest existing ancestor of it, for the one name on the way down: that is how a
  directory created, deleted, re-created or re-linked after start-up is noticed. A file that is itself a
  symlink is also watched in its target's directory.
* Observer threads only post `(kind, src, dest, is_dir)` to the loop with `call_soon_threadsafe`; everything
  else, the arm table included, lives on the loop thread.
* Tags are debounced: a callback fires after a quiet period, and at the latest `max_wait` after the first
  pending event, so an agent appending to a rollout every few milliseconds cannot postpone it forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bhoga._record import field, record

__all__ = ["Debouncer", "WatchSpec", "Watcher"]

log = logging.getLogger(__name__)


@record
class WatchSpec:
    """One directory to watch.

    Attributes:
        tag: what changed, handed to the callback ("claude", "codex", "hermes", ...).
        directory: the directory (it may not exist yet, and may be a symlink).
        names: file names that matter; None means every file.
        modified: react to in-place modifications too (files kept open and appended, like Codex rollouts);
            otherwise only to closes after writing, creations, renames and deletions.
        new_dirs: a directory created or moved in here is a change (a new Codex day directory).
    """

    tag: str
    directory: Path
    names: frozenset[str] | None = None
    modified: bool = False
    new_dirs: bool = False


@record(frozen=False)
class _DirPlan:
    """What one watched real directory is watched for."""

    files: list[tuple[frozenset[str] | None, str, bool]] = field(default_factory=list)
    chain: dict[str, set[str]] = field(default_factory=dict)
    new_dirs: set[str] = field(default_factory=set)
    modified: bool = False


class Debouncer:
    """Collect tags on the loop thread; call `callback(tags)` after `quiet` s, at most `max_wait` s late."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        callback: Callable[[frozenset[str]], None],
        *,
        quiet: float = 0.3,
        max_wait: float = 0.5,
    ) -> None:
        self._loop = loop
        self._callback = callback
        self.quiet = quiet
        self.max_wait = max_wait
        self._pending: set[str] = set()
        self._first = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def add(self, tag: str) -> None:
        """Note a change; (re)start the quiet period without passing the max-wait deadline."""
        now = self._loop.time()
        if not self._pending:
            self._first = now
        self._pending.add(tag)
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(min(now + self.quiet, self._first + self.max_wait), self._fire)

    def _fire(self) -> None:
        tags, self._pending, self._timer = frozenset(self._pending), set(), None
        if tags:
            self._callback(tags)

    def cancel(self) -> None:
        """Drop pending tags (at shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._pending = None, set()


def _observer_class() -> type[Any] | None:
    """The native observer of this platform; never the polling one (it costs CPU while idle)."""
    try:
        if sys.platform.startswith("linux"):
            from watchdog.observers.inotify import InotifyObserver  # noqa: PLC0415 - heavy; daemon only

            return InotifyObserver
        if sys.platform == "darwin":
            from watchdog.observers.fsevents import FSEventsObserver  # noqa: PLC0415

            return FSEventsObserver
        from watchdog.observers.kqueue import KqueueObserver  # noqa: PLC0415

        return KqueueObserver
    except (ImportError, OSError) as exc:
        log.warning("file watching unavailable (%s); relying on scheduled discovery", exc)
        return None


def _nearest_existing(path: Path) -> tuple[Path, str] | None:
    """The nearest existing ancestor directory of `path` and the child name that leads towards it."""
    child, parent = path, path.parent
    while True:
        if parent.is_dir():
            return parent, child.name
        if parent == parent.parent:
            return None
        child, parent = parent, parent.parent


class Watcher:
    """Owns one observer; every method runs on the loop thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        specs: Callable[[], Iterable[WatchSpec]],
        on_change: Callable[[frozenset[str]], None],
        *,
        quiet: float = 0.3,
        max_wait: float = 0.5,
    ) -> None:
        self._loop = loop
        self._specs = specs
        self.debouncer = Debouncer(loop, on_change, quiet=quiet, max_wait=max_wait)
        self._plan: dict[str, _DirPlan] = {}
        self._watches: dict[str, tuple[Any, bool]] = {}
        self._armed_specs: set[tuple[str, str]] = set()
        self._observer: Any = None
        self._handler = _Handler(loop, self._on_event)
        self._rearm_pending = False

    @property
    def watched(self) -> tuple[str, ...]:
        """The real directories watched right now (for status and tests)."""
        return tuple(sorted(self._watches))

    def start(self) -> None:
        """Start the observer thread and arm every spec."""
        cls = _observer_class()
        if cls is None:
            return
        self._observer = cls()
        self._observer.daemon = True
        self._observer.start()
        self.rearm(notify=False)

    def stop(self) -> None:
        """Stop the observer thread and forget pending changes."""
        self.debouncer.cancel()
        obs, self._observer = self._observer, None
        if obs is not None:
            obs.stop()
            obs.join(timeout=1.0)
        self._watches.clear()
        self._plan.clear()

    def request_rearm(self) -> None:
        """Re-arm soon, once however many structural events arrive in this loop iteration."""
        if not self._rearm_pending:
            self._rearm_pending = True
            self._loop.call_soon(self.rearm)

    def rearm(self, *, notify: bool = True) -> None:
        """Recompute the plan from the specs and (un)schedule directories to match it.

        With `notify`, tags whose directory became watchable or went away are reported as changed: files
        may have been written before the watch existed.
        """
        self._rearm_pending = False
        if self._observer is None:
            return
        plan: dict[str, _DirPlan] = {}
        armed: set[tuple[str, str]] = set()
        for spec in self._specs():
            self._plan_spec(spec, plan, armed)
        if notify:
            for tag in {t for t, _ in armed ^ self._armed_specs}:
                self.debouncer.add(tag)
        self._armed_specs = armed
        self._plan = plan
        for real in list(self._watches):
            if real not in plan or self._watches[real][1] != plan[real].modified:
                self._unschedule(real)
        for real, dp in plan.items():
            if real not in self._watches:
                self._schedule(real, dp.modified)

    def _plan_spec(self, spec: WatchSpec, plan: dict[str, _DirPlan], armed: set[tuple[str, str]]) -> None:
        directory = spec.directory.expanduser().absolute()
        near = _nearest_existing(directory)
        if near is not None:
            anc, child = near
            plan.setdefault(os.path.realpath(anc), _DirPlan()).chain.setdefault(child, set()).add(spec.tag)
        if not directory.is_dir():
            return
        real = os.path.realpath(directory)
        armed.add((spec.tag, real))
        dp = plan.setdefault(real, _DirPlan())
        dp.files.append((spec.names, spec.tag, spec.modified))
        dp.modified |= spec.modified
        if spec.new_dirs:
            dp.new_dirs.add(spec.tag)
        for name in spec.names or ():
            link = directory / name
            if link.is_symlink():
                target = Path(os.path.realpath(link))
                if target.parent.is_dir():
                    tp = plan.setdefault(str(target.parent), _DirPlan())
                    tp.files.append((frozenset({target.name}), spec.tag, spec.modified))
                    tp.modified |= spec.modified

    def _schedule(self, real: str, modified: bool) -> None:
        from watchdog import events as ev  # noqa: PLC0415

        kinds: list[type[ev.FileSystemEvent]] = [
            ev.FileCreatedEvent, ev.FileClosedEvent, ev.FileMovedEvent, ev.FileDeletedEvent,
            ev.DirCreatedEvent, ev.DirDeletedEvent, ev.DirMovedEvent,
        ]  # fmt: skip
        if modified:
            kinds.append(ev.FileModifiedEvent)
        try:
            watch = self._observer.schedule(self._handler, real, event_filter=kinds)
        except OSError as exc:
            # The directory vanished between planning and scheduling; the parent watch will notice.
            log.debug("cannot watch %s: %s", real, exc)
            self.request_rearm()
            return
        self._watches[real] = (watch, modified)
        log.debug("watching %s", real)

    def _unschedule(self, real: str) -> None:
        watch, _ = self._watches.pop(real)
        try:
            self._observer.unschedule(watch)
        except (KeyError, OSError, RuntimeError) as exc:
            log.debug("unwatch %s: %s", real, exc)

    def _on_event(self, kind: str, src: str, dest: str, is_dir: bool) -> None:
        """One filesystem event, on the loop thread."""
        for path in (src, dest) if dest else (src,):
            if path in self._plan and kind in ("deleted", "moved"):
                self.request_rearm()
            parent, name = os.path.split(path)
            dp = self._plan.get(parent)
            if dp is None:
                continue
            if name in dp.chain:
                self.request_rearm()
                for tag in dp.chain[name]:
                    self.debouncer.add(tag)
            if is_dir:
                if dp.new_dirs and kind in ("created", "moved"):
                    self.request_rearm()
                    for tag in dp.new_dirs:
                        self.debouncer.add(tag)
                continue
            for names, tag, modified in dp.files:
                if (names is None or name in names) and (kind != "modified" or modified):
                    self.debouncer.add(tag)


class _Handler:
    """The watchdog handler: runs on an observer thread, so it only posts the event to the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: Callable[[str, str, str, bool], None]) -> None:
        self._loop = loop
        self._sink = sink

    def dispatch(self, event: Any) -> None:
        dest = os.fsdecode(getattr(event, "dest_path", "") or "")
        with contextlib.suppress(RuntimeError):  # the loop is closed: shutting down
            self._loop.call_soon_threadsafe(
                self._sink, event.event_type, os.fsdecode(event.src_path), dest, bool(event.is_directory)
            )
