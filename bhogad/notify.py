"""Notifications (DESIGN §8.8): tell the person when bhogad changed their config or a provider ran dry.

Three parts, kept apart so the logic stays testable without a desktop:

* `detect` (pure): from the provider statuses before and after a pass (`provider_views`), the events worth a
  notification.
* `RateLimit` (pure, clock given): a flapping window cannot spam — one notification per event and provider in
  `COOLDOWN`, at most `BURST` in any `BURST_WINDOW`; what was held back is counted in the next one.
* `Notifier`: delivers on one worker thread, never on the daemon's loop: `notify_command` (no shell, BHOGA_EVENT /
  BHOGA_TITLE / BHOGA_BODY in its environment, 5 s timeout) and a desktop notification where a session bus
  (`notify-send`) or macOS (`osascript`) is there. Both are subprocesses with a deadline, so a hung notification
  daemon or script can delay only the next notification, never routing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from bhoga._model import ProviderQuota
from bhoga._record import record

from .config import DEFAULT_NOTIFY as DEFAULT_EVENTS
from .config import NOTIFY_EVENTS as EVENTS

__all__ = [
    "BURST",
    "COOLDOWN",
    "DEFAULT_EVENTS",
    "EVENTS",
    "Event",
    "Notifier",
    "RateLimit",
    "detect",
    "provider_views",
]

log = logging.getLogger(__name__)

COOLDOWN = 15 * 60.0
"""Seconds between two notifications of the same event for the same provider."""
BURST, BURST_WINDOW = 6, 600.0
"""At most BURST notifications in any BURST_WINDOW seconds, whatever they are about."""
TIMEOUT = 5.0
_QUEUE = 32
_UNUSABLE = ("exhausted", "throttled")


@record
class Event:
    """One notification: its kind (one of EVENTS), what it is about (a provider id), and the text."""

    kind: str
    subject: str
    title: str
    body: str


@record
class ProviderView:
    """What `detect` needs of one provider: its status and a one-line description of its binding window."""

    status: str
    detail: str = ""


def provider_views(quotas: Iterable[ProviderQuota], now: datetime) -> dict[str, ProviderView]:
    """What `detect` compares, per provider: its account-wide status and its binding window's line."""
    from bhoga._values import human_duration, window_label  # noqa: PLC0415

    views: dict[str, ProviderView] = {}
    for q in quotas:
        if q.model != "*":
            continue
        windows = [w for w in q.windows if w.scope == "*"] or list(q.windows)
        detail = ""
        if windows:
            w = max(windows, key=lambda w: w.pct_used)
            left = max(0.0, 100.0 - w.pct_used)
            resets = (
                f", resets in {human_duration((w.resets_at - now).total_seconds())}"
                if w.resets_at is not None and w.resets_at > now
                else ""
            )
            detail = f"{left:.0f}% left in its {window_label(w.name, w.scope)} window{resets}"
        views[q.provider_id] = ProviderView(str(q.status), detail)
    return views


def detect(
    before: Mapping[str, ProviderView] | None,
    after: Mapping[str, ProviderView],
    *,
    pinned: str | None = None,
) -> list[Event]:
    """The events between two views of the providers; `before` None (first look) yields none.

    `pinned` is the provider the user pinned Hermes to: it running dry is `pinned_throttled` (bhogad will not
    move away from it, so the person has to know).
    """
    if before is None:
        return []
    events: list[Event] = []
    for pid, now in after.items():
        was = before.get(pid, ProviderView("unknown")).status
        if now.status == was:
            continue
        detail = f": {now.detail}" if now.detail else ""
        if pid == pinned and now.status in _UNUSABLE and was not in _UNUSABLE:
            events.append(
                Event(
                    "pinned_throttled",
                    pid,
                    f"bhoga: pinned {pid} is {now.status}",
                    f"Hermes is pinned to {pid}, which is {now.status}{detail}. `bhoga unpin` lets bhoga move it.",
                )
            )
        elif now.status == "exhausted":
            events.append(Event("exhausted", pid, f"bhoga: {pid} exhausted", f"{pid} has no quota left{detail}"))
        elif now.status == "low" and was == "ok":
            events.append(Event("low", pid, f"bhoga: {pid} running low", f"{pid} is below the reserve{detail}"))
        elif was in _UNUSABLE and now.status in ("ok", "low"):
            events.append(Event("restored", pid, f"bhoga: {pid} usable again", f"{pid} is {now.status}{detail}"))
    return events


def flip_event(model: str | None, provider: str | None, reason: str) -> Event:
    """The event for a Hermes config bhogad just rewrote."""
    target = provider or "?"
    return Event("flip", target, f"bhoga: Hermes now uses {target}", f"{model or 'the model'} → {target}: {reason}")


class RateLimit:
    """Decides which events go out; `allow` is given the time, so the rule is testable without waiting."""

    def __init__(self, cooldown: float = COOLDOWN, burst: int = BURST, window: float = BURST_WINDOW) -> None:
        self.cooldown, self.burst, self.window = cooldown, burst, window
        self._last: dict[tuple[str, str], float] = {}
        self._sent: deque[float] = deque()
        self.held_back = 0
        """Events suppressed since the last one that went out."""

    def allow(self, event: Event, now: float) -> bool:
        key = (event.kind, event.subject)
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        last = self._last.get(key)
        if (last is not None and now - last < self.cooldown) or len(self._sent) >= self.burst:
            self.held_back += 1
            return False
        self._last[key] = now
        self._sent.append(now)
        return True


def desktop_command(title: str, body: str) -> list[str] | None:
    """The desktop notification command for this session, None when there is no desktop to notify."""
    if sys.platform == "darwin":
        if shutil.which("osascript") is None:
            return None
        # Title and body are passed as arguments, never spliced into the script: no AppleScript injection.
        script = "on run argv\ndisplay notification (item 2 of argv) with title (item 1 of argv)\nend run"
        return ["osascript", "-e", script, title, body]
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS") and (exe := shutil.which("notify-send")) is not None:
        return [exe, "--app-name=bhoga", title, body]
    return None


class Notifier:
    """Filters events by the configured kinds and the rate limit, and delivers them on a worker thread."""

    def __init__(self, kinds: Sequence[str], command: Sequence[str], *, desktop: bool) -> None:
        import time  # noqa: PLC0415

        self.kinds = frozenset(kinds)
        self.command = list(command)
        self.desktop = desktop
        self.limit = RateLimit()
        self._clock = time.monotonic
        self._queue: queue.Queue[Event | None] = queue.Queue(_QUEUE)
        self._thread: threading.Thread | None = None
        self.delivered = 0

    def configure(self, kinds: Sequence[str], command: Sequence[str], *, desktop: bool) -> None:
        """New settings (SIGHUP); the rate limit's memory is kept."""
        self.kinds, self.command, self.desktop = frozenset(kinds), list(command), desktop

    def submit(self, events: Sequence[Event]) -> None:
        """Queue the events that are enabled and allowed now; never blocks."""
        for event in events:
            if event.kind not in self.kinds or not (self.command or self.desktop):
                continue
            if not self.limit.allow(event, self._clock()):
                log.info("notification held back (rate limit): %s", event.title)
                continue
            held, self.limit.held_back = self.limit.held_back, 0
            if held:
                event = Event(event.kind, event.subject, event.title, f"{event.body} (+{held} held back)")
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                log.warning("notification dropped, %d waiting already: %s", _QUEUE, event.title)
                continue
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bhogad-notify", daemon=True)
                self._thread.start()

    def close(self, timeout: float = 1.0) -> None:
        """Let the worker finish what it is sending, briefly."""
        if self._thread is not None:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                return
            self._thread.join(timeout)

    def _run(self) -> None:
        while (event := self._queue.get()) is not None:
            log.info("notify %s: %s", event.kind, event.title)
            if self.command:
                env = {**os.environ, "BHOGA_EVENT": event.kind, "BHOGA_TITLE": event.title, "BHOGA_BODY": event.body}
                _run(self.command, env, "notify_command")
            if self.desktop and (cmd := desktop_command(event.title, event.body)) is not None:
                _run(cmd, dict(os.environ), "desktop notification")
            self.delivered += 1


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    """Run a notifier to completion or `TIMEOUT`; its whole process group is killed after that."""
    try:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a script's own children are killed with it on timeout
        )
    except OSError as exc:
        log.warning("%s %s could not run: %s", what, argv[0], exc.strerror or exc)
        return
    try:
        code = proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.warning("%s %s took longer than %.0f s; killed", what, argv[0], TIMEOUT)
        return
    if code != 0:
        log.warning("%s %s exited with status %d", what, argv[0], code)
