"""The discovery module of `acme`, a provider that exists only in tests (tests/test_registry.py registers it).

Its plan's quota is the file `~/.acme/quota.json` (`{"pct_used": 20}`); the file's presence is the login.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from bhoga import _paths
from bhoga._model import Observation, QuotaWindow
from bhoga.discovery._common import CredentialFact, Watched
from bhoga.discovery._gate import Gate

PID = "acme"


def quota_file() -> Path:
    return _paths.home() / ".acme" / "quota.json"


def discover(gate: Gate, now: datetime, *, force: bool = False, network: bool = True) -> Observation:
    """The 5 h window the quota file states; no credential when there is no file."""
    try:
        used = float(json.loads(quota_file().read_text())["pct_used"])
    except (OSError, ValueError, KeyError, TypeError):
        return Observation(PID, now, credential=False, source="none", note=f"no {quota_file()}")
    window = QuotaWindow("burst", used, now + timedelta(hours=3), 300, "*", now, "acme")
    return Observation(PID, now, (window,), credential=True, source="acme", sources=("acme_file",))


def credential_fact(now: datetime) -> CredentialFact:
    found = quota_file().is_file()
    summary = f"Acme login in {quota_file()}" if found else f"no Acme login in {quota_file()}"
    return CredentialFact(PID, found, summary, "" if found else "acme login")


def watched() -> tuple[Watched, ...]:
    return (Watched("acme", quota_file().parent, frozenset({quota_file().name}), login=True),)
