"""The state file: versioned, atomic, locked read-merge-write across processes, corrupt files set aside."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bhoga._model import ProviderQuota, QuotaWindow
from bhoga._state import VERSION, StateStore, quota_from_dict, quota_to_dict
from bhoga.errors import StateError
from tests.strategies import NOW


def window(name: str, used: float, age: int = 0, scope: str = "*") -> QuotaWindow:
    return QuotaWindow(name, used, NOW + timedelta(hours=5), 300, scope, NOW + timedelta(seconds=age), "test")


def test_round_trip_keeps_every_fact(tmp_path: Path) -> None:
    """What is saved is what is loaded, field for field."""
    q = ProviderQuota(
        "claude_code",
        windows=(window("burst", 12.5), window("weekly", 40, scope="opus")),
        throttled_until=NOW,
        throttle_observed_at=NOW,
        credential=True,
        credential_observed_at=NOW,
        updated_at=NOW,
        note="stale credentials",
        extra=(("plan", "max"),),
    )
    assert quota_from_dict("claude_code", quota_to_dict(q)) == q
    store = StateStore(tmp_path / "s.json")
    assert store.merge_and_save({"claude_code": q}) == {"claude_code": q}
    assert StateStore(tmp_path / "s.json").load() == {"claude_code": q}


def test_file_is_versioned_private_and_leaves_no_temp(tmp_path: Path) -> None:
    """The file carries its version, is mode 0600, and no temp file stays behind."""
    path = tmp_path / "state" / "state.json"
    StateStore(path).merge_and_save({"anthropic_api": ProviderQuota("anthropic_api", credential=True)})
    assert json.loads(path.read_text())["version"] == VERSION
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.json", "state.json.lock"]


def test_newest_window_wins_on_merge(tmp_path: Path) -> None:
    """An older observation in memory never overwrites a newer one on disk, and vice versa."""
    store = StateStore(tmp_path / "s.json")
    store.merge_and_save({"claude_code": ProviderQuota("claude_code", windows=(window("burst", 50, age=10),))})
    merged = store.merge_and_save(
        {"claude_code": ProviderQuota("claude_code", windows=(window("burst", 90, age=5), window("weekly", 20)))}
    )
    got = {w.name: w.pct_used for w in merged["claude_code"].windows}
    assert got == {"burst": 50, "weekly": 20}


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"version": 99, "providers": {}}', b"\xff\xfe", b""])
def test_corrupt_file_is_moved_aside(tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture) -> None:
    """A corrupt or foreign file is moved aside with one warning and the store starts fresh."""
    path = tmp_path / "s.json"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        assert StateStore(path).load() == {}
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    aside = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert not path.exists()


def test_bad_fields_move_the_file_aside(tmp_path: Path) -> None:
    """Windows with impossible values or wrong types mean a damaged file: moved aside whole (DESIGN §8.4)."""
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps(
            {
                "version": VERSION,
                "providers": {
                    "claude_code": {
                        "windows": [
                            {"name": "burst", "pct_used": 150},
                            {"name": "weekly", "pct_used": "x"},
                            {"name": "burst", "pct_used": 30, "resets_at": "tomorrow"},
                            7,
                        ],
                        "credential": "yes",
                    },
                    "nonsense": {"windows": []},
                },
            }
        )
    )
    assert StateStore(path).load() == {}
    assert not path.exists() and len(list(tmp_path.glob("s.json.corrupt-*"))) == 1


def test_unwritable_directory_is_a_state_error(tmp_path: Path) -> None:
    """A state directory that cannot be written gives a StateError naming the file."""
    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("")
        path = blocker / "s.json"  # a path under a regular file cannot be created, even by root
    else:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        path = ro / "s.json"
    with pytest.raises(StateError, match=r"s\.json"):
        StateStore(path).merge_and_save({"anthropic_api": ProviderQuota("anthropic_api", credential=True)})


WRITER = """
import sys
from bhoga import Router
path, me, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = Router(state_path=path, eager=False)
for j in range(n):
    r.set_quota("claude_code", 50, model=f"writer{me}-model{j}")
r.close()
"""


def test_four_processes_lose_nothing(tmp_path: Path) -> None:
    """Four real processes writing distinct keys at once all find their keys in the file."""
    path = tmp_path / "state.json"
    n = 25
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(i), str(n)]) for i in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    scopes = {w.scope for w in StateStore(path).load()["claude_code"].windows}
    assert scopes == {f"writer{i}-model{j}" for i in range(4) for j in range(n)}
