"""Policy "pace": a window forecast to run out before its reset counts for less, one forecast to reset with
quota unused counts for more (its reserve is waived); without a forecast the reserve shrinks with time left."""

from __future__ import annotations

from datetime import timedelta

from bhoga._model import ProviderQuota, ProviderStatus, QuotaWindow
from bhoga._pace import Pace
from bhoga._routing import rank, should_switch
from tests.strategies import NOW

H = timedelta(hours=1)
OPUS = "claude-opus-4"


def sub(pid: str, name: str, used: float, resets: timedelta, window_min: int = 300) -> ProviderQuota:
    w = QuotaWindow(name, used, NOW + resets, window_min, "*", NOW, "test")
    return ProviderQuota(pid, windows=(w,), credential=True, verdict="verified")


def api(pid: str) -> ProviderQuota:
    return ProviderQuota(pid, credential=True)


def out_in(hours: float) -> Pace:
    return Pace(20.0, NOW + timedelta(hours=hours), 120.0, 5, 3600)


SAFE = Pace(5.0, None, 60.0, 5, 3600)


def order(qs: list[ProviderQuota], paces: dict[tuple[str, str], Pace], policy: str = "pace") -> list[str]:
    return [r.provider_id for r in rank(qs, OPUS, NOW, policy=policy, paces=paces)]


def test_running_out_before_reset_counts_for_less() -> None:
    """Claude Code forecast to run out in 1 h (reset in 3 h) ranks after Copilot, which is not."""
    qs = [sub("claude_code", "burst", 20, 3 * H), sub("github-copilot", "monthly", 60, 300 * H, 43200)]
    paces = {("claude_code", "burst"): out_in(1), ("github-copilot", "monthly"): SAFE}
    assert order(qs, paces) == ["github-copilot", "claude_code"]
    assert order(qs, paces, "headroom") == ["claude_code", "github-copilot"]
    assert "runs out in 1h 0m at this pace" in rank(qs, OPUS, NOW, policy="pace", paces=paces)[1].reason


def test_among_safe_windows_the_soonest_reset_wins() -> None:
    """Use it or lose it: of two windows not running out, the one resetting first is used first."""
    qs = [sub("claude_code", "weekly", 50, 96 * H, 10080), sub("github-copilot", "monthly", 58, 24 * H, 43200)]
    paces = {("claude_code", "weekly"): SAFE, ("github-copilot", "monthly"): SAFE}
    assert order(qs, paces) == ["github-copilot", "claude_code"]


def test_a_window_that_will_reset_unused_waives_its_reserve() -> None:
    """95 % used with a pace that will not finish it before the reset stays ahead of the metered API."""
    qs = [sub("claude_code", "burst", 95, 2 * H), api("anthropic_api")]
    assert order(qs, {("claude_code", "burst"): Pace(1.0, None, 97.0, 5, 3600)}) == ["claude_code", "anthropic_api"]
    assert order(qs, {("claude_code", "burst"): out_in(0.2)}) == ["anthropic_api", "claude_code"]
    assert order(qs, {}, "headroom") == ["anthropic_api", "claude_code"]


def test_without_a_forecast_the_reserve_shrinks_with_time_left() -> None:
    """5 % left 30 min before a 5 h window resets is above the pro-rated reserve (1 %); 3 h before it is not."""
    api_q = api("anthropic_api")
    soon = rank([sub("claude_code", "burst", 95, timedelta(minutes=30)), api_q], OPUS, NOW, policy="pace")
    assert (soon[0].provider_id, soon[0].status) == ("claude_code", ProviderStatus.OK)
    late = rank([sub("claude_code", "burst", 95, 3 * H), api_q], OPUS, NOW, policy="pace")
    assert late[0].provider_id == "anthropic_api"


def test_pace_switches_away_from_a_window_running_out() -> None:
    """The anti-flap rule moves off a window forecast to run out when another of the same tier is not."""
    qs = [sub("claude_code", "burst", 20, 3 * H), sub("github-copilot", "monthly", 60, 300 * H, 43200)]
    paces = {("claude_code", "burst"): out_in(1), ("github-copilot", "monthly"): SAFE}
    switch, why = should_switch("claude_code", qs, OPUS, NOW, policy="pace", paces=paces)
    assert switch, why
    assert "runs out" in why
    switch, _ = should_switch("claude_code", qs, OPUS, NOW, policy="pace", paces={})
    assert not switch
