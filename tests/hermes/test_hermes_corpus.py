"""Every route on every real-world-style config (tests/data/hermes/corpus/real, sources in its README) and on
Hermes' own example: only the route's keys change, every comment stays, a second apply is a no-op, and Hermes
0.19.0's resolver sends no key to another provider's host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from bhoga.hermes import apply_recommendation
from tests.fixtures_hermes import CORPUS, DATA, ROUTES, HermesHome, hermes, rec
from tests.fixtures_resolver import hermes_python, leaks, resolve

__all__ = ["hermes", "hermes_python"]

REAL = [*sorted((CORPUS / "real").glob("*.yaml")), DATA / "upstream-example-2026-03.yaml"]
# What a route may change: the model section, the root endpoint keys, bhoga's provider entry, auxiliary tasks.
ROUTE_KEYS = {"model", "base_url", "api_base", "providers", "auxiliary", "compression"}


def _comments(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip().startswith("#")]


def _outside(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ROUTE_KEYS}


@pytest.mark.parametrize("config", REAL, ids=[p.stem for p in REAL])
@pytest.mark.parametrize(("label", "pid", "model", "env"), ROUTES, ids=[r[0] for r in ROUTES])
def test_route_on_real_world_config(
    hermes: HermesHome, config: Path, label: str, pid: str, model: str, env: tuple[str, ...]
) -> None:
    """Only route keys change, comments and other sections stay, and the edit is idempotent."""
    hermes.everything(*env)
    before = config.read_text()
    hermes.write_config(config)
    assert apply_recommendation(rec(pid, model)) is True
    after = hermes.config.read_text()
    old, new = yaml.safe_load(before), yaml.safe_load(after)
    assert _outside(new) == _outside(old)
    assert _comments(after) == _comments(before)
    assert apply_recommendation(rec(pid, model)) is False
    assert new["model"]["default"] and new["model"]["provider"]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("config", REAL, ids=[p.stem for p in REAL])
def test_no_key_leaves_for_another_host_on_real_world_configs(
    hermes_python: str, hermes: HermesHome, config: Path
) -> None:
    """For each route written over each real-world config, Hermes 0.19.0 sends only the route's key to its host."""
    for _label, pid, model, env in ROUTES:
        hermes.everything(*env)
        hermes.write_config(config)
        apply_recommendation(rec(pid, model))
        result = resolve(hermes_python, hermes)
        runtime = result["runtime"]
        assert "error" not in runtime, (pid, runtime)
        assert leaks(runtime) == [], (pid, runtime)
        assert leaks(result["aux_compression"].get("runtime") or {}) == [], (pid, result["aux_compression"])
