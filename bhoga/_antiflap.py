"""Anti-flap: whether to move from the current provider to the best one (pure: no I/O, no clock).

Point 5 of `bhoga._routing`'s theory of operation: the current provider is kept unless the best one is in a
better tier or beats it by a margin measured in the policy's own terms, or the current one can no longer serve.
"""

from __future__ import annotations

from datetime import datetime

from bhoga._candidate import Tier, _Candidate, _pct, _sort_key, _state
from bhoga._model import ProviderStatus
from bhoga._values import human_duration

__all__: list[str] = []


def _switch(
    current_pid: str | None,
    ranked: list[_Candidate],
    model: str,
    now: datetime,
    margin: float,
    reserve: float,
    policy: str,
) -> tuple[bool, str]:
    if not ranked:
        return False, f"no candidate for {model}"
    best = ranked[0]
    if current_pid == best.provider.id:
        return False, f"{best.provider.id} is still the best ({_state(best, now, reserve)})"
    current = next((c for c in ranked if c.provider.id == current_pid), None)
    to = f"→ {best.provider.id}"
    if current is None:
        why = f"{current_pid} is not a candidate for {model}" if current_pid else f"no provider set for {model}"
        return True, f"{why} {to}"
    if current.status in (ProviderStatus.THROTTLED, ProviderStatus.EXHAUSTED, ProviderStatus.LOW):
        return True, f"{_state(current, now, reserve)} {to}"
    if policy == "value" and _value_stays(best, current, margin):
        return False, f"keeping {current_pid}: {_state(best, now, reserve)} has less than the margin to spare"
    if best.tier < current.tier:
        return True, f"{_state(best, now, reserve)} beats {_state(current, now, reserve)} {to}"
    if policy == "value" and best.tier == current.tier == Tier.SUBSCRIPTION:
        return _drain_switch(best, current, now, margin, reserve)
    if policy == "pace" and best.tier == current.tier == Tier.SUBSCRIPTION:
        # In pace's own terms: leave a window only when it runs out before its reset by more than the margin of
        # its length, and only for one that does not; otherwise stay (moving back and forth costs more).
        if current.runs_out is not None and best.runs_out is None and _short_by(current) >= margin:
            return True, f"{_state(current, now, reserve)}; {_state(best, now, reserve)} {to}"
        if current.runs_out is None and best.runs_out is None:
            if best.at_reset is not None and best.at_reset > 100.0 * (1.0 - margin):
                # Close to running out already at its own pace: moving the current load onto it would tip it.
                return False, f"keeping {current_pid}: {_state(best, now, reserve)} has less than the margin to spare"
            return _drain_switch(best, current, now, margin, reserve)
        return False, f"keeping {current_pid}: {_state(current, now, reserve)}"
    if best.headroom < 0 or current.headroom < 0:
        # No margin can be measured; the ranking (subscription first, then priority) decides, and it is stable.
        if _sort_key(best, policy) < _sort_key(current, policy):
            return True, f"{_state(best, now, reserve)} ranks ahead of {_state(current, now, reserve)} {to}"
        return False, f"keeping {current_pid}: {_state(current, now, reserve)}"
    if policy == "drain-soonest" and best.tier == current.tier == Tier.SUBSCRIPTION:
        return _drain_switch(best, current, now, margin, reserve)
    if best.headroom - current.headroom >= margin:
        return True, (
            f"{best.provider.id} {_pct(best.headroom)} beats {current_pid} {_pct(current.headroom)}"
            f" by ≥ {_pct(margin)} {to}"
        )
    return False, (
        f"keeping {current_pid}: {best.provider.id} {_pct(best.headroom)} is within "
        f"{_pct(margin)} of {_pct(current.headroom)}"
    )


def _value_stays(best: _Candidate, current: _Candidate, margin: float) -> bool:
    """Policy "value"'s anti-flap: stay on a usable route rather than move onto a subscription forecast to end its
    cycle more than `1 - margin` full at its pace, when that window is another model's better use or the current
    route is a subscription too (moving the load onto it would tip it)."""
    if best.tier != Tier.SUBSCRIPTION or best.at_reset is None or best.at_reset <= 100.0 * (1.0 - margin):
        return False
    usable = current.status in (ProviderStatus.OK, ProviderStatus.UNKNOWN)
    return usable and (best.contested is not None or current.tier == Tier.SUBSCRIPTION)


def _drain_switch(
    best: _Candidate, current: _Candidate, now: datetime, margin: float, reserve: float
) -> tuple[bool, str]:
    """Anti-flap in drain-soonest's own measure, the time left until the binding window resets: move when the
    best one resets sooner by more than `margin` of the current one's time left."""
    to = f"→ {best.provider.id}"
    if best.until is None:
        return False, f"keeping {current.provider.id}: {_state(current, now, reserve)}"
    best_left = (best.until - now).total_seconds()
    if current.until is None:
        return True, f"{_state(best, now, reserve)}; {current.provider.id} reset unknown (drain-soonest) {to}"
    current_left = (current.until - now).total_seconds()
    if current_left - best_left > margin * current_left:
        return True, (
            f"{best.provider.id} resets in {human_duration(best_left)}, before {current.provider.id} in "
            f"{human_duration(current_left)} (drain-soonest) {to}"
        )
    return False, (
        f"keeping {current.provider.id}: {best.provider.id} resets in {human_duration(best_left)}, within "
        f"{_pct(margin)} of {current.provider.id}'s {human_duration(current_left)} (drain-soonest)"
    )


def _short_by(c: _Candidate) -> float:
    """How much earlier than its reset a window runs out, as a fraction of its length (1.0 when unknown)."""
    if c.runs_out is None or c.until is None or c.binding is None or c.binding.window_min <= 0:
        return 1.0 if c.runs_out is not None else 0.0
    return (c.until - c.runs_out).total_seconds() / (c.binding.window_min * 60)
