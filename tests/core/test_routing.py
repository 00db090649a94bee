"""The pure routing core: tiers, reserve, throttles, resets, reasons, drain-soonest and anti-flap (DESIGN §3)."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from bhoga._merge import credential_state
from bhoga._model import ProviderQuota, ProviderStatus, QuotaWindow
from bhoga._provider_entry import Kind
from bhoga._providers import PROVIDERS
from bhoga._routing import next_change, rank, should_switch
from tests.strategies import NOW, quotas

H = timedelta(hours=1)
OPUS = "claude-opus-4"


def sub(
    pid: str,
    *used: tuple[str, float],
    scope: str = "*",
    resets: timedelta | None = None,
    throttled: timedelta | None = None,
    credential: bool = True,
) -> ProviderQuota:
    """A provider record with windows given as (name, pct_used)."""
    return ProviderQuota(
        provider_id=pid,
        windows=tuple(QuotaWindow(n, u, NOW + resets if resets else None, 0, scope, NOW) for n, u in used),
        throttled_until=NOW + throttled if throttled else None,
        credential=credential,
        # A Copilot window comes from copilot_internal/user, which accepted the token.
        verdict="verified" if credential else "",
    )


def api(pid: str, budget_used: float | None = None, throttled: timedelta | None = None) -> ProviderQuota:
    used = (("budget", budget_used),) if budget_used is not None else ()
    return sub(pid, *used, throttled=throttled)


def best(qs: list[ProviderQuota], model: str = OPUS, **kw: object) -> str | None:
    r = rank(qs, model, NOW, **kw)  # type: ignore[arg-type]
    return r[0].provider_id if r else None


# -- table tests -----------------------------------------------------------------------------------------


def test_subscription_above_reserve_beats_metered_api() -> None:
    """80 % used on the 5 h window still leaves 20 % > reserve, so the subscription wins (the original's bug)."""
    assert best([sub("claude_code", ("burst", 80.0)), api("anthropic_api")]) == "claude_code"


def test_subscription_below_reserve_falls_to_api_with_reason() -> None:
    """Below the reserve the metered API wins and the reason says why, in one line."""
    r = rank([sub("claude_code", ("burst", 96.0)), api("anthropic_api")], OPUS, NOW)
    assert r[0].provider_id == "anthropic_api"
    assert r[0].reason == "claude_code 5h window 4% < reserve 10% → anthropic_api"
    assert "\n" not in r[0].reason


def test_tightest_window_binds() -> None:
    """Headroom is the tightest applicable window: 5 h at 10 % used but 7 d at 70 % gives 30 %."""
    r = rank([sub("claude_code", ("burst", 10.0), ("weekly", 70.0))], OPUS, NOW)
    assert r[0].quota_pct == 0.3 and r[0].binding_window == "weekly"


def test_per_model_weekly_window_binds_only_its_model() -> None:
    """An exhausted Opus weekly window sends Opus elsewhere but leaves Sonnet on the subscription."""
    q = sub("claude_code", ("burst", 10.0))
    q = ProviderQuota(
        "claude_code", windows=(*q.windows, QuotaWindow("weekly", 100.0, NOW + H, 10080, "opus", NOW)), credential=True
    )
    qs = [q, api("anthropic_api")]
    assert best(qs, OPUS) == "anthropic_api"
    assert best(qs, "claude-sonnet-4.6") == "claude_code"


def test_passed_reset_counts_as_full() -> None:
    """A window whose reset time has passed is full again until fresh data arrives."""
    qs = [sub("claude_code", ("burst", 100.0), resets=-H), api("anthropic_api")]
    r = rank(qs, OPUS, NOW)
    assert r[0].provider_id == "claude_code" and r[0].quota_pct == 1.0


def test_throttled_never_chosen_while_another_is_usable() -> None:
    """A throttled subscription loses even to a subscription below the reserve."""
    qs = [sub("claude_code", ("burst", 0.0), throttled=H), sub("github-copilot", ("monthly", 95.0))]
    assert best(qs) == "github-copilot"


def test_all_throttled_still_answers_with_soonest_end() -> None:
    """When nothing is usable the provider that is free again soonest is returned, marked throttled."""
    qs = [sub("claude_code", ("burst", 0.0), throttled=2 * H), api("anthropic_api", throttled=H)]
    r = rank(qs, OPUS, NOW)
    assert r[0].provider_id == "anthropic_api" and r[0].status is ProviderStatus.THROTTLED


def test_exhausted_is_skipped() -> None:
    """A window at 100 % that has not reset makes the provider exhausted and last."""
    qs = [sub("claude_code", ("burst", 100.0), resets=H), api("anthropic_api")]
    r = rank(qs, OPUS, NOW)
    assert [x.provider_id for x in r] == ["anthropic_api", "claude_code"]
    assert r[1].status is ProviderStatus.EXHAUSTED


def test_never_seen_provider_is_not_a_candidate() -> None:
    """No credential and no data: not a candidate; nothing at all gives None."""
    assert rank([sub("claude_code", credential=False)], OPUS, NOW) == ()
    assert best([sub("anthropic_api", credential=False)]) is None
    assert best([]) is None


def test_metered_api_without_credential_is_not_a_candidate() -> None:
    """A metered API is usable only with a credential, even when a budget figure exists."""
    q = sub("anthropic_api", ("budget", 10.0), credential=False)
    assert best([q]) is None


def test_unknown_quota_ranks_after_known_headroom_above_reserve() -> None:
    """A logged-in subscription whose quota is unknown ranks after an API budget known to be above reserve."""
    qs = [sub("claude_code"), api("anthropic_api", budget_used=50.0)]
    assert [r.provider_id for r in rank(qs, OPUS, NOW)] == ["anthropic_api", "claude_code"]


def test_unknown_subscription_ranks_before_unknown_api() -> None:
    """With nothing known, the subscription is tried before paying per token."""
    assert best([api("anthropic_api"), sub("claude_code")]) == "claude_code"


def test_headroom_then_priority() -> None:
    """Among subscriptions above the reserve the larger headroom wins; a tie goes to the better priority."""
    assert best([sub("claude_code", ("burst", 50.0)), sub("github-copilot", ("monthly", 10.0))]) == "github-copilot"
    assert best([sub("claude_code", ("burst", 50.0)), sub("github-copilot", ("monthly", 50.0))]) == "claude_code"


def test_drain_soonest_prefers_the_window_that_resets_first() -> None:
    """drain-soonest picks the subscription whose binding window resets first, even with less headroom."""
    qs = [sub("claude_code", ("burst", 60.0), resets=H), sub("github-copilot", ("monthly", 10.0), resets=400 * H)]
    assert best(qs, policy="headroom") == "github-copilot"
    assert best(qs, policy="drain-soonest") == "claude_code"


def test_drain_soonest_respects_the_reserve() -> None:
    """drain-soonest never drains a subscription below the reserve."""
    qs = [sub("claude_code", ("burst", 95.0), resets=H), sub("github-copilot", ("monthly", 10.0), resets=400 * H)]
    assert best(qs, policy="drain-soonest") == "github-copilot"


def test_exclude_leaves_providers_out() -> None:
    """Excluded providers (e.g. one Hermes has no login for) are not ranked."""
    qs = [sub("openai-codex", ("burst", 0.0)), api("openai_api")]
    assert best(qs, "gpt-5") == "openai-codex"
    assert best(qs, "gpt-5", exclude={"openai-codex"}) == "openai_api"


def test_other_family_only_uses_copilot() -> None:
    """Gemini and unknown models can only go to Copilot."""
    qs = [sub("claude_code", ("burst", 0.0)), sub("github-copilot", ("monthly", 20.0))]
    assert best(qs, "gemini-2.5-pro") == "github-copilot"
    assert rank(qs, "gemini-2.5-pro", NOW)[0].hermes_model == "gemini-2.5-pro"


def test_recommendation_fields() -> None:
    """A recommendation carries the Hermes model name, priority and the reset of its binding window."""
    r = rank([sub("claude_code", ("burst", 25.0), resets=2 * H + timedelta(minutes=13))], "claude-sonnet-4.6", NOW)[0]
    assert (r.hermes_model, r.priority, r.quota_pct, r.status) == ("claude-sonnet-4-6", 1, 0.75, ProviderStatus.OK)
    assert r.resets_at == NOW + 2 * H + timedelta(minutes=13)
    assert "resets in 2h 13m" in r.reason


# -- anti-flap -------------------------------------------------------------------------------------------


def test_anti_flap_keeps_current_within_margin() -> None:
    """A better provider by less than the margin does not cause a switch."""
    qs = [sub("claude_code", ("burst", 50.0)), sub("github-copilot", ("monthly", 45.0))]
    switch, why = should_switch("claude_code", qs, OPUS, NOW)
    assert not switch and "within 10%" in why


def test_anti_flap_switches_beyond_margin() -> None:
    """A better provider by at least the margin causes a switch."""
    qs = [sub("claude_code", ("burst", 50.0)), sub("github-copilot", ("monthly", 30.0))]
    assert should_switch("claude_code", qs, OPUS, NOW)[0]


def test_anti_flap_leaves_a_throttled_or_low_current() -> None:
    """Throttled or below-reserve current providers are left at once, whatever the margin."""
    assert should_switch("claude_code", [sub("claude_code", ("burst", 95.0)), api("anthropic_api")], OPUS, NOW)[0]
    qs = [sub("claude_code", ("burst", 0.0)), api("anthropic_api", throttled=H)]
    assert should_switch("anthropic_api", qs, OPUS, NOW)[0]


def test_anti_flap_returns_to_subscription_after_reset() -> None:
    """On the API because the plan was low, a plan back above the reserve wins regardless of margin."""
    qs = [sub("claude_code", ("burst", 85.0)), api("anthropic_api")]
    switch, why = should_switch("anthropic_api", qs, OPUS, NOW)
    assert switch and why.endswith("→ claude_code")


def test_anti_flap_from_nothing_or_a_foreign_provider() -> None:
    """No current provider, or one that is not a candidate, always switches; no candidate never does."""
    qs = [sub("claude_code", ("burst", 10.0))]
    assert should_switch(None, qs, OPUS, NOW)[0]
    assert should_switch("openai-codex", qs, OPUS, NOW)[0]
    assert should_switch(None, [], OPUS, NOW) == (False, f"no candidate for {OPUS}")


def test_next_change_is_the_earliest_future_reset_or_throttle_end() -> None:
    """Cached rankings expire at the first reset or throttle end still ahead."""
    qs = [
        sub("claude_code", ("burst", 10.0), resets=3 * H),
        api("anthropic_api", throttled=H),
        sub("github-copilot", ("monthly", 1.0), resets=-H),
    ]
    assert next_change(qs, NOW) == NOW + H


# -- properties ------------------------------------------------------------------------------------------

models = st.sampled_from([OPUS, "claude-sonnet-4.6", "gpt-5.4", "gemini-2.5-pro"])


@given(quotas(), models)
def test_never_throttled_while_usable_exists(qs: list[ProviderQuota], model: str) -> None:
    """If any candidate is neither throttled nor exhausted, the best one is not either."""
    r = rank(qs, model, NOW)
    bad = (ProviderStatus.THROTTLED, ProviderStatus.EXHAUSTED)
    if any(x.status not in bad for x in r):
        assert r[0].status not in bad


@given(quotas(), models)
def test_subscription_above_reserve_always_beats_metered(qs: list[ProviderQuota], model: str) -> None:
    """When some subscription with a verified credential is OK (above the reserve), the winner is a subscription."""
    r = rank(qs, model, NOW)
    state = {q.provider_id: credential_state(q) for q in qs}
    if any(
        x.status is ProviderStatus.OK
        and PROVIDERS[x.provider_id].kind is Kind.SUBSCRIPTION
        and state[x.provider_id] != "unverified"
        for x in r
    ):
        assert PROVIDERS[r[0].provider_id].kind is Kind.SUBSCRIPTION


@given(quotas(), models)
def test_unverified_never_wins_over_a_usable_verified(qs: list[ProviderQuota], model: str) -> None:
    """An unverified credential (a GitHub token Copilot never accepted) is never chosen while a verified
    candidate is usable (DESIGN §8.1)."""
    r = rank(qs, model, NOW)
    state = {q.provider_id: credential_state(q) for q in qs}
    bad = (ProviderStatus.THROTTLED, ProviderStatus.EXHAUSTED)
    if any(x.status not in bad and state[x.provider_id] != "unverified" for x in r):
        assert state[r[0].provider_id] != "unverified"


@given(quotas(), models, st.randoms(use_true_random=False))
def test_result_does_not_depend_on_input_order(qs: list[ProviderQuota], model: str, rnd: random.Random) -> None:
    """Shuffling the input never changes the ranking."""
    shuffled = qs[:]
    rnd.shuffle(shuffled)
    assert rank(qs, model, NOW) == rank(shuffled, model, NOW)


@given(quotas(), models)
def test_passed_reset_restores_headroom(qs: list[ProviderQuota], model: str) -> None:
    """Moving `now` past every reset and throttle leaves no exhausted/throttled provider and full headroom."""
    later = NOW + timedelta(days=8)
    for x in rank(qs, model, later):
        assert x.status not in (ProviderStatus.THROTTLED, ProviderStatus.EXHAUSTED) or not x.resets_at
        if x.binding_window and x.resets_at is None:
            continue
        if x.quota_pct >= 0 and all(
            w.resets_at for q in qs if q.provider_id == x.provider_id for w in q.windows if w.applies_to(model)
        ):
            assert x.quota_pct == 1.0


@given(quotas(), models)
def test_every_recommendation_has_a_one_line_reason(qs: list[ProviderQuota], model: str) -> None:
    """Reasons are never empty and never span lines."""
    for x in rank(qs, model, NOW):
        assert x.reason and "\n" not in x.reason
