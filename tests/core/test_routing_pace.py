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
    assert "runs out in 1h at this pace" in rank(qs, OPUS, NOW, policy="pace", paces=paces)[1].reason


def test_among_safe_windows_the_soonest_reset_wins() -> None:
    """Use it or lose it: of two windows not running out, the one resetting first is used first."""
    qs = [sub("claude_code", "weekly", 50, 96 * H, 10080), sub("github-copilot", "monthly", 58, 24 * H, 43200)]
    paces = {("claude_code", "weekly"): SAFE, ("github-copilot", "monthly"): SAFE}
    assert order(qs, paces) == ["github-copilot", "claude_code"]


def test_the_reserve_shrinks_in_quarters_of_the_time_left() -> None:
    """5 % left: above the reserve in the last quarter of a 5 h window (reserve 0), below it with 4.5 h left
    (7.5 %); headroom keeps the whole 10 % either way."""
    api_q = api("anthropic_api")
    for left, first in ((timedelta(minutes=30), "claude_code"), (4.5 * H, "anthropic_api")):
        qs = [sub("claude_code", "burst", 95, left), api_q]
        got = rank(qs, OPUS, NOW, policy="pace")
        assert got[0].provider_id == first, left
        assert rank(qs, OPUS, NOW, policy="headroom")[0].provider_id == "anthropic_api"
    got = rank([sub("claude_code", "burst", 93, 2 * H), api_q], OPUS, NOW, policy="pace")
    assert (got[0].provider_id, got[0].status) == ("claude_code", ProviderStatus.OK)


def test_no_move_onto_a_window_close_to_running_out() -> None:
    """Pace does not move the load onto a window that at its own pace ends within the margin of full."""
    qs = [sub("claude_code", "burst", 20, 3 * H), sub("github-copilot", "monthly", 60, 300 * H, 43200)]
    tight = Pace(5.0, None, 95.0, 5, 3600)
    switch, why = should_switch("github-copilot", qs, OPUS, NOW, policy="pace", paces={("claude_code", "burst"): tight})
    assert not switch, why
    switch, why = should_switch("github-copilot", qs, OPUS, NOW, policy="pace", paces={})
    assert switch, why


def test_pace_switches_away_from_a_window_running_out() -> None:
    """The anti-flap rule moves off a window forecast to run out when another of the same tier is not."""
    qs = [sub("claude_code", "burst", 20, 3 * H), sub("github-copilot", "monthly", 60, 300 * H, 43200)]
    paces = {("claude_code", "burst"): out_in(1), ("github-copilot", "monthly"): SAFE}
    switch, why = should_switch("claude_code", qs, OPUS, NOW, policy="pace", paces=paces)
    assert switch, why
    assert "runs out" in why
    switch, _ = should_switch("claude_code", qs, OPUS, NOW, policy="pace", paces={})
    assert not switch
