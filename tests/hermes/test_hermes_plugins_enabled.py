"""`plugins.enabled` gains or loses exactly one name; every other byte of Hermes' config stays as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from bhoga.errors import HermesConfigError
from bhoga.hermes._plugins import plugin_enabled, set_plugin_enabled

CORPUS = Path(__file__).parents[1] / "data" / "hermes" / "corpus"

SHAPES = {
    "no_plugins_key": "# my config\nmodel:\n  default: gpt-5.5  # pinned\n  provider: openai-codex\n",
    "no_trailing_newline": "model:\n    default: gpt-5.5\n    provider: openai-codex",
    "plugins_without_enabled": "plugins:\n  disabled: []  # none\nagent:\n  max_turns: 60\n",
    "block_list": (
        "plugins:\n  enabled:\n    - disk-cleanup  # keep me\n    # a comment between\n    - other\nagent: {}\n"
    ),
    "block_list_no_offset": "plugins:\n  enabled:\n  - disk-cleanup\nagent: {}\n",
    "flow_list": "plugins:\n  enabled: [disk-cleanup, other]  # flow\n",
    "empty_flow": "plugins:\n  enabled: []\n",
    "null_enabled": "plugins:\n  enabled:\n  disabled: []\n",
    "crlf": "model:\r\n  default: x\r\nplugins:\r\n  enabled:\r\n    - a\r\n",
}


def _enabled(path: Path) -> list[str]:
    data = yaml.safe_load(path.read_text()) or {}
    return list(data["plugins"]["enabled"])


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_enable_adds_only_the_name(name: str, tmp_path: Path) -> None:
    """Enabling adds `bhoga` to plugins.enabled (as PyYAML, Hermes' reader, sees it); other lines stay."""
    cfg = tmp_path / "config.yaml"
    cfg.write_bytes(SHAPES[name].encode())
    before = yaml.safe_load(SHAPES[name]) or {}
    assert set_plugin_enabled("bhoga", True, cfg) is True
    after = yaml.safe_load(cfg.read_text())
    assert _enabled(cfg)[-1] == "bhoga"
    assert {k: v for k, v in after.items() if k != "plugins"} == {k: v for k, v in before.items() if k != "plugins"}
    old_enabled = ((before.get("plugins") or {}).get("enabled")) or []
    assert _enabled(cfg) == [*old_enabled, "bhoga"]
    text = cfg.read_bytes().decode()
    for line in SHAPES[name].splitlines():
        if "enabled:" not in line:  # only that key's line may change (a flow list or a bare key)
            assert line in text
    assert plugin_enabled("bhoga", cfg)
    assert set_plugin_enabled("bhoga", True, cfg) is False  # already there: no write


@pytest.mark.parametrize("name", ["block_list", "block_list_no_offset", "flow_list", "crlf"])
def test_enable_then_disable_restores_the_file(name: str, tmp_path: Path) -> None:
    """Disable after enable gives back the original bytes when the list had other entries."""
    cfg = tmp_path / "config.yaml"
    cfg.write_bytes(SHAPES[name].encode())
    set_plugin_enabled("bhoga", True, cfg)
    assert set_plugin_enabled("bhoga", False, cfg) is True
    assert cfg.read_bytes() == SHAPES[name].encode()
    assert not plugin_enabled("bhoga", cfg)
    assert set_plugin_enabled("bhoga", False, cfg) is False


def test_disable_of_the_only_entry_leaves_an_empty_list(tmp_path: Path) -> None:
    """Removing the only name leaves `enabled: []` (a missing key means something else to Hermes)."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text("plugins:\n  enabled:\n    - bhoga\n  disabled: []\n# tail\n")
    assert set_plugin_enabled("bhoga", False, cfg)
    assert cfg.read_text() == "plugins:\n  enabled: []\n  disabled: []\n# tail\n"


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.yaml")), ids=lambda p: p.name)
def test_corpus_files_round_trip(path: Path, tmp_path: Path) -> None:
    """Every corpus config either takes the edit with its other data intact, or is refused with one line."""
    cfg = tmp_path / "config.yaml"
    cfg.write_bytes(path.read_bytes())
    try:
        before = yaml.safe_load(path.read_bytes()) or {}
    except yaml.YAMLError:
        before = None
    try:
        set_plugin_enabled("bhoga", True, cfg)
    except HermesConfigError as e:
        assert "\n" not in str(e) and cfg.read_bytes() == path.read_bytes()
        return
    after = yaml.safe_load(cfg.read_bytes())
    assert "bhoga" in after["plugins"]["enabled"]
    if isinstance(before, dict):
        assert {k: v for k, v in after.items() if k != "plugins"} == {k: v for k, v in before.items() if k != "plugins"}


def test_refuses_a_plugins_value_that_is_not_a_mapping(tmp_path: Path) -> None:
    """`plugins: [a]` is not Hermes' shape: refused with one line, the file untouched."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text("plugins: [a]\n")
    with pytest.raises(HermesConfigError, match="not a plain mapping"):
        set_plugin_enabled("bhoga", True, cfg)
    assert cfg.read_text() == "plugins: [a]\n"


def test_disabled_list_wins(tmp_path: Path) -> None:
    """A name in plugins.disabled is not loaded by Hermes, so it does not count as enabled."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text("plugins:\n  enabled: [bhoga]\n  disabled: [bhoga]\n")
    assert not plugin_enabled("bhoga", cfg)
