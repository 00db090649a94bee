"""A state file that parses but has the wrong shape is moved aside with one warning (DESIGN §8.4): the CLI
never prints "internal error" and bhogad never exits with a traceback (a restart loop under systemd)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bhoga._state import StateStore
from tests.fixtures_daemon import DaemonProc, request

pytestmark = pytest.mark.timeout(180)

GOOD_WINDOW = {"name": "burst", "pct_used": 10.0, "resets_at": None, "window_min": 300, "scope": "*"}


def _doc(quota: Any) -> dict[str, Any]:
    return {"version": 1, "providers": {"claude_code": quota}}


def _deep(n: int) -> Any:
    v: Any = "x"
    for _ in range(n):
        v = [v]
    return v


BAD: dict[str, Any] = {
    "quota-not-object": _doc([1, 2]),
    "windows-number": _doc({"windows": 5}),
    "window-number": _doc({"windows": [5]}),
    "pct-string": _doc({"windows": [{**GOOD_WINDOW, "pct_used": "10"}]}),
    "pct-bool": _doc({"windows": [{**GOOD_WINDOW, "pct_used": True}]}),
    "pct-nan": _doc({"windows": [{**GOOD_WINDOW, "pct_used": float("nan")}]}),
    "window-min-float": _doc({"windows": [{**GOOD_WINDOW, "window_min": 1.5}]}),
    "resets-number": _doc({"windows": [{**GOOD_WINDOW, "resets_at": 12345}]}),
    "resets-year-9999": _doc({"windows": [{**GOOD_WINDOW, "resets_at": "9999-12-31T23:59:59+00:00"}]}),
    "throttle-naive": _doc({"throttled_until": "2030-01-01T00:00:00"}),
    "throttle-object": _doc({"throttled_until": {"at": 1}}),
    "credential-string": _doc({"credential": "yes"}),
    "note-nested": _doc({"note": _deep(50)}),
    "extra-nested": _doc({"extra": {"plan": {"deep": _deep(50)}}}),
    "extra-list": _doc({"extra": [["plan", "max"]]}),
    "sources-string": _doc({"credential_sources": "env"}),
    "name-number": _doc({"windows": [{**GOOD_WINDOW, "name": 7}]}),
}


def _write(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("case", sorted(BAD))
def test_wrong_shape_is_moved_aside_with_one_warning(
    tmp_path: Path, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Each wrong-typed field makes the whole file move aside once; the store starts empty and still writes."""
    path = tmp_path / "state.json"
    _write(path, BAD[case])
    store = StateStore(path)
    assert store.load() == {}
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "moved it to" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()
    assert not path.exists()
    assert [p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name] == [f"state.json.corrupt-{os.getpid()}"]


def test_absurd_nesting_of_the_whole_file(tmp_path: Path) -> None:
    """JSON nested 100,000 deep is corrupt, not a crash."""
    path = tmp_path / "state.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert StateStore(path).load() == {}
    assert not path.exists()


def test_right_shape_with_unknown_provider_and_missing_fields_is_kept(tmp_path: Path) -> None:
    """Older files (missing fields) and newer providers (unknown ids) are not damage."""
    path = tmp_path / "state.json"
    doc = {"version": 1, "providers": {"claude_code": {"windows": [GOOD_WINDOW]}, "future_provider": {"x": [1]}}}
    _write(path, doc)
    loaded = StateStore(path).load()
    assert loaded["claude_code"].windows[0].pct_used == 10.0
    assert path.exists()


def test_many_per_model_windows_are_not_damage(tmp_path: Path) -> None:
    """A provider with thousands of per-model windows (one per `set_quota(model=...)`) is kept, not moved aside."""
    path = tmp_path / "state.json"
    windows = [{**GOOD_WINDOW, "scope": f"model-{i}"} for i in range(2000)]
    _write(path, {"version": 1, "providers": {"claude_code": {"windows": windows}}})
    loaded = StateStore(path).load()
    assert len(loaded["claude_code"].windows) == 2000
    assert not list(tmp_path.glob("state.json.corrupt-*"))


@pytest.mark.parametrize("case", ["windows-number", "extra-nested", "resets-year-9999", "credential-string"])
def test_cli_commands_survive_a_wrong_shaped_state(home: Path, case: str) -> None:
    """`bhoga status`, `best` and `set-quota` with a wrong-shaped state: one warning, never "internal error"."""
    state = home / ".cache" / "bhoga" / "state.json"
    for argv in (["status"], ["best", "claude-opus-4.6"], ["set-quota", "openai_api", "50"]):
        _write(state, BAD[case])
        p = subprocess.run(
            [sys.executable, "-m", "bhoga", *argv], capture_output=True, text=True, timeout=60, check=False
        )
        assert "internal error" not in p.stderr and "Traceback" not in p.stderr, (argv, p.stderr)
        assert p.returncode in (0, 1), (argv, p.stderr)
        assert sum("moved it to" in ln for ln in p.stderr.splitlines()) == 1, (argv, p.stderr)
    assert json.loads(state.read_text())["providers"]["openai_api"]["windows"][0]["pct_used"] == 50.0


def test_daemon_starts_on_a_wrong_shaped_state(home: Path, tmp_path: Path) -> None:
    """bhogad moves a wrong-shaped state aside and serves; it does not exit with a traceback."""
    state = home / ".cache" / "bhoga" / "state.json"
    _write(state, BAD["windows-number"])
    d = DaemonProc(tmp_path / "bhogad.log")
    try:
        d.wait_ready()
        assert request({"op": "status"})["ok"]
    finally:
        d.stop()
    assert "Traceback" not in d.log() and "moved it to" in d.log()
