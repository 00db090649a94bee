"""`bhoga hermes-plugin enable | disable | status`, run as the real console script in a temporary home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml  # type: ignore[import-untyped]

BHOGA = Path(sys.executable).with_name("bhoga")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([str(BHOGA), "hermes-plugin", *args], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ), check=False)  # fmt: skip
    assert "Traceback" not in r.stderr
    return r


def test_enable_status_disable(home: Path) -> None:
    """enable writes both files and the entry; status reports them (and no daemon); disable removes both."""
    hermes = home / ".hermes"
    hermes.mkdir()
    (hermes / "config.yaml").write_text("# mine\nmodel:\n  default: gpt-5.5\n")
    before = json.loads(_run("status", "--json").stdout)
    assert (before["files"], before["enabled"]) == ("absent", False)
    r = _run("enable")
    assert r.returncode == 0, r.stderr
    assert "added bhoga in plugins.enabled" in r.stdout
    after = json.loads(_run("status", "--json").stdout)
    assert (after["files"], after["enabled"], after["disabled"]) == ("current", True, False)
    assert "not running" in after["daemon"]
    plugin = (hermes / "plugins" / "bhoga" / "__init__.py").read_text()
    sock = Path(os.environ["XDG_RUNTIME_DIR"]) / "bhoga" / "bhogad.sock"
    assert f"SOCKET_PATH: str | None = {str(sock)!r}" in plugin  # the plugin finds this user's bhogad
    assert _run("enable").stdout.startswith("kept ")  # a second enable writes nothing
    r = _run("disable")
    assert r.returncode == 0 and "removed bhoga from plugins.enabled" in r.stdout
    assert not (hermes / "plugins" / "bhoga").exists()
    assert yaml.safe_load((hermes / "config.yaml").read_text())["plugins"]["enabled"] == []


def test_status_names_a_disabled_entry_and_no_hermes_is_one_line(home: Path) -> None:
    """plugins.disabled wins in Hermes and status says so; enable without a Hermes home is exit 1, one line."""
    r = _run("enable")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Hermes" in r.stderr
    hermes = home / ".hermes"
    hermes.mkdir()
    (hermes / "config.yaml").write_text("plugins:\n  enabled: [bhoga]\n  disabled: [bhoga]\n")
    out = _run("status").stdout
    assert "plugins.disabled has bhoga" in out and "to turn it on: bhoga hermes-plugin enable" in out


def test_doctor_reports_the_plugin(home: Path) -> None:
    """doctor says how to enable the plugin when it is off, and that it is fine once enabled."""
    hermes = home / ".hermes"
    hermes.mkdir()
    (hermes / "config.yaml").write_text("model:\n  default: gpt-5.5\n  provider: openai-codex\n")

    def doctor() -> str:
        r = subprocess.run([str(BHOGA), "doctor"], capture_output=True, text=True, timeout=60, env=dict(os.environ),
                           check=False)  # fmt: skip
        assert "Traceback" not in r.stderr
        return r.stdout

    before = doctor()
    assert "Hermes plugin: not enabled" in before and "bhoga hermes-plugin enable" in before
    assert _run("enable").returncode == 0
    assert "Hermes plugin: enabled" in doctor()
