"""The daemon: one asyncio loop owns all state; threads only do blocking work and hand results back.

Theory of operation:

* Inputs: scheduled discovery, debounced file changes, socket requests, and the Router's own "quota changed"
  callback (fired after discovery, a recorded turn, or set_quota, from whichever thread did the merge).
* Every quota change asks for a Hermes pass. Passes run one at a time in a worker thread; changes arriving
  during a pass cause exactly one more pass afterwards, so bursts coalesce instead of queueing.
* Blocking work (discovery, Hermes passes) runs in short-lived daemon threads (`tasks`).
* The ticker wakes at most every 30 s (less under a systemd watchdog): it runs the schedule, notices
  suspend/resume and pings the watchdog from the loop thread itself. A timer re-runs the pass when a window
  resets or a throttle ends, since the ranking changes then with no new observation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bhoga import __version__
from bhoga._paths import socket_path
from bhoga._router import Router
from bhoga.errors import BhogaError, ConfigError

from . import sdnotify, targets
from .config import DaemonConfig, load_config
from .flip import Flipper, FlipResult
from .handler import Handler
from .notify import Notifier, ProviderView
from .ondemand import OnDemand, PassLedger
from .pointer import forget_socket, record_socket
from .scheduler import Periodic, ResumeDetector
from .tasks import DiscoveryRunner, in_thread
from .view import _SocketView
from .watch import Watcher, WatchSpec

if TYPE_CHECKING:
    from .server import Server

__all__ = ["Daemon"]

log = logging.getLogger(__name__)

_TICK = 30.0
_MAX_WAIT = 0.5
"""Seconds a file change may wait for quiet: a Codex session appending all the time is still seen twice a second."""
_STOP_BUDGET = 1.5
_FIRST_PASS_WAIT = 8.0
"""The first Hermes pass waits this long at most for the first discovery: a stuck source (a lock held by a
hung process, a slow disk) must never keep the daemon from routing on what it already knows."""
"""Seconds shutdown may wait for a Hermes write in progress (the service manager allows 2 s in total)."""


class Daemon(_SocketView):
    """bhogad's state and its event handlers; `serve()` runs until SIGTERM/SIGINT."""

    def __init__(
        self,
        config: DaemonConfig,
        *,
        config_path: Path | None = None,
        quiet: float = 0.3,
        router: Router | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        # Tests hand in a Router they keep across daemons; bhogad makes the owner of this machine's state, and the
        # only writer of the turn log: every turn told to bhoga reaches it once (a harness's Router forwards).
        self.router = router or Router(
            eager=False,
            daemon=False,
            owner=True,
            log_turns=True,
            reserve=config.reserve,
            policy=config.policy,
            prices=dict(config.prices),
        )
        self.flipper = Flipper(self.router)
        self.started_at = datetime.now(UTC)
        self.last_pass: FlipResult | None = None
        self.hermes_path: Path | None = None
        self._quiet = quiet
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._flip_task: asyncio.Task[None] | None = None
        self._flip_again = False
        self.passes = PassLedger()
        self._after_discovery = 0
        """The number of the Hermes pass that sees what the last discovery found."""
        self.on_demand: OnDemand | None = None
        self.discovery: DiscoveryRunner | None = None
        self._change_timer: asyncio.TimerHandle | None = None
        self._errors_logged: set[str] = set()
        self._busy_told = False
        """Whether the pass put off by someone writing Hermes' config was logged (once, until a pass gets through)."""
        self.watcher: Watcher | None = None
        self.periodic: Periodic | None = None
        self.resume = ResumeDetector()
        self.notifier = Notifier(config.notify, config.notify_command, desktop=config.notify_desktop)
        self._views: dict[str, ProviderView] | None = None
        self._server: Server | None = None
        self._publish_timer: asyncio.TimerHandle | None = None
        self.handler = Handler(self.router, self)
        """The Server's handler: answers socket requests from the Router and this daemon's view."""

    def request_discovery(self, *, force: bool, why: str) -> None:
        """Run discovery soon (see `DiscoveryRunner`)."""
        if self.discovery is not None and self._stopping is not None and not self._stopping.is_set():
            self.discovery.request(force=force, why=why)

    def _first_pass_overdue(self) -> None:
        if self.last_pass is None and (self._flip_task is None or self._flip_task.done()):
            log.info("first discovery still running after %.0f s; routing on what is known", _FIRST_PASS_WAIT)
            self.request_flip()

    def _discovery_done(self, failures_changed: bool) -> None:
        if failures_changed:
            self.state_changed()  # `status --watch` subscribers get the failures with the rest
        if self.last_pass is None:
            self.request_flip()  # the first pass, even when discovery changed nothing
        # What discovery found was merged before this callback (and asked for a pass): the pass queued now, or
        # else the one running, or else the last one, sees it.
        self._after_discovery = self.passes.current()

    # -- events ---------------------------------------------------------------------------------------

    def _watch_specs(self) -> list[WatchSpec]:
        from bhoga.hermes import hermes_config_path  # noqa: PLC0415 - the Hermes writer loads late

        try:
            self.hermes_path = hermes_config_path()
        except BhogaError as exc:
            log.warning("%s", exc)
        return targets.watch_specs(self.hermes_path)

    def on_files(self, tags: frozenset[str]) -> None:
        """Debounced file changes."""
        log.debug("changed: %s", ", ".join(sorted(tags)))
        if any(t.startswith((targets.LOGIN, targets.QUOTA)) for t in tags):
            # After a new login discovery may skip its "too soon" guard: a new login is a new account.
            login = any(t.startswith(targets.LOGIN) for t in tags)
            self.request_discovery(force=login, why="files changed")
        if targets.HERMES_HOME in tags and self.watcher is not None:
            self.watcher.request_rearm()  # `hermes profile use` moves the live config elsewhere
        if tags & {targets.HERMES, targets.HERMES_HOME}:
            self.request_flip()

    def reload(self) -> None:
        """SIGHUP: re-read bhogad.toml; an invalid file keeps the settings in force."""
        if self._stopping is not None and self._stopping.is_set():
            return
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            log.error("%s; keeping the previous settings", exc)
            return
        self.config = config
        self.router.reserve, self.router.policy = config.reserve, config.policy
        self.router.prices = dict(config.prices)
        self.notifier.configure(config.notify, config.notify_command, desktop=config.notify_desktop)
        if self.periodic is not None:
            self.periodic.set_interval(config.interval)
        log.info("settings reloaded from %s", config.path or "defaults (no bhogad.toml)")
        self.request_flip()

    def stop(self) -> None:
        """SIGTERM/SIGINT."""
        if self._stopping is not None and not self._stopping.is_set():
            log.info("stopping")
            self._stopping.set()

    def _on_quota_change(self) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.request_flip)
                loop.call_soon_threadsafe(self.state_changed)

    def _tick(self) -> float:
        """One ticker step; returns seconds until the next one."""
        assert self.periodic is not None
        gap = self.resume.check()
        if gap is not None:
            log.info("resumed after about %.0f s asleep; re-reading quotas", gap)
            if self.watcher is not None:
                self.watcher.rearm()
            # Not forced: the endpoints' minimum intervals hold after a resume too (only a new login skips them).
            self.request_discovery(force=False, why="resume")
            self.request_flip()
        self.periodic.run_pending()
        delay = min(_TICK, self.periodic.idle_seconds())
        if (wd := sdnotify.watchdog_interval()) is not None:
            sdnotify.notify("WATCHDOG=1")
            delay = min(delay, wd)
        return max(delay, 0.2)

    # -- lifecycle ------------------------------------------------------------------------------------

    async def serve(self) -> int:
        """Listen, watch and schedule until stopped; 0 on a clean stop, 1 when the socket is taken."""
        from .server import Server, SocketInUse  # noqa: PLC0415 - keeps `bhogad --help` light

        loop = self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        fds = sdnotify.listen_fds()
        server = Server(self.handler, path=socket_path(), listen_fd=fds[0] if fds else None)
        try:
            await server.start()
        except (SocketInUse, OSError) as exc:
            msg = str(exc) if isinstance(exc, BhogaError) else f"cannot listen on {server.path}: {exc.strerror}"
            log.error("%s", msg)
            await asyncio.to_thread(self.router.close)
            return 1
        self._server = server
        server.on_subscribe = self.publish
        self.on_demand = OnDemand(loop, self)
        for sig, fn in ((signal.SIGTERM, self.stop), (signal.SIGINT, self.stop), (signal.SIGHUP, self.reload)):
            loop.add_signal_handler(sig, fn)
        self.router.subscribe(self._on_quota_change)
        self.discovery = DiscoveryRunner(loop, self.router, self._discovery_done)
        self.watcher = Watcher(loop, self._watch_specs, self.on_files, quiet=self._quiet, max_wait=_MAX_WAIT)
        self.watcher.start()
        self.periodic = Periodic(
            self.config.interval, lambda: self.request_discovery(force=False, why="schedule"), name="discovery"
        )
        # The first pass waits for the first discovery: a pass on the saved state alone could flip on stale
        # numbers and flip back a moment later.
        self.request_discovery(force=False, why="start")
        loop.call_later(_FIRST_PASS_WAIT, self._first_pass_overdue)
        record_socket(server.path)
        sdnotify.notify(f"READY=1\nSTATUS=listening on {server.path}")
        log.info("bhogad %s started (pid %d), listening on %s", __version__, os.getpid(), server.path)
        try:
            while not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._tick())
        finally:
            await self._shutdown(server)
        return 0

    async def _shutdown(self, server: Server) -> None:
        sdnotify.notify("STOPPING=1")
        loop = asyncio.get_running_loop()
        # The handlers stay: a second SIGTERM while stopping (a user's `kill`, a service manager's repeat) must
        # not kill the process halfway through saving state. `stop` is idempotent; `reload` is ignored now.
        if self.discovery is not None:
            self.discovery.closed = True
        if self.watcher is not None:
            self.watcher.stop()
        if self._change_timer is not None:
            self._change_timer.cancel()
        if self._flip_task is not None and not self._flip_task.done():
            # Finish the Hermes write in progress: the writer replaces the file atomically, but stopping
            # between its checks and its rename would leave a decision half made.
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._flip_task), _STOP_BUDGET)
        if self._publish_timer is not None:
            self._publish_timer.cancel()
        if self.on_demand is not None:
            self.on_demand.close()
        self.passes.fail_all(BhogaError("bhogad is stopping"))
        await server.close()
        forget_socket(server.path)
        self.notifier.close()
        try:
            await asyncio.wait_for(in_thread(loop, self.router.close, "bhogad-close"), 1.0)
        except TimeoutError:
            log.warning("state not saved: the turn worker did not finish in time")
        log.info("stopped")


def run(config: DaemonConfig, *, config_path: Path | None = None) -> int:
    """Run the daemon in the foreground until SIGTERM/SIGINT; the exit status."""
    from .instance import AlreadyRunning, InstanceLock  # noqa: PLC0415

    lock = InstanceLock()
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        log.error("%s", exc)
        return 1
    except BhogaError as exc:
        log.error("%s", exc)
        return 1
    try:
        return asyncio.run(Daemon(config, config_path=config_path).serve())
    finally:
        lock.release()
