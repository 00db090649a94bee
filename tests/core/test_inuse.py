"""The models in use and the learned turn costs outlive the Router that learned them (bhoga._inuse): kept in the
state file, forgotten after a week without a request, and a state file written before they were kept still loads."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bhoga import Router
from bhoga._inuse import MAX_MODELS, InUse, merge
from bhoga._model import Observation, QuotaWindow
from bhoga._state import StateStore

CP = "github-copilot"
GEMINI = "gemini-2.5-pro"
GPT = "gpt-5.4"
DAY = 86400.0


def copilot_and_openai(router: Router, left: float = 30.0) -> None:
    """A verified Copilot with `left` % of its month (resetting in 10 days) and an OpenAI API key."""
    now = datetime.now(UTC)
    w = QuotaWindow("monthly", 100.0 - left, now + timedelta(days=10), 43200, "*", now, "test")
    router.observe(Observation(CP, now, (w,), credential=True, verdict="verified"))
    router.observe(Observation("openai_api", now, credential=True))
    router.flush()


def value_router(path: Path) -> Router:
    return Router(state_path=path, eager=False, daemon=False, policy="value")


def test_a_sole_route_model_asked_before_a_restart_keeps_its_window_after_it(tmp_path: Path) -> None:
    """Gemini asked of one Router (Copilot is its only route) is still in use for the next Router on the same
    state file: with 30 % of Copilot left, GPT is sent to the OpenAI API and Copilot kept for Gemini; on a state
    file where nobody asked for Gemini, GPT takes Copilot."""
    path = tmp_path / "s.json"
    with value_router(path) as router:
        copilot_and_openai(router)
        gemini = router.best_for(GEMINI)
        assert gemini is not None and gemini.provider_id == CP
    with value_router(path) as router:
        rec = router.best_for(GPT)
    assert rec is not None and rec.provider_id == "openai_api", rec
    assert f"kept for {GEMINI}" in rec.reason
    with value_router(tmp_path / "fresh.json") as router:
        copilot_and_openai(router)
        rec = router.best_for(GPT)
    assert rec is not None and rec.provider_id == CP, rec


def test_a_model_routed_is_in_use_after_a_restart(tmp_path: Path) -> None:
    """A Gemini turn counted on Copilot (never asked about with `best_for`) makes Gemini a model in use, and the
    next Router on the state file keeps Copilot for it."""
    path = tmp_path / "s.json"
    with value_router(path) as router:
        copilot_and_openai(router)
        router.record_turn(CP, GEMINI, 10, 10, {}, 200)
        router.flush()
    with value_router(path) as router:
        rec = router.best_for(GPT)
    assert rec is not None and rec.provider_id == "openai_api" and f"kept for {GEMINI}" in rec.reason, rec


def _state_with_gemini(path: Path, age_days: float) -> None:
    with value_router(path) as router:
        copilot_and_openai(router)
    doc = json.loads(path.read_text())
    doc["models_in_use"] = {GEMINI: datetime.fromtimestamp(time.time() - age_days * DAY, UTC).isoformat()}
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(("age_days", "kept"), [(6.5, True), (7.5, False)])
def test_a_model_not_asked_for_a_week_is_no_longer_in_use(tmp_path: Path, age_days: float, kept: bool) -> None:
    """Gemini last asked about 6.5 days ago still keeps Copilot; 7.5 days ago it does not, and the next write of
    the state file leaves it out."""
    path = tmp_path / "s.json"
    _state_with_gemini(path, age_days)
    with value_router(path) as router:
        rec = router.best_for(GPT)
        router.set_quota("openai_api", 80)  # a change of state: written at once
    assert rec is not None and rec.provider_id == ("openai_api" if kept else CP), rec
    assert (GEMINI in json.loads(path.read_text())["models_in_use"]) is kept


def test_a_model_asked_again_is_renewed(tmp_path: Path) -> None:
    """Gemini last asked about 6.5 days ago and asked again now is written with the new time."""
    path = tmp_path / "s.json"
    _state_with_gemini(path, 6.5)
    with value_router(path) as router:
        assert router.ranked(GEMINI)
    written = datetime.fromisoformat(json.loads(path.read_text())["models_in_use"][GEMINI])
    assert datetime.now(UTC) - written < timedelta(hours=1)


def test_a_state_file_from_before_loads_unchanged(tmp_path: Path) -> None:
    """A state file written before the models in use were kept (no `models_in_use`, no `turn_costs`) loads with
    every provider's record as it was, no model in use, and gains both fields at the next write."""
    path = tmp_path / "s.json"
    old = {
        "version": 1,
        "providers": {
            "claude_code": {
                "windows": [
                    {
                        "name": "burst",
                        "pct_used": 40.0,
                        "resets_at": "2030-01-01T00:00:00+00:00",
                        "window_min": 300,
                        "scope": "*",
                        "observed_at": "2026-01-01T00:00:00+00:00",
                        "source": "headers",
                    }
                ],
                "credential": True,
                "updated_at": "2026-01-01T00:00:00+00:00",
            }
        },
    }
    path.write_text(json.dumps(old))
    quotas, in_use = StateStore(path).load_all()
    assert in_use == InUse()
    assert [w.pct_used for w in quotas["claude_code"].windows] == [40.0]
    assert path.read_text() == json.dumps(old)  # reading changes nothing
    with value_router(path) as router:
        assert router.best_for("claude-sonnet-4-6") is not None
        router.set_quota("anthropic_api", 90)
    doc = json.loads(path.read_text())
    assert doc["providers"]["claude_code"]["windows"][0]["pct_used"] == 40.0
    assert "claude-sonnet-4-6" in doc["models_in_use"] and doc["turn_costs"] == {}


@pytest.mark.parametrize(
    "extra",
    [
        {"models_in_use": ["gemini-2.5-pro"]},
        {"models_in_use": {"gemini-2.5-pro": "yesterday"}},
        {"turn_costs": {CP: {"monthly": {"at": "2026-01-01T00:00:00+00:00", "costs": {GPT: "cheap"}}}}},
        {"turn_costs": {CP: {"monthly": {"costs": {GPT: 1.0}}}}},
    ],
)
def test_a_wrong_shape_of_the_new_fields_moves_the_file_aside(
    tmp_path: Path, extra: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    """Models in use or turn costs of the wrong shape are damage like any other: the file is moved aside with
    one warning and the store starts fresh."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"version": 1, "providers": {}, **extra}))
    with caplog.at_level(logging.WARNING):
        assert StateStore(path).load_all() == ({}, InUse())
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert not path.exists() and list(tmp_path.glob("s.json.corrupt-*"))


def test_learned_turn_costs_outlive_the_router(tmp_path: Path) -> None:
    """What a Router learned a GPT turn costs Copilot (from two polls around ten turns) is what the next Router
    on the state file starts with, so its first turns count at that cost, not the cold guess."""
    path = tmp_path / "s.json"
    with value_router(path) as router:
        copilot_and_openai(router, left=40.0)
        for _ in range(10):
            router.record_turn(CP, GPT, 10, 10, {}, 200)
        router.flush()
        copilot_and_openai(router, left=35.0)  # the next poll: 5 % for 10 turns
        learned = router.economics().costs[(CP, "monthly")][GPT]
    assert learned == pytest.approx(0.5)
    with value_router(path) as router:
        assert router.economics().costs[(CP, "monthly")][GPT] == pytest.approx(0.5)
        router.record_turn(CP, GPT, 10, 10, {}, 200)
        router.flush()
        monthly = next(w for w in router.snapshot()[0].windows if w.name == "monthly")
    assert monthly.source == "estimate" and monthly.pct_used == pytest.approx(65.5)


def test_costs_not_learned_for_a_week_are_dropped() -> None:
    """Merging keeps each model's latest time and each window's latest costs, and drops what is a week old."""
    now = 1_800_000_000.0
    a = InUse({GEMINI: now - 8 * DAY, GPT: now - DAY}, {(CP, "monthly"): (now - 8 * DAY, {GPT: 1.0})})
    b = InUse({GPT: now - 2 * DAY}, {(CP, "burst"): (now - DAY, {GPT: 2.0})})
    assert merge(a, b, now) == InUse({GPT: now - DAY}, {(CP, "burst"): (now - DAY, {GPT: 2.0})})


def test_the_models_kept_are_bounded_to_the_most_recent() -> None:
    """Past `MAX_MODELS` models the least recently asked go first."""
    now = 1_800_000_000.0
    many = InUse({f"m{i}": now - i for i in range(MAX_MODELS + 10)})
    kept = merge(many, InUse(), now).models
    assert len(kept) == MAX_MODELS and "m0" in kept and f"m{MAX_MODELS}" not in kept


def test_two_routers_share_the_models_in_use(tmp_path: Path) -> None:
    """A model one Router was asked about reaches another Router on the same state file at its next write."""
    path = tmp_path / "s.json"
    with value_router(path) as first, value_router(path) as second:
        copilot_and_openai(second)
        first.best_for(GEMINI)  # asked about, whether or not this Router knows a route for it yet
        first.flush()
        second.set_quota("openai_api", 90)
        second.flush()  # its next write reads what the first one wrote
        rec = second.best_for(GPT)
    assert rec is not None and rec.provider_id == "openai_api" and f"kept for {GEMINI}" in rec.reason, rec


def test_a_model_name_the_state_file_would_refuse_is_never_written(tmp_path: Path) -> None:
    """A caller's model name longer than the state file allows is routed as ever but not kept, so the next
    Router loads the file instead of moving it aside."""
    path = tmp_path / "s.json"
    long_name = "gemini-" + "x" * 300
    with value_router(path) as router:
        copilot_and_openai(router)
        router.best_for(long_name)
        router.record_turn(CP, long_name, 10, 10, {}, 200)
        router.best_for(GEMINI)
    quotas, in_use = StateStore(path).load_all()
    assert CP in quotas and GEMINI in in_use.models and long_name not in in_use.models
