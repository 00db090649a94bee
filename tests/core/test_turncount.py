"""Counting bhoga's own turns between two readings of a window (Copilot is read only every 15 minutes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bhoga import Router
from bhoga._history import HistoryStore, history_path
from bhoga._model import Observation, QuotaWindow
from bhoga._sim_trace import parse_trace
from bhoga._simulate import simulate
from bhoga._turncount import ESTIMATE, TurnCount

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
RESET = T0 + timedelta(days=10)
CP = "github-copilot"


def monthly(pct: float, at: datetime, resets: datetime = RESET) -> QuotaWindow:
    return QuotaWindow("monthly", pct, resets, 43200, "*", at, "copilot_api")


def test_cost_per_turn_is_learned_between_readings_and_added_to_the_next() -> None:
    """10 GPT turns between readings 50 % → 60 %: 1 % a turn, so 5 more turns estimate 65 %."""
    tc = TurnCount()
    tc.observed(CP, [monthly(50, T0)])
    assert tc.estimate(CP, T0) == ()
    for _ in range(10):
        tc.routed(CP, "gpt-5.4")
    tc.observed(CP, [monthly(60, T0 + timedelta(minutes=15))])
    assert tc.cost(CP, "monthly", "gpt-5.4") == 1.0
    for _ in range(5):
        tc.routed(CP, "gpt-5.4")
    (w,) = tc.estimate(CP, T0 + timedelta(minutes=20))
    assert (w.pct_used, w.source, w.resets_at) == (65.0, ESTIMATE, RESET)


def test_a_model_not_learned_counts_at_its_multiplier_and_mixes_split_the_rest() -> None:
    """Opus unknown on Copilot counts as ten learned Sonnet turns; a mixed interval gives it what Sonnet does not
    explain."""
    tc = TurnCount()
    tc.observed(CP, [monthly(0, T0)])
    for _ in range(10):
        tc.routed(CP, "claude-sonnet-4.6")
    tc.observed(CP, [monthly(5, T0 + timedelta(minutes=15))])
    assert tc.cost(CP, "monthly", "claude-opus-4.6") == 5.0  # Copilot's published 10x of a 1x Sonnet turn
    for _ in range(2):
        tc.routed(CP, "claude-sonnet-4.6")
    for _ in range(3):
        tc.routed(CP, "claude-opus-4.6")
    tc.observed(CP, [monthly(16, T0 + timedelta(minutes=30))])  # 11 points: 1 for Sonnet, 10 for 3 Opus turns
    assert abs((tc.cost(CP, "monthly", "claude-opus-4.6") or 0) - 10 / 3) < 1e-9
    assert tc.cost(CP, "monthly", "claude-sonnet-4.6") == 0.5


def test_a_prior_never_counts_an_unlearned_turn_below_the_dearest_learned() -> None:
    """Haiku (0.33x), an unlisted family and any model on a provider with no published multipliers count as the
    dearest learned turn; Opus counts at 10x the learned 1x turn, and nothing learned on a provider with no
    published allowance means nothing known."""
    tc = TurnCount()
    assert tc.cost("other", "monthly", "claude-opus-4.6") is None
    for pid in (CP, "other"):
        tc.observed(pid, [monthly(0, T0)])
        for _ in range(10):
            tc.routed(pid, "gpt-5.4")
        tc.observed(pid, [monthly(2, T0 + timedelta(minutes=15))])
    assert tc.cost(CP, "monthly", "gpt-5.4") == 0.2
    assert tc.cost(CP, "monthly", "claude-haiku-4.5") == 0.2
    assert tc.cost(CP, "monthly", "grok-code-fast-1") == 0.2
    assert tc.cost("other", "monthly", "claude-opus-4.6") == 0.2
    assert abs((tc.cost(CP, "monthly", "CLAUDE-OPUS-4.6") or 0) - 2.0) < 1e-9
    tc.routed(CP, "claude-opus-4.6")
    (w,) = tc.estimate(CP, T0 + timedelta(minutes=20))
    assert abs(w.pct_used - 4.0) < 1e-9  # one Opus turn: ten premium requests' worth


def test_before_anything_is_learned_copilot_turns_count_as_the_smallest_paid_plans_requests() -> None:
    """The week's first poll interval: nothing learned yet, yet three Opus turns on Copilot (70 % used) already
    count as 30 of Copilot Pro's 300 premium requests (80 %), so a 30 %-left window is not emptied unseen; the
    first learned interval then replaces the guess."""
    tc = TurnCount()
    tc.observed(CP, [monthly(70, T0)])
    for _ in range(3):
        tc.routed(CP, "claude-opus-4.6")
    (w,) = tc.estimate(CP, T0 + timedelta(minutes=5))
    assert abs(w.pct_used - 80.0) < 1e-9
    tc.observed(CP, [monthly(72, T0 + timedelta(minutes=15))])  # a Pro+ plan: 3 Opus turns were 2 points
    assert abs((tc.cost(CP, "monthly", "claude-opus-4.6") or 0) - 2 / 3) < 1e-9


def test_costs_for_value_add_published_multipliers_not_the_dearest_turn() -> None:
    """`costs(models)` lists what policy "value" compares: learned costs, and for an asked model not learned on a
    window with published multipliers its multiplier's cost (Opus 10x the learned Sonnet turn; Gemini and GPT 1x
    before anything is learned), never the dearest-turn guess `cost` uses; no guess where nothing is published."""
    tc = TurnCount()
    tc.observed(CP, [monthly(0, T0)])
    tc.observed("claude_code", [QuotaWindow("burst", 0, RESET, 300, "*", T0, "oauth")])
    cold = tc.costs(("gemini-2.5-pro", "claude-opus-4.6"))
    assert cold == {(CP, "monthly"): {"gemini-2.5-pro": pytest.approx(1 / 3), "claude-opus-4.6": pytest.approx(10 / 3)}}
    for _ in range(10):
        tc.routed(CP, "claude-opus-4.6")
    tc.observed(CP, [monthly(20, T0 + timedelta(minutes=15))])  # 2 points an Opus turn: 0.2 a 1x turn
    got = tc.costs(("claude-opus-4.6", "claude-sonnet-4.6", "mystery-model"))
    assert got == {(CP, "monthly"): {"claude-opus-4.6": 2.0, "claude-sonnet-4.6": pytest.approx(0.2)}}
    assert tc.cost(CP, "monthly", "mystery-model") == 2.0  # the estimate's cautious guess is not a density
    assert tc.costs() == {(CP, "monthly"): {"claude-opus-4.6": 2.0}}


def test_a_reset_or_an_older_reading_teaches_nothing() -> None:
    """Usage that fell (a reset) is not a cost; a reading older than the last one is ignored; a reset window is
    never estimated above its reading."""
    tc = TurnCount()
    tc.observed(CP, [monthly(90, T0, T0 + timedelta(minutes=10))])
    tc.routed(CP, "gpt-5.4")
    tc.observed(CP, [monthly(2, T0 + timedelta(minutes=15), RESET)])
    assert tc.costs() == {}  # nothing learned
    tc.routed(CP, "gpt-5.4")
    tc.observed(CP, [monthly(50, T0)])  # older than the reading counted from
    assert tc.pending(CP) and tc.costs() == {}
    tc.observed(CP, [monthly(3, T0 + timedelta(minutes=30))])
    tc.routed(CP, "gpt-5.4")
    assert tc.estimate(CP, RESET + timedelta(seconds=1)) == ()
    assert tc.estimate(CP, T0 + timedelta(minutes=31))[0].pct_used == 4.0


def test_router_estimates_copilot_between_polls_and_keeps_it_out_of_history(tmp_path: Path) -> None:
    """Turns recorded on Copilot raise its window by the learned cost until the next poll; history keeps polls."""
    state = tmp_path / "state.json"
    with Router(state_path=state, eager=False, daemon=False) as router:
        now = datetime.now(UTC)
        reset = now + timedelta(days=5)
        router.observe(Observation(CP, now - timedelta(minutes=20), (monthly(50, now - timedelta(minutes=20), reset),)))
        router.flush()
        for _ in range(10):
            router.record_turn(CP, "gpt-5.4", 10, 10, {}, 200)
        router.flush()  # as discovery does after a poll
        # The next poll is read after those turns (an earlier reading would be older than their estimate).
        polled = datetime.now(UTC)
        router.observe(Observation(CP, polled, (monthly(70, polled, reset),)))
        router.flush()
        for _ in range(10):
            router.record_turn(CP, "gpt-5.4", 10, 10, {}, 200)
        router.record_turn(CP, "gpt-5.4", 10, 10, {}, 429)  # refused: costs nothing
        router.flush()
        (q,) = [q for q in router.snapshot() if q.provider_id == CP]
        (w,) = q.windows
        assert (w.pct_used, w.source) == (90.0, ESTIMATE)
        rec = router.best_for("gpt-5.4")
        assert rec is not None and rec.quota_pct == 0.1
    points = HistoryStore(history_path(state)).load()[(CP, "monthly")]
    assert [p.pct_used for p in points] == [50.0, 70.0]


def _copilot_after_twenty_turns(tmp_path: Path, *, batched: bool) -> tuple[float, str]:
    """Copilot read at 50 % then 70 % with 10 turns between, then 10 more turns and a 429: its window and source,
    the turns recorded one by one or as bhogad's socket batches."""
    with Router(state_path=tmp_path / f"{batched}.json", eager=False, daemon=False) as router:
        now = datetime.now(UTC)
        reset = now + timedelta(days=5)
        router.observe(Observation(CP, now - timedelta(minutes=20), (monthly(50, now - timedelta(minutes=20), reset),)))
        router.flush()
        if batched:
            router.record_turns(10, [(CP, "gpt-5.4", 200, 10)], [(CP, "gpt-5.4", 10, 10, {}, 200, None)])
        else:
            for _ in range(10):
                router.record_turn(CP, "gpt-5.4", 10, 10, {}, 200)
        router.flush()
        router.observe(Observation(CP, now - timedelta(minutes=5), (monthly(70, now - timedelta(minutes=5), reset),)))
        router.flush()
        if batched:
            newest = [(CP, "gpt-5.4", 10, 10, {}, 200, None), (CP, "gpt-5.4", 10, 10, {}, 429, None)]
            router.record_turns(7, [(CP, "gpt-5.4", 200, 6), (CP, "gpt-5.4", 429, 1)], newest)
            router.record_turns(4, [(CP, "gpt-5.4", 200, 4)], newest[:1])
        else:
            for _ in range(10):
                router.record_turn(CP, "gpt-5.4", 10, 10, {}, 200)
            router.record_turn(CP, "gpt-5.4", 10, 10, {}, 429)
        router.flush()
        (q,) = [q for q in router.snapshot() if q.provider_id == CP]
        (w,) = q.windows
        assert router.processed_turns == 21 and router.dropped_turns == 0
        return w.pct_used, w.source


def test_turns_taken_in_batches_count_as_the_same_turns_one_by_one(tmp_path: Path) -> None:
    """bhogad's batches (counts plus the newest turn of each kind) learn and estimate exactly as single turns."""
    assert _copilot_after_twenty_turns(tmp_path, batched=True) == _copilot_after_twenty_turns(tmp_path, batched=False)
    assert _copilot_after_twenty_turns(tmp_path, batched=True) == (90.0, ESTIMATE)


def test_a_full_queue_counts_every_turn_of_a_dropped_batch(tmp_path: Path) -> None:
    """With the queue full, dropping a batch of 5 turns counts 5 dropped; nothing is processed twice or lost."""
    with Router(state_path=tmp_path / "s.json", eager=False, daemon=False, max_queue=2) as router:
        with router._drain_lock:  # the worker waits: the queue fills as under a flood
            router.record_turns(5, [(CP, "gpt-5.4", 200, 5)], [(CP, "gpt-5.4", 1, 1, {}, 200, None)])
            router.record_turn(CP, "gpt-5.4", 1, 1, {}, 200)
            router.record_turns(7, [(CP, "gpt-5.4", 200, 7)], [(CP, "gpt-5.4", 1, 1, {}, 200, None)])
            router.record_turn(CP, "gpt-5.4", 1, 1, {}, 200)
        router.sync()
        assert (router.dropped_turns, router.processed_turns) == (6, 8)


def test_simulated_copilot_is_not_emptied_between_polls() -> None:
    """300 premium requests, Opus at 10 a turn every 50 s: 60 % gone at the first poll, the rest before the
    second; counted turns keep every policy of bhoga off the wall once the first poll interval taught the cost."""
    doc = {
        "name": "copilot-burst",
        "start": "2026-11-23T00:00:00+00:00",
        "days": 1,
        "subscriptions": [
            {
                "pid": CP,
                "headers": False,
                "poll_minutes": 15,
                "cost": {"opus": 10},
                "windows": [{"name": "monthly", "minutes": 43200, "capacity": 300, "first_reset_min": 43200}],
            }
        ],
        "metered": [{"pid": "anthropic_api", "price": {"*": 0.4}}],
        # An Opus request every 50 s (18 a poll): Copilot first (a subscription), the API once it runs low.
        "requests": [[50.0 * i, "claude-opus-4-6"] for i in range(200)],
    }
    trace = parse_trace(doc)
    for policy in ("headroom", "drain-soonest", "pace", "value"):
        r = simulate(trace, policy)
        assert r.avoidable_walls == 0, (policy, r)
        assert r.spend > 0  # the subscription did run out: the API took the rest
