"""Call hygiene shared by every process on the machine: at most one call per source per interval, a server's
`retry-after` honoured even across restarts, a back-off after an auth failure, and the
last good answer with its age.

Everything lives in one small JSON file beside the state file (`discovery.json`), updated under an
exclusive `flock` and replaced atomically, so the CLI, the daemon and a library user agree on when the
next call may happen. It holds no secret: only times, window values and a credential "generation" marker
(an expiry time), never a token.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bhoga import _files
from bhoga._model import QuotaWindow
from bhoga._paths import state_path
from bhoga._record import record
from bhoga._values import as_dict, as_float, from_epoch

from ._common import call_skipped, fresh_answer

__all__ = ["AUTH_BLOCKED", "DEFAULT_INTERVAL", "Gate", "LastGood", "gate_path"]

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 300.0
"""Seconds between two calls to one usage endpoint; the Claude endpoint answers 429 for hours if pushed."""
AUTH_BACKOFF = 3600.0
"""After a 401/403 the same credential is not tried again for an hour (unless it changes)."""
MAX_RETRY_AFTER = 24 * 3600.0
LOCK_TIMEOUT = 5.0
"""A gate update takes microseconds; a lock held this long belongs to a hung process, and waiting for it would
stall discovery (and the daemon's first pass) for good. The call is refused instead."""
AUTH_BLOCKED = "credential was rejected; waiting for it to change"


def gate_path() -> Path:
    """`discovery.json` in the directory of the state file."""
    return state_path().parent / "discovery.json"


@record
class LastGood:
    """The newest successful answer of one source, kept so a skipped call still has something to say."""

    at: datetime
    windows: tuple[QuotaWindow, ...]
    extra: tuple[tuple[str, str], ...]


def _window_to_json(w: QuotaWindow) -> dict[str, Any]:
    return {
        "name": w.name,
        "pct_used": w.pct_used,
        "resets_at": w.resets_at.timestamp() if w.resets_at else None,
        "window_min": w.window_min,
        "scope": w.scope,
        "observed_at": w.observed_at.timestamp() if w.observed_at else None,
        "source": w.source,
    }


def _window_from_json(d: dict[str, Any]) -> QuotaWindow | None:
    pct = as_float(d.get("pct_used"))
    name = d.get("name")
    if pct is None or not isinstance(name, str):
        return None
    minutes = as_float(d.get("window_min")) or 0
    return QuotaWindow(
        name=name,
        pct_used=pct,
        resets_at=from_epoch(d.get("resets_at")),
        window_min=int(minutes),
        scope=str(d.get("scope") or "*"),
        observed_at=from_epoch(d.get("observed_at")),
        source=str(d.get("source") or ""),
    )


class Gate:
    """Per-source call permission and memory, persisted in `path` (default `gate_path()`)."""

    def __init__(self, path: Path | None = None, *, interval: float = DEFAULT_INTERVAL) -> None:
        self.path = path or gate_path()
        self.interval = interval

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Yield the parsed file under an exclusive lock; the (possibly changed) dict is written back."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _files.lock_file(self.path.with_name(self.path.name + ".lock"), timeout=LOCK_TIMEOUT):
            _files.check_regular(self.path)  # a FIFO or device here is refused (OSError), never replaced
            data = self._read()
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                _files.remove_orphans(_files.real_path(self.path))
                _files.atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True).encode(), mode=0o600)

    def _read(self) -> dict[str, Any]:
        try:
            obj = json.loads(_files.read_bounded(self.path, 1024 * 1024))
        except (OSError, ValueError, RecursionError):
            return {"version": 1, "sources": {}}
        if not isinstance(obj, dict) or not isinstance(obj.get("sources"), dict):
            return {"version": 1, "sources": {}}
        return obj

    @staticmethod
    def _entry(data: dict[str, Any], key: str) -> dict[str, Any]:
        sources: dict[str, Any] = data["sources"]
        entry = sources.get(key)
        if not isinstance(entry, dict):
            entry = sources[key] = {}
        return entry

    def claim(
        self, key: str, now: datetime, *, force: bool = False, interval: float | None = None, marker: str = ""
    ) -> str | None:
        """Reserve the right to call source `key` now. None when granted, else why not (one line).

        `force` skips the local "too soon" rule only for a new login (a `marker` other than the last call's),
        never a server's retry-after or an auth back-off for the same credential (DESIGN §8.3: the per-endpoint
        minimum intervals hold whatever the daemon's `interval` says). A granted claim starts the next interval
        at once, so a second process asking a moment later is refused even while the first call is in flight.
        A refusal is told to the discovery collecting failures: a call not made has neither failed nor succeeded.
        """
        why = self._claim(key, now, force=force, interval=interval, marker=marker)
        if why is not None:
            call_skipped()
        return why

    def _claim(self, key: str, now: datetime, *, force: bool, interval: float | None, marker: str) -> str | None:
        try:
            with self._locked() as data:
                e = self._entry(data, key)
                ts = now.timestamp()
                retry_until = as_float(e.get("retry_until")) or 0.0
                if ts < retry_until:
                    return f"server asked to wait (retry-after) {int(retry_until - ts)}s more"
                auth_until = as_float(e.get("auth_block_until")) or 0.0
                if ts < auth_until and e.get("auth_marker") == marker:
                    return AUTH_BLOCKED
                next_at = as_float(e.get("next_at")) or 0.0
                new_login = force and bool(marker) and e.get("last_marker") != marker
                if ts < next_at and not new_login:
                    return f"last call {int(ts - (as_float(e.get('last_call')) or ts))}s ago (≤1 per interval)"
                gap = self.interval if interval is None else interval
                e["last_call"] = ts
                e["last_marker"] = marker
                # No jitter here: the daemon's schedule is jittered already, and a jittered gate would refuse a
                # scheduled run that came a few seconds "early", doubling the real interval.
                e["next_at"] = ts + gap
                return None
        except OSError as exc:
            # An unwritable cache dir must not allow hammering the endpoint: refuse, say why.
            log.warning("discovery gate %s unusable: %s", self.path, exc.strerror or type(exc).__name__)
            return "call gate file not writable"

    def retry_after(self, key: str, now: datetime, seconds: float) -> int:
        """Remember a server's wait (429 / 503 `retry-after`), clamped to [60 s, 24 h]; the seconds stored."""
        stored = min(max(seconds, 60.0), MAX_RETRY_AFTER)
        self._update(key, retry_until=(now + timedelta(seconds=stored)).timestamp())
        return int(stored)

    def auth_failed(self, key: str, now: datetime, marker: str) -> None:
        """Stop using the credential identified by `marker` for a while (401/403)."""
        self._update(key, auth_block_until=now.timestamp() + AUTH_BACKOFF, auth_marker=marker)

    def good(
        self, key: str, now: datetime, windows: tuple[QuotaWindow, ...], extra: tuple[tuple[str, str], ...]
    ) -> None:
        """Keep this successful answer as the source's last good one."""
        fresh_answer()
        self._update(
            key,
            good={"at": now.timestamp(), "windows": [_window_to_json(w) for w in windows], "extra": list(extra)},
            retry_until=None,
            auth_block_until=None,
        )

    def last_good(self, key: str) -> LastGood | None:
        """The source's last good answer, if one was ever kept."""
        g = as_dict(as_dict(self._read()["sources"].get(key)).get("good"))
        at = from_epoch(g.get("at"))
        if at is None:
            return None
        raw = g.get("windows")
        windows = tuple(w for d in (raw if isinstance(raw, list) else []) if (w := _window_from_json(as_dict(d))))
        extra_raw = g.get("extra")
        extra = tuple(
            (str(p[0]), str(p[1]))
            for p in (extra_raw if isinstance(extra_raw, list) else [])
            if isinstance(p, list) and len(p) == 2
        )
        return LastGood(at, windows, extra)

    def _update(self, key: str, **values: Any) -> None:
        try:
            with self._locked() as data:
                e = self._entry(data, key)
                for k, v in values.items():
                    if v is None:
                        e.pop(k, None)
                    else:
                        e[k] = v
        except OSError as exc:
            log.warning("discovery gate %s not writable: %s", self.path, exc.strerror or type(exc).__name__)
