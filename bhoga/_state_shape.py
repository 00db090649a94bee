"""What a state document must look like before any of it is trusted (DESIGN §8.4).

The state file is bhoga's own, so anything it holds of the wrong type — a number where a list belongs, a
nested object where a string belongs, a date that is not one — means it was damaged or written by something
else. Such a document is rejected as a whole (and moved aside like corrupt JSON) rather than half-used:
one wrong field must never crash the daemon into a restart loop or make every CLI command fail.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import datetime

__all__ = ["MAX_DATE_YEAR", "check_state"]

MAX_DATE_YEAR = 9000
"""Dates past this are nonsense and would overflow arithmetic on them (year 9999 plus a day)."""
_MAX_ITEMS = 256
_MAX_TEXT = 4096
_MAX_NAME = 256

_DATES = ("throttled_until", "throttle_observed_at", "credential_observed_at", "updated_at", "verdict_observed_at")
_TEXTS = ("note", "credential_marker", "verdict", "verdict_marker")


def _fail(where: str, what: str) -> ValueError:
    return ValueError(f"{where} is not {what}")


def _text(where: str, v: object) -> None:
    if not isinstance(v, str) or len(v) > _MAX_TEXT:
        raise _fail(where, "a short string")


def _date(where: str, v: object) -> None:
    if v is None:
        return
    if not isinstance(v, str) or len(v) > 64:
        raise _fail(where, "a date")
    try:
        t = datetime.fromisoformat(v)
    except ValueError:
        raise _fail(where, "a date") from None
    if t.tzinfo is None or not 1970 <= t.year <= MAX_DATE_YEAR:
        raise _fail(where, "a date with a time zone in a sane range")


def _number(where: str, v: object, low: float, high: float) -> None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not low <= v <= high:
        raise _fail(where, f"a number from {low:g} to {high:g}")


def _window(where: str, w: object) -> None:
    if not isinstance(w, dict):
        raise _fail(where, "an object")
    _text(f"{where}.name", w.get("name"))
    _number(f"{where}.pct_used", w.get("pct_used"), 0, 100)
    for key in ("resets_at", "observed_at"):
        _date(f"{where}.{key}", w.get(key))
    if "window_min" in w:
        _number(f"{where}.window_min", w["window_min"], 0, 10**7)
        if not isinstance(w["window_min"], int):
            raise _fail(f"{where}.window_min", "a whole number")
    for key in ("scope", "source"):
        if key in w:
            _text(f"{where}.{key}", w[key])


def _quota(where: str, d: object) -> None:
    if not isinstance(d, dict):
        raise _fail(where, "an object")
    windows = d.get("windows", [])
    # No count cap: every per-model `set_quota` adds a window, and the file's size bound already limits them.
    if not isinstance(windows, list):
        raise _fail(f"{where}.windows", "a list")
    for i, w in enumerate(windows):
        _window(f"{where}.windows[{i}]", w)
    for key in _DATES:
        _date(f"{where}.{key}", d.get(key))
    for key in _TEXTS:
        if key in d:
            _text(f"{where}.{key}", d[key])
    if "credential" in d and not isinstance(d["credential"], bool):
        raise _fail(f"{where}.credential", "true or false")
    extra = d.get("extra", {})
    if not isinstance(extra, dict) or len(extra) > _MAX_ITEMS:
        raise _fail(f"{where}.extra", "an object")
    for k, v in extra.items():
        _text(f"{where}.extra.{str(k)[:40]}", v)
    sources = d.get("credential_sources", [])
    if not isinstance(sources, list) or len(sources) > _MAX_ITEMS:
        raise _fail(f"{where}.credential_sources", "a list")
    for i, s in enumerate(sources):
        _text(f"{where}.credential_sources[{i}]", s)


def _models_in_use(d: object) -> None:
    """`models_in_use`: {model: when it was last asked about or routed} (`bhoga._inuse`)."""
    if not isinstance(d, dict) or len(d) > _MAX_ITEMS:
        raise _fail("models_in_use", "an object")
    for m, t in d.items():
        where = f"models_in_use.{str(m)[:40]}"
        if not m or len(m) > _MAX_NAME:
            raise _fail(where, "a model name")
        if t is None:
            raise _fail(where, "a date")
        _date(where, t)


def _turn_costs(d: object) -> None:
    """`turn_costs`: {pid: {window key: {"at": date, "costs": {model: percent per turn}}}} (`bhoga._inuse`)."""
    if not isinstance(d, dict) or len(d) > _MAX_ITEMS:
        raise _fail("turn_costs", "an object")
    for pid, windows in d.items():
        if not isinstance(windows, dict) or len(windows) > _MAX_ITEMS:
            raise _fail(f"turn_costs.{str(pid)[:40]}", "an object")
        for key, w in windows.items():
            where = f"turn_costs.{str(pid)[:40]}.{str(key)[:40]}"
            if not isinstance(w, dict) or w.get("at") is None or not isinstance(w.get("costs"), dict):
                raise _fail(where, "an object with a date and costs")
            _date(f"{where}.at", w["at"])
            if len(w["costs"]) > _MAX_ITEMS:
                raise _fail(f"{where}.costs", "an object")
            for m, c in w["costs"].items():
                if not m or len(m) > _MAX_NAME:
                    raise _fail(f"{where}.costs", "keyed by model names")
                _number(f"{where}.costs.{str(m)[:40]}", c, 0, 100)


def check_state(doc: object, version: int, known: Collection[str]) -> None:
    """Raise ValueError (one line naming the first bad field) unless `doc` is a well-formed state document.

    `known` is the collection of provider ids; entries for other ids are skipped (a newer bhoga's), but must
    still be objects. `models_in_use` and `turn_costs` may be missing (a file written before they were kept).
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("providers"), dict):
        raise ValueError("not a bhoga state document")
    if doc.get("version") != version:
        raise ValueError(f"unsupported version {str(doc.get('version'))[:20]!r}")
    for pid, d in doc["providers"].items():
        if pid in known:
            _quota(f"providers.{pid}", d)
        elif not isinstance(d, dict):
            raise _fail(f"providers.{str(pid)[:40]}", "an object")
    if "models_in_use" in doc:
        _models_in_use(doc["models_in_use"])
    if "turn_costs" in doc:
        _turn_costs(doc["turn_costs"])
