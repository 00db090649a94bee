"""One pause rule for every process: bhogad.toml `paused = true` or the marker file (bhoga/_pause.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bhoga._paths import daemon_config_path, paused_marker_path
from bhoga._pause import is_paused, set_paused
from bhoga.cli import main


def _status_paused(capsys: pytest.CaptureFixture[str]) -> bool:
    assert main(["status", "--json"]) == 0
    paused = json.loads(capsys.readouterr().out)["paused"]
    assert isinstance(paused, bool)
    return paused


def test_status_without_a_daemon_honours_bhogad_toml_paused(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`bhoga status` with no daemon says paused when bhogad.toml says so, as the daemon's status does."""
    assert _status_paused(capsys) is False
    config = daemon_config_path()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("paused = true\n")
    assert is_paused() is True and is_paused(False) is False
    assert _status_paused(capsys) is True
    config.write_text("paused = false\n")
    assert _status_paused(capsys) is False


def test_marker_is_the_same_for_cli_and_daemon(home: Path) -> None:
    """set_paused creates and removes the one marker file that both the CLI and bhogad read."""
    set_paused(True)
    assert paused_marker_path().exists() and is_paused(False)
    set_paused(True)  # twice is fine
    set_paused(False)
    assert not paused_marker_path().exists() and not is_paused(False)
    set_paused(False)  # and so is resuming twice
