"""The plugin in the real Hermes (hermes-agent 0.19.0): loaded by Hermes' plugin manager, heard by a real bhogad."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bhoga.hermes import _plugin_files
from tests.fixtures_daemon import DaemonProc, request, wait_until
from tests.fixtures_resolver import hermes_python

__all__ = ["hermes_python"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
PROBE = Path(__file__).parents[1] / "hermes_resolver" / "plugin_probe.py"
_UPDATE_CHECK = '{"ts": 9999999999, "behind": 0, "rev": null, "ver": "0.19.0"}'


@pytest.fixture
def hermes_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = home / ".hermes"
    d.mkdir()
    (d / "config.yaml").write_text("# my config\nmodel:\n  default: gpt-5.5\n  provider: openai-codex\n")
    (d / ".update_check").write_text(_UPDATE_CHECK)
    monkeypatch.setenv("HERMES_HOME", str(d))
    return d


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProc]:
    d = DaemonProc(tmp_path / "bhogad.log")
    d.wait_ready()
    yield d
    d.kill()


def probe(python: str, home: Path, mode: str) -> dict[str, Any]:
    # Hermes runs as it would for a user: its own HOME and HERMES_HOME, no pytest variables, no BHOGA_SOCKET
    # (the plugin finds the socket from the path written into it).
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "HERMES_HOME": os.environ["HERMES_HOME"], "LANG": "C.UTF-8"}
    proc = subprocess.run([python, str(PROBE), mode], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PLANTED" not in proc.stdout + proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_hermes_loads_the_plugin_and_bhogad_hears_each_call(
    hermes_python: str, home: Path, hermes_home: Path, daemon: DaemonProc
) -> None:
    """Enabled plugin: Hermes loads it with both hooks; one success and one Codex 429 reach bhogad as turns."""
    _plugin_files.enable()
    result = probe(hermes_python, home, "load")
    assert result["plugin"] == [
        {**result["plugin"][0], "name": "bhoga", "source": "user", "enabled": True, "hooks": 2, "error": None}
    ]
    assert (result["sent"], result["dropped"]) == (2, 0)

    def heard() -> dict[str, Any] | None:
        st = request({"op": "status"})
        return st if st["daemon"]["turns_by_source"].get("hermes") == 2 else None

    st = wait_until(heard, what="two turns from Hermes")
    codex = next(q for q in st["quotas"] if q["provider_id"] == "openai-codex")
    assert codex["throttled_until"] is not None
    assert "PLANTED" not in daemon.log()


def test_disabled_plugin_is_not_loaded(hermes_python: str, home: Path, hermes_home: Path) -> None:
    """After disable Hermes finds no bhoga plugin; with files but no plugins.enabled entry it is not loaded."""
    _plugin_files.enable()
    _plugin_files.disable()
    assert probe(hermes_python, home, "load")["plugin"] == []
    _plugin_files.enable()
    from bhoga.hermes._plugins import set_plugin_enabled

    set_plugin_enabled("bhoga", False)
    [entry] = probe(hermes_python, home, "load")["plugin"]
    assert entry["enabled"] is False and "not enabled" in entry["error"]
