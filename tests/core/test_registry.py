"""The provider registry is the one source of truth: a provider added there (one entry, one discovery module, one
route) is ranked, shown by `status` and `doctor`, written for Hermes, recognised when read back and watched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bhoga import Router, _providers
from bhoga._hierarchy import hierarchy, register, unregister
from bhoga._provider_entry import Endpoint, Kind, ModelNames, Provider
from bhoga._providers import hermes_to_pid
from bhoga.cli import main
from bhoga.cli._doctor import run_checks
from bhoga.errors import HermesConfigError
from bhoga.hermes import apply_to_hermes, hermes_exclusions
from bhoga.hermes._plugin_files import plugin_files, registry_tables
from bhogad import targets
from bhogad.flip import hermes_provider_to_pid
from tests.fixtures_hermes import HermesHome, hermes
from tests.fixtures_resolver import hermes_python, resolve

__all__ = ["hermes", "hermes_python"]

ACME_URL = "http://127.0.0.1:9/acme/v1"
ACME_KEY = "sk-acme-FAKEacmeKEY0000"
ACME = Provider(
    "acme",
    Kind.SUBSCRIPTION,
    "anthropic",
    0,
    "Acme plan",
    (
        Endpoint(
            "acme",
            ("ACME_API_KEY",),
            entry=(("base_url", ACME_URL), ("key_env", "ACME_API_KEY"), ("api_mode", "chat_completions")),
        ),
    ),
    ModelNames.HYPHENATED,
    keys=("ACME_API_KEY",),
    aliases=(("custom:acme", "acme"),),
    hosts=("acme.test",),
    discovery="tests.core.registry_acme",
    rejected_fix="acme login",
)
MODEL = "claude-sonnet-4.6"
CONFIG = "model:\n  provider: anthropic\n  default: claude-sonnet-4-6\n"


@pytest.fixture
def acme(home: Path, hermes: HermesHome) -> Iterator[HermesHome]:
    """`acme` registered with 20 % of its 5 h window used, its key in Hermes' .env, a Claude login (quota
    unknown offline) and a Hermes config routed to Claude Code; unregistered afterwards."""
    (home / ".acme").mkdir()
    (home / ".acme" / "quota.json").write_text(json.dumps({"pct_used": 20}))
    (hermes.dir / ".env").write_text(f"ACME_API_KEY={ACME_KEY}\n")
    hermes.claude_login()
    hermes.write_config(CONFIG)
    register(ACME)
    try:
        yield hermes
    finally:
        unregister("acme")


def _router(tmp_path: Path) -> Router:
    router = Router(state_path=tmp_path / "state.json", eager=False, daemon=False)
    router.discover()
    return router


def test_registered_provider_is_ranked(acme: HermesHome, tmp_path: Path) -> None:
    """A registered provider joins its family's hierarchy and wins when its quota is the best known."""
    assert hierarchy(MODEL)[0] == "acme"
    router = _router(tmp_path)
    try:
        best = router.best_for(MODEL)
        assert best is not None and best.provider_id == "acme"
        assert best.hermes_model == "claude-sonnet-4-6"
        assert [r.provider_id for r in router.ranked(MODEL)] == ["acme", "claude_code"]
    finally:
        router.close()
    unregister("acme")
    assert "acme" not in hierarchy(MODEL)
    router = _router(tmp_path / "after")
    try:
        best = router.best_for(MODEL)
        assert best is not None and best.provider_id == "claude_code"
    finally:
        router.close()


def test_registered_provider_in_status_json(acme: HermesHome, capsys: pytest.CaptureFixture[str]) -> None:
    """`bhoga status --json` (no daemon) lists the new provider's quota and recommends it for Hermes' model."""
    assert main(["status", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    quota = next(q for q in answer["quotas"] if q["provider_id"] == "acme")
    assert quota["credential_state"] == "verified"
    assert quota["credential_sources"] == ["acme_file"]
    route = next(r for r in answer["routes"] if r["model"] == "claude-sonnet-4-6")
    assert route["recommendation"]["provider_id"] == "acme"


def test_registered_provider_in_doctor(acme: HermesHome) -> None:
    """`bhoga doctor` checks the new provider's login and knows its Hermes provider id and alias."""
    checks = {c.what: c for c in run_checks()}
    assert checks["acme credentials"].ok is True
    assert "Acme login in" in checks["acme credentials"].detail
    for name in ("acme", "custom:acme"):
        acme.write_config(f"model:\n  provider: {name}\n  default: claude-sonnet-4-6\n")
        checks = {c.what: c for c in run_checks()}
        assert "Hermes provider" not in checks, checks.get("Hermes provider")


def test_registered_provider_is_written_for_hermes(acme: HermesHome, tmp_path: Path) -> None:
    """The Hermes writer routes to the new provider's endpoint, with its `providers:` entry; reading it back
    (or its alias) means the new provider, and it is excluded once Hermes cannot see its key."""
    router = _router(tmp_path)
    try:
        assert apply_to_hermes(router, MODEL) is True
    finally:
        router.close()
    data = YAML(typ="safe").load(acme.config.read_text())
    assert data["model"]["provider"] == "acme"
    assert data["model"]["default"] == "claude-sonnet-4-6"
    assert data["providers"]["acme"] == {
        "base_url": ACME_URL,
        "key_env": "ACME_API_KEY",
        "api_mode": "chat_completions",
    }
    assert ACME_KEY not in acme.config.read_text()
    assert hermes_provider_to_pid("acme") == ("acme", True)
    assert hermes_to_pid("custom:acme") == "acme"
    (acme.dir / ".env").write_text("")
    assert "ACME_API_KEY is not set for Hermes" in hermes_exclusions()["acme"]
    with pytest.raises(HermesConfigError, match="acme cannot be used by Hermes"):
        from bhoga.hermes._home import read_facts
        from bhoga.hermes._routes import route_for

        route_for("acme", MODEL, read_facts())


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_registered_provider_resolves_in_real_hermes(acme: HermesHome, tmp_path: Path, hermes_python: str) -> None:
    """hermes-agent 0.19.0 resolves what bhoga wrote for the new provider to its endpoint and key."""
    router = _router(tmp_path)
    try:
        apply_to_hermes(router, MODEL)
    finally:
        router.close()
    result = resolve(hermes_python, acme)
    rt = result["runtime"]
    assert "error" not in rt, rt
    assert (rt["provider"], rt["api_mode"], rt["base_url"], rt["source"]) == (
        "custom",
        "chat_completions",
        ACME_URL,
        "custom_provider:acme",
    )
    assert rt["api_key"]["same_as_env"] == ["ACME_API_KEY"]
    assert result["api_model"] == "claude-sonnet-4-6"


def test_registered_provider_is_watched_and_reported(acme: HermesHome, home: Path) -> None:
    """bhogad watches the files the new provider's discovery module names (as a login), and the Hermes plugin
    maps its Hermes id, alias and API host to it."""
    specs = targets.watch_specs(None)
    spec = next(s for s in specs if s.directory == home / ".acme")
    assert spec.tag == targets.LOGIN + "acme" and spec.names == frozenset({"quota.json"})
    source = plugin_files()["__init__.py"].decode()
    for line in ('"acme": "acme",', '"custom:acme": "acme",', '("acme.test", "acme"),'):
        assert line in source


def test_shipped_plugin_tables_match_the_registry() -> None:
    """The tables in bhoga/hermes_plugin.py are the registry's, so the module and the written plugin agree."""
    text = (Path(_providers.__file__).parent / "hermes_plugin.py").read_text()
    begin = text.index("# registry: begin\n") + len("# registry: begin\n")
    assert text[begin : text.index("# registry: end\n")] == registry_tables()
