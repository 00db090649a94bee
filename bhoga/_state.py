"""The state file: provider quotas shared by every bhoga process of the user.

Versioned JSON, written atomically (temp file in the same directory, fsync, `os.replace`), and always as
read-merge-write under an `flock` on a separate lock file, so processes writing different providers or windows
lose nothing. A corrupt file is moved aside with one warning and the store starts fresh. Beside the providers'
records the file keeps the models in use and the learned turn costs (`bhoga._inuse`), merged the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from bhoga import _files, _inuse, _lazy
from bhoga._inuse import InUse
from bhoga._merge import cap_ahead, combine
from bhoga._model import ProviderQuota, QuotaWindow
from bhoga._providers import PROVIDERS
from bhoga._state_shape import check_state
from bhoga._values import stored_time
from bhoga.errors import NotRegularFileError, StateError

__all__ = ["VERSION", "StateStore", "quota_from_dict", "quota_to_dict"]

# Annotations only: importing `typing` at run time would cost `import bhoga` two milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = _lazy.logger(__name__)
VERSION = 1
MAX_STATE_BYTES = 16 * 1024 * 1024
"""A state file holds a few kilobytes; anything near this is not ours."""


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def quota_to_dict(q: ProviderQuota) -> dict[str, Any]:
    """A JSON-ready dict of what is worth keeping of `q` (derived fields are recomputed when read)."""
    return {
        "windows": [
            {
                "name": w.name,
                "pct_used": w.pct_used,
                "resets_at": _iso(w.resets_at),
                "window_min": w.window_min,
                "scope": w.scope,
                "observed_at": _iso(w.observed_at),
                "source": w.source,
            }
            for w in q.windows
        ],
        "throttled_until": _iso(q.throttled_until),
        "throttle_observed_at": _iso(q.throttle_observed_at),
        "credential": q.credential,
        "credential_observed_at": _iso(q.credential_observed_at),
        "updated_at": _iso(q.updated_at),
        "note": q.note,
        "extra": dict(q.extra),
        "credential_sources": list(q.credential_sources),
        "credential_marker": q.credential_marker,
        "verdict": q.verdict,
        "verdict_marker": q.verdict_marker,
        "verdict_observed_at": _iso(q.verdict_observed_at),
    }


def quota_from_dict(pid: str, d: Mapping[str, Any]) -> ProviderQuota:
    """The inverse of `quota_to_dict`; fields of the wrong type are dropped, not trusted.

    Resets and throttle ends are capped at 31 days from now, like every time from outside (a file written
    by a bhoga without the cap, or edited by hand, must not keep a provider throttled for years).
    """
    now = datetime.now(UTC)
    windows = []
    for w in d.get("windows") or ():
        if not isinstance(w, dict) or not isinstance(w.get("name"), str):
            continue
        pct = w.get("pct_used")
        if not isinstance(pct, int | float) or isinstance(pct, bool) or not 0 <= pct <= 100:
            continue
        windows.append(
            QuotaWindow(
                name=w["name"],
                pct_used=float(pct),
                resets_at=cap_ahead(stored_time(w.get("resets_at")), now),
                window_min=w["window_min"] if isinstance(w.get("window_min"), int) else 0,
                scope=w["scope"] if isinstance(w.get("scope"), str) else "*",
                observed_at=stored_time(w.get("observed_at")),
                source=str(w.get("source") or ""),
            )
        )
    extra: dict[object, object] = d["extra"] if isinstance(d.get("extra"), dict) else {}
    sources: list[object] = d["credential_sources"] if isinstance(d.get("credential_sources"), list) else []
    verdict = d.get("verdict")
    return ProviderQuota(
        provider_id=pid,
        windows=tuple(windows),
        throttled_until=cap_ahead(stored_time(d.get("throttled_until")), now),
        throttle_observed_at=stored_time(d.get("throttle_observed_at")),
        credential=d.get("credential") is True,
        credential_observed_at=stored_time(d.get("credential_observed_at")),
        updated_at=stored_time(d.get("updated_at")),
        note=d["note"] if isinstance(d.get("note"), str) else "",
        extra=tuple((str(k), str(v)) for k, v in extra.items()),
        credential_sources=tuple(str(x) for x in sources if isinstance(x, str))[:16],
        credential_marker=_short(d.get("credential_marker")),
        verdict=verdict if verdict in ("verified", "rejected") else "",
        verdict_marker=_short(d.get("verdict_marker")),
        verdict_observed_at=stored_time(d.get("verdict_observed_at")),
    )


def _short(v: object) -> str:
    return v[:64] if isinstance(v, str) else ""


class StateStore:
    """Reads and merges the state file; every write is a locked read-merge-write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return _files.locked_for(self.path, "state")

    def _read_unlocked(self) -> tuple[dict[str, ProviderQuota], InUse]:
        try:
            raw = _files.read_bounded(self.path, MAX_STATE_BYTES)
        except FileNotFoundError:
            return {}, InUse()
        except NotRegularFileError as e:
            raise StateError(f"state file {e}") from None
        except OSError as e:
            raise StateError(f"cannot read state file {self.path}: {e.strerror}") from None
        try:
            doc = json.loads(raw)
            check_state(doc, VERSION, PROVIDERS)
        except (ValueError, RecursionError) as e:
            # RecursionError: JSON nested thousands deep. A wrong shape is damage too: moved aside, not half-used.
            aside = self.path.with_name(f"{self.path.name}.corrupt-{os.getpid()}")
            _files.move_aside(self.path, aside)
            log.warning(
                "state file %s is unreadable (%s); moved it to %s and started fresh",
                self.path,
                (str(e) or type(e).__name__).splitlines()[0][:120],
                aside.name,
            )
            return {}, InUse()
        quotas = {
            pid: quota_from_dict(pid, d)
            for pid, d in doc["providers"].items()
            if pid in PROVIDERS and isinstance(d, dict)
        }
        return quotas, _inuse.from_json(doc)

    def load(self) -> dict[str, ProviderQuota]:
        """The quotas in the file now (empty when there is none)."""
        return self.load_all()[0]

    def load_all(self) -> tuple[dict[str, ProviderQuota], InUse]:
        """The quotas in the file now, and the models in use and learned turn costs it keeps (`bhoga._inuse`)."""
        with self._locked():
            quotas, in_use = self._read_unlocked()
        return quotas, _inuse.merge(in_use, InUse(), time.time())

    def merge_and_save(self, mine: Mapping[str, ProviderQuota]) -> dict[str, ProviderQuota]:
        """Merge `mine` into the file's records (newest wins per fact), write the result, and return it."""
        return self.merge_all(mine)[0]

    def merge_all(
        self, mine: Mapping[str, ProviderQuota], in_use: InUse | None = None
    ) -> tuple[dict[str, ProviderQuota], InUse]:
        """`merge_and_save`, with the models in use and learned costs as well (`bhoga._inuse.merge`: the newer
        fact wins, what is older than a week goes); returns both as written."""
        with self._locked():
            merged, kept = self._read_unlocked()
            for pid, q in mine.items():
                merged[pid] = combine(merged.get(pid), q)
            kept = _inuse.merge(kept, in_use or InUse(), time.time())
            self._remove_orphans()
            doc = {
                "version": VERSION,
                "providers": {pid: quota_to_dict(q) for pid, q in sorted(merged.items())},
                **_inuse.to_json(kept),
            }
            self._write_atomic(json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n")
        return merged, kept

    def _remove_orphans(self) -> None:
        # Every writer holds the lock while its temp file exists, so any temp file seen under the lock was left
        # by a writer that was killed mid-write.
        _files.remove_orphans(_files.real_path(self.path))

    def _write_atomic(self, data: bytes) -> None:
        try:
            _files.atomic_write(self.path, data, mode=0o600)
        except NotRegularFileError as e:
            raise StateError(f"state file {e}") from None
        except OSError as e:
            raise StateError(f"cannot write state file {self.path}: {e.strerror}") from None
