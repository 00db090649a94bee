"""`bhogad install --hermes-plugin` installs the Hermes plugin with the service; `bhogad uninstall` removes both."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]


def _bhogad(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bhogad", *args], capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip


@pytest.fixture
def hermes(home: Path) -> Path:
    d = home / ".hermes"
    d.mkdir()
    (d / "config.yaml").write_text("# mine\nmodel:\n  default: gpt-5.5  # keep\n  provider: openai-codex\n")
    return d


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the systemd stand-in is Linux-only")
def test_install_with_plugin_then_uninstall_removes_both(home: Path, hermes: Path, fake_tools: Path) -> None:
    """install --hermes-plugin writes the unit, the plugin files and the plugins.enabled entry; uninstall undoes all."""
    r = _bhogad("install", "--hermes-plugin")
    assert r.returncode == 0, r.stderr
    assert (home / ".config/systemd/user/bhogad.service").exists()
    assert sorted(p.name for p in (hermes / "plugins" / "bhoga").iterdir()) == ["__init__.py", "plugin.yaml"]
    assert yaml.safe_load((hermes / "config.yaml").read_text())["plugins"]["enabled"] == ["bhoga"]
    assert "default: gpt-5.5  # keep" in (hermes / "config.yaml").read_text()
    r = _bhogad("uninstall")
    assert r.returncode == 0, r.stderr
    assert not (home / ".config/systemd/user/bhogad.service").exists()
    assert not (hermes / "plugins" / "bhoga").exists()
    assert yaml.safe_load((hermes / "config.yaml").read_text())["plugins"]["enabled"] == []
    assert "removed the Hermes plugin" in r.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the systemd stand-in is Linux-only")
def test_plain_install_leaves_hermes_alone_and_dry_run_writes_nothing(
    home: Path, hermes: Path, fake_tools: Path
) -> None:
    """Without the flag Hermes is untouched; with --dry-run the plugin is only described."""
    before = (hermes / "config.yaml").read_bytes()
    assert _bhogad("install").returncode == 0
    r = _bhogad("install", "--dry-run", "--hermes-plugin")
    assert r.returncode == 0 and "would write" in r.stdout
    assert (hermes / "config.yaml").read_bytes() == before and not (hermes / "plugins").exists()


def test_foreign_plugin_is_refused_in_one_line(home: Path, hermes: Path, fake_tools: Path) -> None:
    """A plugin called bhoga that bhoga did not write is never replaced; the error is one line, exit 1."""
    foreign = hermes / "plugins" / "bhoga"
    foreign.mkdir(parents=True)
    (foreign / "__init__.py").write_text("def register(ctx): pass\n")
    r = _bhogad("install", "--hermes-plugin")
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "did not write" in r.stderr
    assert (foreign / "__init__.py").read_text() == "def register(ctx): pass\n"
