"""Policy "value": a subscription forecast to run out is kept for the models it saves the most on per unit
(comparative advantage), a window that is a model's only route keeps a share for it (sole-route protection), and
nothing is kept on a guess the Router cannot make (a cost it has not learned, a model nobody asked for)."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bhoga._hierarchy import hierarchy
from bhoga._model import ProviderQuota, QuotaWindow
from bhoga._pace import Pace
from bhoga._routing import rank, should_switch
from bhoga._settings import parse_policy
from bhoga._value import SOLE_KEEP, Economics, cycle_projection, price_of, rival
from bhoga._value import density as density_of
from bhoga.errors import ConfigError
from tests.strategies import NOW

H = timedelta(hours=1)
OPUS = "claude-opus-4-6"
SONNET = "claude-sonnet-4-6"
GEMINI = "gemini-2.5-pro"
PRICES = (("opus", 0.40), ("sonnet", 0.08), ("gpt", 0.05))
API = ProviderQuota("anthropic_api", credential=True)


def sub(pid: str, name: str, used: float, resets: timedelta, window_min: int = 300) -> ProviderQuota:
    w = QuotaWindow(name, used, NOW + resets, window_min, "*", NOW, "test")
    return ProviderQuota(pid, windows=(w,), credential=True, verdict="verified")


def econ(models: tuple[str, ...] = (OPUS, SONNET), metered: tuple[str, ...] = ("anthropic_api",)) -> Economics:
    """Claude Code: Opus 3 units, Sonnet 1; Copilot: Opus 10 premium requests, Sonnet and Gemini 1."""
    costs = {
        ("claude_code", "burst"): {OPUS: 2.5, SONNET: 0.83},
        ("github-copilot", "monthly"): {OPUS: 3.3, SONNET: 0.33, GEMINI: 0.33},
    }
    return Economics(costs, PRICES, frozenset(models), frozenset(metered))


OUT = Pace(30.0, NOW + H, 130.0, 5, 3600)
"""Runs out in an hour, two before its reset."""


def test_a_model_without_a_metered_route_is_priceless() -> None:
    """Gemini with no metered API has no price: it can never be sent to pay, and it is never refused."""
    e = econ()
    assert price_of(GEMINI, e) == math.inf
    assert price_of(OPUS, e) == 0.40
    w = sub("github-copilot", "monthly", 90, 100 * H, 43200).windows[0]
    assert rival("github-copilot", w, GEMINI, econ((OPUS, SONNET, GEMINI)), 0.1, NOW) is None


def test_comparative_advantage_names_the_rival() -> None:
    """On Claude Code Opus saves $0.16 a percent, Sonnet $0.10: Sonnet's rival is Opus. On Copilot Opus saves
    $0.12, Sonnet $0.24: Opus's rival is Sonnet. A model as good as the best (within 20 %) has none."""
    e = econ()
    cc = sub("claude_code", "burst", 50, 3 * H).windows[0]
    cop = sub("github-copilot", "monthly", 50, 100 * H, 43200).windows[0]
    assert rival("claude_code", cc, SONNET, e, 0.5, NOW) == (OPUS, False)
    assert rival("claude_code", cc, OPUS, e, 0.5, NOW) is None
    assert rival("github-copilot", cop, OPUS, e, 0.5, NOW) == (SONNET, False)
    assert rival("github-copilot", cop, SONNET, e, 0.5, NOW) is None


def test_no_rival_without_a_learned_cost_or_a_model_in_use() -> None:
    """A cost not learned yet, or a better model nobody has asked for, keeps nothing back."""
    cc = sub("claude_code", "burst", 50, 3 * H).windows[0]
    assert rival("claude_code", cc, SONNET, econ(models=(SONNET,)), 0.5, NOW) is None
    unlearned = Economics({("claude_code", "burst"): {OPUS: 2.5}}, PRICES, frozenset((OPUS, SONNET)))
    assert rival("claude_code", cc, SONNET, unlearned, 0.5, NOW) is None


def test_a_short_window_sends_the_cheaper_model_to_another_subscription() -> None:
    """Claude Code runs out before its reset: Sonnet goes to Copilot (free), Opus stays on Claude Code; with
    "pace", both would leave; without the forecast, Claude Code (resetting first) serves both."""
    qs = [sub("claude_code", "burst", 40, 3 * H), sub("github-copilot", "monthly", 40, 200 * H, 43200), API]
    paces = {("claude_code", "burst"): OUT}
    for model, first in ((SONNET, "github-copilot"), (OPUS, "claude_code")):
        got = rank(qs, model, NOW, policy="value", paces=paces, econ=econ())
        assert got[0].provider_id == first, model
    sonnet = rank(qs, SONNET, NOW, policy="value", paces=paces, econ=econ())
    assert "kept for claude-opus-4-6" in sonnet[0].reason
    assert rank(qs, OPUS, NOW, policy="pace", paces=paces)[0].provider_id == "github-copilot"
    assert rank(qs, SONNET, NOW, policy="value", paces={}, econ=econ())[0].provider_id == "claude_code"


def test_a_short_window_is_still_used_before_paying() -> None:
    """Kept for Opus, Claude Code still serves Sonnet rather than the paid API when no other subscription can:
    a burst that looks short may end before the reset (paying then wastes the window)."""
    qs = [sub("claude_code", "burst", 40, 3 * H), API]
    got = rank(qs, SONNET, NOW, policy="value", paces={("claude_code", "burst"): OUT}, econ=econ())
    assert [r.provider_id for r in got] == ["claude_code", "anthropic_api"]


def test_the_only_route_of_a_model_in_use_keeps_a_share_for_it() -> None:
    """Copilot is Gemini's only route: below 35 % left, Sonnet pays rather than take it; Gemini still gets it,
    and so does Sonnet while Gemini is not in use."""
    qs = [sub("github-copilot", "monthly", 70, 200 * H, 43200), API]
    e = econ((SONNET, GEMINI))
    got = rank(qs, SONNET, NOW, policy="value", paces={}, econ=e)
    assert got[0].provider_id == "anthropic_api"
    assert "kept for gemini-2.5-pro" in got[0].reason
    assert rank(qs, GEMINI, NOW, policy="value", paces={}, econ=e)[0].provider_id == "github-copilot"
    assert rank(qs, SONNET, NOW, policy="value", paces={}, econ=econ((SONNET,)))[0].provider_id == "github-copilot"
    roomy = [sub("github-copilot", "monthly", 50, 200 * H, 43200), API]
    assert rank(roomy, SONNET, NOW, policy="value", paces={}, econ=e)[0].provider_id == "github-copilot"


def test_a_model_that_saves_half_as_much_leaves_the_last_of_a_window_to_the_other() -> None:
    """On Copilot an Opus turn (10 premium requests, $0.40) saves at most half what Sonnet's (1, $0.08) does per
    request: below 35 % left, Opus pays and Copilot is kept for Sonnet whatever its pace; above it, Opus uses it.
    Sonnet on Claude Code (60 % of Opus's share) is not pushed out that way: it only ranks after other plans."""
    e = econ()
    low = sub("github-copilot", "monthly", 70, 200 * H, 43200)
    assert rival("github-copilot", low.windows[0], OPUS, e, 0.3, NOW) == (SONNET, True)
    got = rank([low, API], OPUS, NOW, policy="value", paces={}, econ=e)
    assert got[0].provider_id == "anthropic_api"
    assert "kept for claude-sonnet-4-6" in got[0].reason
    roomy = sub("github-copilot", "monthly", 50, 200 * H, 43200)
    assert rank([roomy, API], OPUS, NOW, policy="value", paces={}, econ=e)[0].provider_id == "github-copilot"
    cc = sub("claude_code", "burst", 70, 3 * H)
    assert rival("claude_code", cc.windows[0], SONNET, e, 0.3, NOW) == (OPUS, False)
    assert rank([cc, API], SONNET, NOW, policy="value", paces={}, econ=e)[0].provider_id == "claude_code"


def test_a_long_window_keeps_a_quarter_of_the_reserve_to_its_end() -> None:
    """Pace waives the reserve in a window's last quarter; value keeps 2.5 % on a monthly window (a turn whose
    cost is not learned yet must not meet the wall) but not on a 5 h one."""
    monthly = [sub("github-copilot", "monthly", 98.5, 24 * H, 43200), API]
    assert rank(monthly, SONNET, NOW, policy="pace")[0].provider_id == "github-copilot"
    assert rank(monthly, SONNET, NOW, policy="value", econ=econ())[0].provider_id == "anthropic_api"
    burst = [sub("claude_code", "burst", 98.5, 0.5 * H), API]
    assert rank(burst, SONNET, NOW, policy="value", econ=econ())[0].provider_id == "claude_code"


def test_the_cycle_average_sees_what_the_burst_rate_does_not() -> None:
    """60 % used 1 h into a 5 h window projects 300 % at the reset; too early in the cycle it is unknown."""
    w = sub("claude_code", "burst", 60, 4 * H).windows[0]
    assert cycle_projection(w, NOW) == pytest.approx(300.0)
    assert cycle_projection(sub("claude_code", "burst", 60, 4.9 * H).windows[0], NOW) is None


def test_no_move_back_onto_a_contested_window_close_to_full() -> None:
    """Sonnet sent to pay stays there while Claude Code (kept for Opus) ends its cycle within the margin of
    full at its pace; with room to spare it moves back."""
    qs = [sub("claude_code", "burst", 40, 3 * H), API]
    tight = {("claude_code", "burst"): Pace(5.0, None, 95.0, 5, 3600)}
    switch, why = should_switch("anthropic_api", qs, SONNET, NOW, policy="value", paces=tight, econ=econ())
    assert not switch and "less than the margin" in why
    roomy = {("claude_code", "burst"): Pace(5.0, None, 60.0, 5, 3600)}
    assert should_switch("anthropic_api", qs, SONNET, NOW, policy="value", paces=roomy, econ=econ())[0]


def test_prices_in_bhogad_toml() -> None:
    """`[prices]` is read as model substring → price; a bad value is a one-line error."""
    path = Path("bhogad.toml")
    got = parse_policy({"policy": "value", "prices": {"Opus": 5, "sonnet": 3.0}}, path)
    assert (got.policy, got.prices) == ("value", (("opus", 5.0), ("sonnet", 3.0)))
    with pytest.raises(ConfigError, match=r"prices\.opus must be a number"):
        parse_policy({"prices": {"opus": "cheap"}}, path)


def test_router_keeps_copilot_for_a_model_asked_about_that_has_no_other_route(tmp_path: Path) -> None:
    """A Router on "value" learns what a GPT turn costs Copilot, knows Gemini was asked for, and at 30 % left
    sends GPT to the OpenAI API while Gemini keeps Copilot; on "headroom" GPT takes Copilot."""
    from datetime import UTC, datetime

    from bhoga import Router
    from bhoga._model import Observation

    cp, gpt = "github-copilot", "gpt-5.4"
    for policy, want in (("value", "openai_api"), ("headroom", cp)):
        with Router(state_path=tmp_path / f"{policy}.json", eager=False, daemon=False, policy=policy) as router:
            now = datetime.now(UTC)
            reset = now + timedelta(days=5)

            def poll(pct: float, ago: float, now: datetime = now, reset: datetime = reset) -> None:
                at = now - timedelta(minutes=ago)
                router.observe(Observation(cp, at, (QuotaWindow("monthly", pct, reset, 43200, "*", at, "t"),)))
                router.flush()

            router.observe(Observation("openai_api", now, credential=True))
            poll(60, 20)
            for _ in range(10):
                router.record_turn(cp, gpt, 10, 10, {}, 200)
            router.flush()
            poll(70, 0, datetime.now(UTC))  # the next poll is read after those turns
            assert router.best_for(GEMINI) is not None
            rec = router.best_for(gpt)
            assert rec is not None and rec.provider_id == want, (policy, rec)
            if policy == "value":
                assert "kept for gemini-2.5-pro" in rec.reason


def _rival_by_scan(pid: str, window: QuotaWindow, model: str, econ: Economics, headroom: float) -> object:
    """`rival` as its docstring says it, one plain pass over the models in use, nothing remembered."""
    if price_of(model, econ) == math.inf:
        return None
    mine = density_of(pid, window, model, econ)
    best: tuple[float, str] | None = None
    for other in sorted(econ.models):
        if other == model or pid not in hierarchy(other) or not window.applies_to(other):
            continue
        if price_of(other, econ) == math.inf:
            if headroom < SOLE_KEEP:
                return other, True
            continue
        d = density_of(pid, window, other, econ)
        if d is not None and (best is None or d > best[0]):
            best = (d, other)
    if mine is None or best is None or mine >= 0.8 * best[0]:
        return None
    return best[1], headroom < SOLE_KEEP and mine <= 0.55 * best[0]


_NAMES = (OPUS, SONNET, GEMINI, "claude-haiku-4-5", "gpt-5.4", "claude-opus-4-1", "o3", "claude-sonnet-4")


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from(_NAMES), st.sampled_from((0.0, 0.33, 0.83, 1.0, 2.5, 3.3)), max_size=6),
    st.frozensets(st.sampled_from(_NAMES)),
    st.frozensets(st.sampled_from(("anthropic_api", "openai_api", "openrouter"))),
    st.sampled_from(("*", "opus", "sonnet")),
    st.lists(st.tuples(st.sampled_from(_NAMES), st.sampled_from((0.1, 0.34, 0.35, 0.9))), min_size=1, max_size=8),
)
def test_rival_remembered_answers_equal_a_plain_scan(
    costs: dict[str, float],
    models: frozenset[str],
    metered: frozenset[str],
    scope: str,
    asks: list[tuple[str, float]],
) -> None:
    """`rival`'s answers, worked out once per window and model and kept in `Economics.memo`, are those of one
    plain pass over the models in use, for any order of questions and any headroom."""
    window = QuotaWindow("monthly", 50.0, NOW + H, 43200, scope, NOW, "test")
    e = Economics({("github-copilot", window.key): costs}, PRICES, models, metered)
    for model, headroom in asks:
        want = _rival_by_scan("github-copilot", window, model, e, headroom)
        assert rival("github-copilot", window, model, e, headroom, NOW) == want, (model, headroom)


def test_router_economics_is_kept_until_the_state_or_a_rival_changes(tmp_path: Path) -> None:
    """The Router keeps one `Economics` while its state stays the same and a newly asked model has a metered
    route; a model with no metered route, or a state change, makes a new one. A new model's published cost
    (Sonnet on Copilot) counts from the next change, which re-ranks the models asked about."""
    from bhoga import Router

    with Router(state_path=tmp_path / "s.json", eager=False, daemon=False, policy="value") as router:
        router.set_quota("github-copilot", 60)
        router.set_quota("anthropic_api", 90)
        first = router.economics(OPUS)
        assert router.economics(SONNET) is first and SONNET not in first.models
        gemini = router.economics(GEMINI)
        assert gemini is not first and GEMINI in gemini.models
        router.set_quota("github-copilot", 50)
        changed = router.economics()
        assert changed is not gemini and {GEMINI, SONNET} <= changed.models
        assert changed.costs[("github-copilot", "monthly")][SONNET] == pytest.approx(1 / 3)


def test_value_answers_of_asked_models_follow_each_change(tmp_path: Path) -> None:
    """Under "value" the models asked before are ranked again by the change itself: the next `best_for` gives
    the new best at once, change after change."""
    from bhoga import Router

    with Router(state_path=tmp_path / "s.json", eager=False, daemon=False, policy="value") as router:
        router.set_quota("claude_code", 70)
        router.set_quota("anthropic_api", 90)
        for i in range(6):
            router.set_quota("claude_code", 95 if i % 2 else 5)
            rec = router.best_for(SONNET)
            assert rec is not None
            assert rec.provider_id == ("anthropic_api" if i % 2 == 0 else "claude_code"), (i, rec)


def test_the_clock_thread_ranks_asked_models_again_when_the_forecasts_expire(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under "value" a view is good for a minute of forecasts; at that deadline the clock thread empties the
    lookup and ranks the asked models again itself, so the next `best_for` is a lookup, not a ranking (with a
    week of history, a re-read of the history file) in the caller's thread."""
    import bhoga._router_local
    from bhoga import Router
    from tests.fixtures_daemon import wait_until

    monkeypatch.setattr(bhoga._router_local, "_PACE_TTL", timedelta(seconds=1))
    with Router(state_path=tmp_path / "s.json", eager=False, daemon=False, policy="value") as router:
        router.set_quota("claude_code", 70)
        router.set_quota("anthropic_api", 90)
        first = router.best_for(SONNET)
        epoch = router._fast_epoch
        assert first is not None and router._fast[SONNET] == first
        wait_until(lambda: router._fast_epoch > epoch and SONNET in router._fast, 10, "the clock thread's re-ranking")
        assert router._fast[SONNET] == first  # the same answer, ranked again without a call


def test_a_model_that_saves_a_third_as_much_pays_while_the_window_is_contested() -> None:
    """At today's list prices an Opus turn ($0.13) saves a sixth of what ten Sonnet turns ($0.08 each) save per
    premium request: early in Copilot's cycle, at a pace that uses it up, Opus pays and Copilot is kept for
    Sonnet; in the cycle's last quarter, or when its average leaves a quarter unused, Opus takes it (use it or
    lose it). At the Opus 4/4.1 price ($0.40, half as much) it takes it above 35 % left, as before."""
    today = Economics(econ().costs, (("opus", 0.1333), ("sonnet", 0.08)), frozenset((OPUS, SONNET)), econ().metered)
    day = 24 * H
    cases = (
        (sub("github-copilot", "monthly", 50, 20 * day, 43200), "anthropic_api"),  # 10 days in, 50 %: 150 % pace
        (sub("github-copilot", "monthly", 50, 5 * day, 43200), "github-copilot"),  # its last quarter
        (sub("github-copilot", "monthly", 10, 20 * day, 43200), "github-copilot"),  # on course for 30 %
    )
    for copilot, first in cases:
        got = rank([copilot, API], OPUS, NOW, policy="value", paces={}, econ=today)
        assert got[0].provider_id == first, copilot
    got = rank([cases[0][0], API], OPUS, NOW, policy="value", paces={}, econ=today)
    assert "kept for claude-sonnet-4-6" in got[0].reason
    assert rank([cases[0][0], API], OPUS, NOW, policy="value", paces={}, econ=econ())[0].provider_id == (
        "github-copilot"
    )
