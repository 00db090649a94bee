"""The models in use and the learned turn costs, as the state file keeps them across processes (pure: no I/O).

Policy "value" keeps a window for the models in use (`bhoga._value`): a window that is a model's only route
keeps `SOLE_KEEP` of itself for it. A Router knows those models from what it is asked and what it routes; kept
only in its memory, they would be forgotten at each restart of bhogad (and never known to a fresh `bhoga best`),
and Copilot spent on other models until Gemini is asked again. So every Router writes them into the state file
with the quotas (the same locked read-merge-write, coalesced by its worker) and reads them back when it starts.

- `models`: model name → when it was last asked about or routed (epoch seconds). A model neither asked about nor
  routed for `KEEP` (7 days, the horizon of the pace history) is no longer in use; at most `MAX_MODELS` are kept,
  the most recent.
- `costs`: (provider, window key) → (when a reading last taught it, epoch seconds; `{model: percent of the window
  one turn uses}`), what `bhoga._turncount.TurnCount` learned, so that the first turns after a restart count as
  much as they did before it. A window not taught anything for `KEEP` is dropped.

Across processes the newer fact wins: a model's latest time, a window's most recently learned costs.

In the state file (`"version": 1`, beside `"providers"`; a file without them loads as before)::

    "models_in_use": {"gemini-2.5-pro": "2026-12-04T16:40:00+00:00", ...},
    "turn_costs": {"github-copilot": {"monthly": {"at": "2026-12-04T16:30:00+00:00",
                                                  "costs": {"claude-opus-4-6": 3.3, "gpt-5.4": 0.33}}}}
"""

from __future__ import annotations

from datetime import UTC, datetime

from bhoga._record import field, record
from bhoga._values import stored_time

__all__ = [
    "KEEP_SECONDS",
    "MAX_MODELS",
    "MAX_WINDOW_MODELS",
    "RENEW_SECONDS",
    "InUse",
    "by_time",
    "from_json",
    "merge",
    "renewed",
    "to_json",
]

# Annotations only: the Router's modules use the constants at `import bhoga`, which must not load `typing` or
# `collections`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    Costs = Mapping[tuple[str, str], tuple[float, Mapping[str, float]]]

KEEP_SECONDS = 7 * 86400.0
"""A model neither asked about nor routed for this long is no longer in use (`bhoga._history.KEEP`)."""
MAX_MODELS = 64
"""Models in use kept at most, the most recent (model names come from callers)."""
MAX_WINDOW_MODELS = 32
"""Learned costs kept per window at most (`bhoga._turncount` learns no more)."""
RENEW_SECONDS = 3600.0
"""A model asked about again is worth a write of the state file once its time is in another hour (so the time
written lags by about an hour at most, well inside `KEEP_SECONDS`); asked about within the same hour, its new time
rides on the next write made for another reason."""
_MAX_WINDOWS = 256
_MAX_NAME = 256


@record
class InUse:
    """The models in use with when each was last asked about or routed, and the learned costs of a turn."""

    models: Mapping[str, float] = field(default_factory=dict)
    costs: Costs = field(default_factory=dict)


def by_time(item: tuple[str, float]) -> float:
    """A (model, when) pair's time: the sort key of models in use, least recent first."""
    return item[1]


def renewed(old: float | None, now: float) -> bool:
    """Whether a model last asked about or routed at `old` (None: never), and again at `now`, is news to write."""
    return old is None or now // RENEW_SECONDS != old // RENEW_SECONDS


def merge(a: InUse, b: InUse, now: float) -> InUse:
    """Both, the newer fact winning, without what is older than `KEEP_SECONDS` at `now`, bounded."""
    since = now - KEEP_SECONDS
    models: dict[str, float] = {}
    for m, t in (*a.models.items(), *b.models.items()):
        # Names come from callers: one the state file's shape check would refuse must never be written.
        if t >= since and t > models.get(m, -1.0) and 0 < len(m) <= _MAX_NAME:
            models[m] = t
    newest = sorted(models.items(), key=lambda mt: (mt[1], mt[0]))[-MAX_MODELS:]
    costs: dict[tuple[str, str], tuple[float, Mapping[str, float]]] = {}
    for k, (at, per) in (*a.costs.items(), *b.costs.items()):
        if at >= since and (k not in costs or at > costs[k][0]):
            costs[k] = (at, {m: c for m, c in per.items() if 0 < len(m) <= _MAX_NAME and 0 <= c <= 100})
    windows = sorted(costs.items(), key=lambda kv: kv[1][0])[-_MAX_WINDOWS:]
    return InUse(dict(newest), dict(windows))


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def _epoch(v: object) -> float | None:
    t = stored_time(v)
    return t.timestamp() if t else None


def to_json(u: InUse) -> dict[str, Any]:
    """The state file's `models_in_use` and `turn_costs`."""
    costs: dict[str, dict[str, dict[str, Any]]] = {}
    for (pid, key), (at, per) in sorted(u.costs.items()):
        costs.setdefault(pid, {})[key] = {"at": _iso(at), "costs": {m: per[m] for m in sorted(per)}}
    return {"models_in_use": {m: _iso(t) for m, t in sorted(u.models.items())}, "turn_costs": costs}


def from_json(doc: Mapping[str, Any]) -> InUse:
    """What a state document (already checked by `bhoga._state_shape`) holds; an older one holds nothing."""
    models: dict[str, float] = {}
    raw = doc.get("models_in_use")
    for m, v in raw.items() if isinstance(raw, dict) else ():
        t = _epoch(v)
        if isinstance(m, str) and 0 < len(m) <= _MAX_NAME and t is not None:
            models[m] = t
    costs: dict[tuple[str, str], tuple[float, Mapping[str, float]]] = {}
    raw = doc.get("turn_costs")
    for pid, windows in raw.items() if isinstance(raw, dict) else ():
        for key, w in windows.items() if isinstance(windows, dict) else ():
            at = _epoch(w.get("at")) if isinstance(w, dict) else None
            per = w.get("costs") if isinstance(w, dict) else None
            if at is None or not isinstance(per, dict):
                continue
            fine = [(str(m), float(c)) for m, c in per.items() if type(c) in (int, float)]
            costs[(str(pid), str(key))] = (at, dict(fine[:MAX_WINDOW_MODELS]))
    return InUse(models, costs)
