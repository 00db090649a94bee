"""Demand traces for the routing simulator: the model of the world it replays, and the JSON files that hold it.

The model (deliberately small, so results can be checked by hand):

- Time starts at `start`; requests are `(seconds from start, model)`.
- A subscription has windows. Each window has a length, a capacity in *units*, an optional scope (a model
  substring such as "opus": the window binds only those models) and the time of its first reset; after that it
  resets every `minutes`. A request of model m served by a subscription adds `cost[m]` units (default 1) to every
  window of it that binds m. A window takes requests while it has any capacity left (the last one may go over,
  as real providers allow); at 100 % it answers 429 until it resets.
- A subscription is observed through response headers after every request it serves (`headers: true`, Claude
  Code and Codex) and by polling every `poll_minutes` (discovery: 5 min for Claude and Codex, 15 for Copilot).
- A metered API always serves and costs `price[m]` dollars per request (the longest key that is a substring of
  the model, "*" as default).

File format (JSON): `{"name", "description", "start": iso, "days", "subscriptions": [{"pid", "headers",
"poll_minutes", "cost": {substr: units}, "windows": [{"name", "minutes", "capacity", "first_reset_min",
"scope"?, "used"?}]}], "metered": [{"pid", "price": {substr: dollars}}], "requests": [[seconds, model], ...]}`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from bhoga import _files
from bhoga._provider_entry import Kind
from bhoga._providers import PROVIDERS
from bhoga._record import field, record
from bhoga.errors import BhogaError, NotRegularFileError

__all__ = ["Metered", "Subscription", "Trace", "Window", "load_trace", "trace_to_json"]

MAX_TRACE_BYTES = 64 * 1024 * 1024


@record
class Window:
    """One quota window of a simulated subscription."""

    name: str
    minutes: int
    capacity: float
    first_reset_min: float
    scope: str = "*"
    used: float = 0.0
    """Units already used at the start of the trace."""

    @property
    def key(self) -> str:
        return self.name if self.scope == "*" else f"{self.name}@{self.scope}"

    def binds(self, model: str) -> bool:
        return self.scope == "*" or self.scope in model.lower()


@record
class Subscription:
    """A simulated subscription: its windows, whether its turns carry headers, how often it is polled."""

    pid: str
    windows: tuple[Window, ...]
    headers: bool = True
    poll_minutes: float = 5.0
    cost: tuple[tuple[str, float], ...] = ()


@record
class Metered:
    """A simulated metered API and its price per request, by model substring."""

    pid: str
    price: tuple[tuple[str, float], ...] = (("*", 0.05),)


@record
class Trace:
    """A simulated workload: the providers and the requests (seconds from `start`, model)."""

    name: str
    start: datetime
    days: float
    subscriptions: tuple[Subscription, ...]
    metered: tuple[Metered, ...]
    requests: tuple[tuple[float, str], ...]
    description: str = ""
    models: tuple[str, ...] = field(default=())
    unlogged: float = 0.0
    """Seconds of a recorded trace with no record of demand (bhogad was not running): replayed as idle."""

    def model_list(self) -> tuple[str, ...]:
        return self.models or tuple(sorted({m for _, m in self.requests}))


class TraceError(BhogaError):
    """A trace file that cannot be used; the message names the file and the problem."""


def _num(where: str, v: object, *, lo: float = 0.0) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not v >= lo or v != v or v == float("inf"):
        raise TraceError(f"{where} must be a number ≥ {lo:g}, got {v!r}")
    return float(v)


def _table(where: str, d: object) -> tuple[tuple[str, float], ...]:
    if d is None:
        return ()
    if not isinstance(d, dict):
        raise TraceError(f"{where} must be an object of model substring → number")
    return tuple((str(k).lower(), _num(f"{where}.{k}", v)) for k, v in d.items())


def parse_trace(doc: object, where: str = "trace") -> Trace:
    """A `Trace` from its JSON document; `TraceError` with one line saying what is wrong."""
    if not isinstance(doc, dict):
        raise TraceError(f"{where}: not a JSON object")
    try:
        start = datetime.fromisoformat(str(doc["start"]))
    except (KeyError, ValueError):
        raise TraceError(f"{where}: start must be an ISO time with a zone") from None
    if start.tzinfo is None:
        raise TraceError(f"{where}: start must be an ISO time with a zone")
    subs = []
    for i, s in enumerate(doc.get("subscriptions") or ()):
        w_at = f"{where}: subscriptions[{i}]"
        if not isinstance(s, dict) or PROVIDERS.get(str(s.get("pid"))) is None:
            raise TraceError(f"{w_at}: pid must be a known provider id")
        if PROVIDERS[s["pid"]].kind is not Kind.SUBSCRIPTION:
            raise TraceError(f"{w_at}: {s['pid']} is not a subscription")
        windows = []
        for j, w in enumerate(s.get("windows") or ()):
            ww = f"{w_at}.windows[{j}]"
            if not isinstance(w, dict) or not isinstance(w.get("name"), str):
                raise TraceError(f"{ww}: needs a name")
            windows.append(
                Window(
                    w["name"],
                    int(_num(f"{ww}.minutes", w.get("minutes"), lo=1)),
                    _num(f"{ww}.capacity", w.get("capacity"), lo=1e-9),
                    _num(f"{ww}.first_reset_min", w.get("first_reset_min", 0)),
                    str(w.get("scope") or "*").lower(),
                    _num(f"{ww}.used", w.get("used", 0)),
                )
            )
        if not windows:
            raise TraceError(f"{w_at}: needs at least one window")
        subs.append(
            Subscription(
                s["pid"],
                tuple(windows),
                bool(s.get("headers", True)),
                _num(f"{w_at}.poll_minutes", s.get("poll_minutes", 5), lo=0.1),
                _table(f"{w_at}.cost", s.get("cost")),
            )
        )
    metered = []
    for i, m in enumerate(doc.get("metered") or ()):
        if not isinstance(m, dict) or PROVIDERS.get(str(m.get("pid"))) is None:
            raise TraceError(f"{where}: metered[{i}]: pid must be a known provider id")
        metered.append(Metered(m["pid"], _table(f"{where}: metered[{i}].price", m.get("price")) or (("*", 0.05),)))
    reqs = []
    for i, r in enumerate(doc.get("requests") or ()):
        if not (isinstance(r, list) and len(r) == 2 and isinstance(r[1], str)):
            raise TraceError(f"{where}: requests[{i}] must be [seconds, model]")
        reqs.append((_num(f"{where}: requests[{i}][0]", r[0]), r[1]))
    reqs.sort(key=lambda r: r[0])
    days = _num(f"{where}: days", doc.get("days", (reqs[-1][0] / 86400 if reqs else 1.0)), lo=1e-6)
    return Trace(
        str(doc.get("name") or where),
        start,
        days,
        tuple(subs),
        tuple(metered),
        tuple(reqs),
        str(doc.get("description") or ""),
    )


def load_trace(path: Path) -> Trace:
    """Read a trace file; `TraceError` (one line) when it cannot be read or used."""
    try:
        raw = _files.read_bounded(path, MAX_TRACE_BYTES)  # a FIFO or device never blocks the command
    except NotRegularFileError as e:
        raise TraceError(f"trace {path} {e.strerror}") from None
    except OSError as e:
        raise TraceError(f"cannot read trace {path}: {e.strerror}") from None
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise TraceError(f"trace {path} is not JSON: {str(e)[:80]}") from None
    return parse_trace(doc, str(path))


def trace_to_json(t: Trace) -> dict[str, object]:
    """The JSON document of `t` (the inverse of `parse_trace`)."""
    return {
        "name": t.name,
        "description": t.description,
        "start": t.start.isoformat(),
        "days": t.days,
        "subscriptions": [
            {
                "pid": s.pid,
                "headers": s.headers,
                "poll_minutes": s.poll_minutes,
                "cost": dict(s.cost),
                "windows": [
                    {
                        "name": w.name,
                        "minutes": w.minutes,
                        "capacity": w.capacity,
                        "first_reset_min": w.first_reset_min,
                        "scope": w.scope,
                        "used": w.used,
                    }
                    for w in s.windows
                ],
            }
            for s in t.subscriptions
        ],
        "metered": [{"pid": m.pid, "price": dict(m.price)} for m in t.metered],
        "requests": [[round(at, 3), model] for at, model in t.requests],
    }


def at(t: Trace, seconds: float) -> datetime:
    """The wall-clock time `seconds` into the trace."""
    return t.start + timedelta(seconds=seconds)
