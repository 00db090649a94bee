"""A Router's use of bhogad: asking it for answers over the process's shared connection, noticing that it went
away (the local view answers meanwhile) and that it came back.

It exists apart from `bhoga._router` because the daemon's answers have their own lifetime (a second, a few more
while a fresh one is fetched) and their own lost/found states, which the local ranking never sees.
"""

from __future__ import annotations

import time
from time import monotonic as _monotonic
from time import time as _time

from bhoga._record import replace
from bhoga._router_clock import _FastAnswers

# Annotations only: importing `typing` at run time would cost `import bhoga` two milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading

    from bhoga._model import Observation, RouterRecommendation

_DAEMON_STALE = 5.0
"""Seconds past its second an answer of the daemon may still be given while a fresh one is fetched."""
_DAEMON_RETRY = 5.0
"""Seconds between looks for a daemon that stopped answering; the local view answers meanwhile."""


class _DaemonAnswers(_FastAnswers):
    """`Router`'s part that asks bhogad: `best_for`'s slow path when a daemon is used."""

    _daemon_best: dict[str, tuple[float, RouterRecommendation | None]]
    _daemon_asks: set[str]
    _owner: bool | None
    _wake: threading.Event

    if TYPE_CHECKING:

        def _best_local(self, model: str) -> RouterRecommendation | None: ...

    def _best_slow(self, model: str) -> RouterRecommendation | None:
        if self._daemon is None or (self._daemon_gone_until and _monotonic() < self._daemon_gone_until):
            return self._best_local(model)
        return self._best_from_daemon(model)

    def _best_from_daemon(self, model: str) -> RouterRecommendation | None:
        # The daemon's answer is the shared view. A harness that calls best_for before every request must not
        # pay a socket round trip (~90 µs) for it: an answer is used for a second, and for a few seconds more
        # while the turn worker fetches a fresh one. When the daemon is gone, the local view answers (a lookup)
        # and the worker looks for the daemon again every few seconds.
        epoch = self._fast_epoch
        hit = self._daemon_best.get(model)
        now = time.monotonic()
        if hit is not None:
            if now >= hit[0]:
                self._ask_later(model)
            elif not self._daemon_gone_until:  # fresh: a lookup until its second is over
                self._keep(((model, hit[1]),), _time() + hit[0] - now, epoch, local=False)
            if now < hit[0] + _DAEMON_STALE:
                return hit[1]
        if self._daemon_gone_until:
            if now >= self._daemon_gone_until:  # time to look again, in the background
                self._daemon_gone_until = now + _DAEMON_RETRY
                self._ask_later(model)
            return self._best_local(model)
        reached, answer = self._ask_daemon(model)
        return answer if reached else self._best_local(model)

    def _ask_later(self, model: str) -> None:
        if model not in self._daemon_asks:
            self._daemon_asks.add(model)
            self._wake.set()

    def _ask_daemon(self, model: str) -> tuple[bool, RouterRecommendation | None]:
        """(True, the daemon's pick for `model`, kept for a second), or (False, None) after noting that the
        daemon is unreachable."""
        assert self._daemon is not None
        from bhoga._client import UNREACHABLE, Unreachable  # noqa: PLC0415

        epoch = self._fast_epoch
        answer = self._daemon.best(model, timeout=0.25)
        now = time.monotonic()
        if answer is UNREACHABLE:
            was_there = not self._daemon_gone_until
            self._daemon_gone_until = now + _DAEMON_RETRY
            self._daemon_best.clear()
            if was_there:
                self._drop_fast()  # its answers out of the lookup: the local view answers now
            return False, None
        assert not isinstance(answer, Unreachable)
        came_back = bool(self._daemon_gone_until)
        self._daemon_gone_until = 0.0
        self._daemon_best[model] = (now + 1.0, answer)
        if came_back:
            self._drop_fast()  # the local answers out: the daemon's view is the shared one
            epoch = self._fast_epoch
        self._keep(((model, answer),), _time() + 1.0, epoch, local=False)
        return True, answer

    def _refresh_daemon_answers(self) -> None:
        """The turn worker's part of `_best_from_daemon`: fetch the answers asked for."""
        while self._daemon_asks and not self._stop:
            if not self._ask_daemon(self._daemon_asks.pop())[0]:
                self._daemon_asks.clear()

    def _answers_locally(self) -> bool:
        return self._daemon is None or bool(self._daemon_gone_until)

    def _concludes_absence(self) -> bool:
        if self._owner is not None:
            return self._owner
        from bhoga import _paths  # noqa: PLC0415
        from bhoga._client import daemon_running  # noqa: PLC0415

        return not daemon_running(_paths.socket_path())


def _no_absence(obs: Observation) -> Observation:
    """`obs` without its "no credential here" part: absence in this process is no news about the daemon's."""
    if obs.credential is False:
        return replace(obs, credential=None, sources=(), marker="", note="")
    return obs
