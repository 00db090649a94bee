"""A Router's writing side: observations in (`set_quota`, discovery, a turn's reading), merged into the quota
state, subscribers told, and the state and history files written, coalesced with what other processes saved.

It exists apart from `bhoga._router` because every change of state goes through here, and each one must empty
the answers it makes wrong and re-rank the models asked about before `best_for` is asked again.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from bhoga import _lazy
from bhoga._merge import combine, from_observation
from bhoga._model import ANY_MODEL, ESTIMATE, Observation, QuotaWindow
from bhoga._providers import provider
from bhoga._router_daemon import _no_absence
from bhoga._router_local import _LocalAnswers
from bhoga.errors import BhogaError

# Annotations only: importing `typing` at run time would cost `import bhoga` two milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Collection, Mapping

    from bhoga._discovery_failures import DiscoveryReport
    from bhoga._history import Recorder
    from bhoga._state import StateStore

log = _lazy.logger(__name__)


def _check_pct(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= 100
    ):
        raise ValueError(f"{name} must be a number from 0 to 100, got {value!r}")
    return float(value)


def _one_line(exc: Exception) -> str:
    """`exc` as one line an asker may see: its type and message, secrets removed, bounded (the traceback is logged)."""
    try:
        from bhoga.discovery._common import printable, redact  # noqa: PLC0415 - loaded with discovery anyway
    except ImportError:  # discovery itself would not load: its type is all that is safe to say
        return type(exc).__name__
    return printable(redact(f"{type(exc).__name__}: {exc}"))


class _StateWrites(_LocalAnswers):
    """`Router`'s part that changes the quota state and writes it."""

    _store: StateStore
    _recorder: Recorder
    _subscribers: list[Callable[[], None]]
    _warned: set[str]
    _dirty: bool
    _last_save: float
    _save_lock: threading.Lock
    save_error: str | None

    def observe(self, obs: Observation) -> None:
        """Merge one observation (discovery, a header, set_quota) into the quota state."""
        self._merge([obs])
        self._notify()

    def set_quota(
        self, pid: str, pct_remaining: float, *, weekly_pct: float | None = None, model: str = ANY_MODEL
    ) -> None:
        """Tell the Router how much is left, in percent (0-100): the 5-hour window and optionally the weekly one.

        On a metered API this is a budget figure and ranks as one; on Copilot it is the monthly allowance.
        Raises ValueError for an unknown provider id or a percentage outside 0-100.
        """
        prov = provider(pid)
        pct = _check_pct("pct_remaining", pct_remaining)
        weekly = None if weekly_pct is None else _check_pct("weekly_pct", weekly_pct)
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"model must be a model name or '*', got {model!r}")
        scope = ANY_MODEL if model.strip() == ANY_MODEL else model.strip().lower()
        now = datetime.now(UTC)
        names = prov.quota_windows
        windows = [QuotaWindow(names[0], 100.0 - pct, None, 0, scope, now, "set_quota")]
        if weekly is not None:
            windows.append(QuotaWindow(names[1], 100.0 - weekly, None, 0, scope, now, "set_quota"))
        self.observe(Observation(pid, now, tuple(windows), credential=True, source="set_quota"))
        if self._daemon is not None:
            self._daemon.send_set_quota(pid, pct, weekly, model)
            self._daemon_best.clear()
            self._drop_fast()
        self._save()

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback()` (from any thread) whenever the quota state has changed."""
        self._subscribers.append(callback)

    def discover(self, *, force: bool = False) -> tuple[str, ...]:
        """Run quota discovery now, in this thread, and merge what it finds. Never raises.

        Returns what failed, one line per source ("claude_code: Claude usage endpoint: HTTP 500"), for whoever
        asked; each failure is also logged once as a warning. Empty when every source went through.
        """
        return self.discover_report(force=force).lines()

    def discover_report(self, *, force: bool = False) -> DiscoveryReport:
        """`discover`, with what each provider's discovery came to (failed, or a call skipped: no news), so that
        bhogad can keep each provider's failure until that provider gets through. Never raises."""
        from bhoga._discovery_failures import DiscoveryReport  # noqa: PLC0415

        try:
            from bhoga.discovery import discover_all  # noqa: PLC0415 - discovery pulls in urllib; load late

            found = discover_all(force=force)
            if not self._concludes_absence():
                found = [_no_absence(o) for o in found]
        except Exception as e:
            log.exception("quota discovery failed")
            return DiscoveryReport(error=_one_line(e))
        if found:
            self._merge(found)
            self._notify()
            self._save()
        return DiscoveryReport.of(found)

    def _merge(self, observations: Collection[Observation]) -> None:
        with self._lock:
            for obs in observations:
                if obs.windows and obs.source != ESTIMATE:
                    self._count.observed(obs.provider_id, obs.windows)
                self._quotas[obs.provider_id] = combine(self._quotas.get(obs.provider_id), from_observation(obs))
            self._gen += 1
            self._dirty = True
        self._answers_changed()

    def _notify(self) -> None:
        for cb in tuple(self._subscribers):
            try:
                cb()
            except Exception:
                log.exception("quota-change subscriber failed")

    def _save(self) -> None:
        with self._save_lock:
            self._write()

    def _write(self) -> None:
        from bhoga._inuse import InUse  # noqa: PLC0415 - loaded with the first write, not at import

        with self._lock:
            if not self._dirty:
                return
            mine, self._dirty = dict(self._quotas), False
            in_use = InUse(dict(self._asked), self._count.learned())
        try:
            merged, kept = self._store.merge_all(mine, in_use)
        except BhogaError as e:
            self.save_error = str(e)
            if str(e) not in self._warned:  # the same refusal as when the state was loaded: said once
                self._warned.add(str(e))
                log.warning("%s", e)
            return
        # History rides on the (coalesced) state save: a turn's caller never pays for it. Only what this process
        # learned is recorded; what another process saved is marked seen, since that process records it.
        try:
            self._history.append(self._recorder.new_points(mine.values()))
        except BhogaError as e:
            log.warning("%s", e)
        self._recorder.seen(merged.values())
        self._last_save = time.monotonic()
        self.save_error = None
        with self._lock:
            # Keep what other processes wrote; anything merged in meanwhile stays newest-wins.
            for pid, q in merged.items():
                self._quotas[pid] = combine(q, self._quotas[pid]) if pid in self._quotas else q
            self._take_in_use(kept.models)
            self._gen += 1
        self._answers_changed()

    def _take_in_use(self, saved: Mapping[str, float]) -> None:
        """Under the lock, after a write: the models in use are those of every process (as written), with what
        this one was asked meanwhile, less those not asked about nor routed for a week (`bhoga._inuse`)."""
        from bhoga._inuse import KEEP_SECONDS, MAX_MODELS, by_time  # noqa: PLC0415

        both = dict(saved)
        for m, t in self._asked.items():
            if t > both.get(m, -1.0):
                both[m] = t
        since = time.time() - KEEP_SECONDS
        fresh = dict(sorted(((m, t) for m, t in both.items() if t >= since), key=by_time)[-MAX_MODELS:])
        for gone in self._asked.keys() - fresh.keys():
            # Not re-ranked after this change: asked about again, it is in use again (see `_best_local`).
            self._cache.pop(gone, None)
        self._asked = fresh

    def _answers_changed(self) -> None:
        """After a change of the state: empty `best_for`'s lookup when this Router answers (bhogad's answers
        stay theirs), and re-rank the models asked about."""
        if self._answers_locally():
            self._drop_fast()
        self._rerank()
