"""The clock thread of a Router: `best_for`'s lookup emptied before the answers in it stop being right.

It exists apart from `bhoga._router` because it is one concern with its own rules: who may put an answer in the
lookup (this Router's view or bhogad's, never one older than the last emptying), and the thread that empties it
shortly before the first reset or throttle end, so that `best_for` never reads the clock.
"""

from __future__ import annotations

import math
from time import monotonic as _monotonic
from time import time as _time

# Annotations only: importing `typing` at run time would cost `import bhoga` two milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from collections.abc import Collection

    from bhoga._client import DaemonClient
    from bhoga._model import RouterRecommendation

_GUARD = 0.25
"""Seconds before a reset or throttle end at which the clock thread takes the answers it changes out of the
lookup: a thread woken late by that much (a loaded machine) still drops them in time. Until the moment itself,
`best_for` answers from the per-model cache, checking the clock."""
_CLOCK_CHECK = 1.0
"""Longest wait of the clock thread: waits run on the monotonic clock, deadlines on the wall clock, so after a
suspend or a clock step the answers are dropped within this much."""


class _FastAnswers:
    """`Router`'s part that keeps `best_for`'s lookup right: see `_keep` and `_tick`."""

    _daemon: DaemonClient | None
    _daemon_gone_until: float
    _stop: bool
    _fast: dict[str, RouterRecommendation | None]
    _fast_until: float
    _fast_epoch: int
    _fast_lock: threading.Lock
    _clock: threading.Thread
    _clock_started: bool
    _clock_wake: threading.Event

    def _keep(
        self,
        answers: Collection[tuple[str, RouterRecommendation | None]],
        until: float,
        epoch: int,
        *,
        local: bool = True,
    ) -> None:
        """Put `answers` in `best_for`'s lookup, to be taken out by `until` (epoch seconds).

        Nothing is put in once `_fast` was emptied since `epoch` was read (the answers may predate a change of
        state or of who answers), nor an answer of the other side (this Router's own view or bhogad's). No lock:
        `_drop_fast` counts the emptying before it replaces the dictionary, and the dictionary is taken here
        before the count is compared, so an answer put in after an emptying lands in the replaced dictionary.
        """
        if self._daemon is not None:
            gone = self._daemon_gone_until
            if local != bool(gone):
                return
            if local:  # standing in for a daemon that went away: look for it again at the retry
                until = min(until, _time() + gone - _monotonic())
        elif not local:
            return
        if until <= _time() or self._stop:
            return
        fast = self._fast
        if epoch != self._fast_epoch:
            return
        for model, best in answers:
            fast[model] = best
        if until < self._fast_until:
            self._drop_by(fast, until)

    def _drop_by(self, fast: dict[str, RouterRecommendation | None], until: float) -> None:
        """Have the clock thread empty `fast` by `until`, unless it is already gone."""
        with self._fast_lock:
            if fast is not self._fast or until >= self._fast_until:
                return
            self._fast_until = until
            start = not self._clock_started
            self._clock_started = True
        if start:
            self._clock.start()
        else:
            self._clock_wake.set()

    def _drop_fast(self) -> None:
        """Empty `best_for`'s lookup: after a change of state or of who answers, and at its deadline."""
        with self._fast_lock:
            self._fast_epoch += 1  # first: see `_keep`
            self._fast_until = math.inf
            self._fast = {}

    def _after_deadline(self) -> None:
        """What the clock thread does once it has emptied the lookup at its deadline (see `_LocalAnswers`)."""

    def _tick(self) -> None:
        """The clock thread: empties `best_for`'s lookup when its deadline comes (shortly before a reset or a
        throttle end, or when a daemon answer's second is over)."""
        while not self._stop:
            left = self._fast_until - _time()
            if left <= 0:
                self._drop_fast()
                self._after_deadline()
                continue
            self._clock_wake.wait(None if left == math.inf else min(left, _CLOCK_CHECK))
            self._clock_wake.clear()
