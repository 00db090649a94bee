"""The Router: set_quota validation, the turn worker that nothing kills, caching, persistence, subscribers."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bhoga import ProviderStatus, QuotaWindow, Router
from bhoga._model import Observation


@pytest.fixture
def router(tmp_path: Path) -> Router:
    r = Router(state_path=tmp_path / "state.json", eager=False)
    yield r  # type: ignore[misc]
    r.close()


def unified(util5h: float) -> dict[str, str]:
    return {
        "anthropic-ratelimit-unified-5h-utilization": str(util5h),
        "anthropic-ratelimit-unified-5h-reset": str(int(time.time()) + 3600),
    }


def test_set_quota_rejects_unknown_provider_with_choices(router: Router) -> None:
    """An unknown provider id is a ValueError listing the valid ids."""
    with pytest.raises(ValueError, match="choose one of: claude_code, anthropic_api"):
        router.set_quota("claude", 50)


@pytest.mark.parametrize("bad", [-1, 100.5, float("nan"), float("inf"), True, "50", None])
def test_set_quota_rejects_bad_percentages(router: Router, bad: object) -> None:
    """Percentages outside 0-100, NaN, booleans and strings are ValueErrors that name the argument."""
    with pytest.raises(ValueError, match="pct_remaining"):
        router.set_quota("claude_code", bad)  # type: ignore[arg-type]
    if bad is not None:  # weekly_pct=None means "no weekly figure"
        with pytest.raises(ValueError, match="weekly_pct"):
            router.set_quota("claude_code", 50, weekly_pct=bad)  # type: ignore[arg-type]


def test_set_quota_on_api_is_a_budget(router: Router) -> None:
    """set_quota on a metered API makes it a candidate ranked by that budget (the original ignored it)."""
    router.set_quota("anthropic_api", 70)
    rec = router.best_for("claude-opus-4")
    assert rec is not None and (rec.provider_id, rec.quota_pct) == ("anthropic_api", 0.7)


def test_set_quota_weekly_binds(router: Router) -> None:
    """The weekly percentage is a second window and the tighter one binds."""
    router.set_quota("claude_code", 90, weekly_pct=30)
    rec = router.best_for("claude-opus-4")
    assert rec is not None and rec.quota_pct == 0.3 and rec.binding_window == "weekly"


def test_set_quota_per_model(router: Router) -> None:
    """A per-model set_quota binds that model only."""
    router.set_quota("claude_code", 80)
    router.set_quota("claude_code", 5, model="claude-opus-4")
    router.set_quota("anthropic_api", 50)
    assert router.best_for("claude-opus-4").provider_id == "anthropic_api"  # type: ignore[union-attr]
    assert router.best_for("claude-sonnet-4.6").provider_id == "claude_code"  # type: ignore[union-attr]
    assert {"claude_code:*", "claude_code:claude-opus-4", "anthropic_api:*"} == set(router.quotas())


def test_record_turn_header_updates_every_model(router: Router) -> None:
    """A unified header seen on a Sonnet turn updates the account's window for Opus too (under "headroom", whose
    reserve stays whole to the reset)."""
    router.policy = "headroom"
    router.record_turn("claude_code", "claude-sonnet-4.6", 10, 10, unified(0.95), 200)
    router.set_quota("anthropic_api", 60)
    router.flush()
    rec = router.best_for("claude-opus-4")
    assert rec is not None and rec.provider_id == "anthropic_api"
    assert rec.reason == "claude_code 5h window 5% < reserve 10% → anthropic_api"


def test_429_with_http_date_does_not_kill_the_worker(router: Router) -> None:
    """An HTTP-date retry-after (which killed the original's worker) throttles, and later turns still count."""
    router.record_turn("anthropic_api", "claude-opus-4", 1, 1, {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}, 429)
    router.flush()
    assert router.best_for("claude-opus-4").status is ProviderStatus.THROTTLED  # type: ignore[union-attr]
    router.record_turn("claude_code", "claude-opus-4", 1, 1, unified(0.2), 200)
    router.flush()
    assert router.best_for("claude-opus-4").provider_id == "claude_code"  # type: ignore[union-attr]


def test_garbage_turns_never_raise_or_stop_the_worker(router: Router, caplog: pytest.LogCaptureFixture) -> None:
    """Unhashable ids, odd headers and non-numeric statuses are logged and skipped; the worker keeps going."""

    class Exploding:
        def items(self) -> object:
            raise RuntimeError("boom")

    with caplog.at_level(logging.WARNING):
        router.record_turn(["not", "hashable"], "m", 0, 0, None, 200)  # type: ignore[arg-type]
        router.record_turn("nope", "m", "x", None, Exploding(), "teapot")  # type: ignore[arg-type]
        router.record_turn("claude_code", None, -1, 10**30, Exploding(), object())  # type: ignore[arg-type]
        router.record_turn("claude_code", "claude-opus-4", 1, 1, unified(0.3), 200)
        deadline = time.monotonic() + 10
        while router.best_for("claude-opus-4") is None and time.monotonic() < deadline:
            time.sleep(0.01)
    assert router.best_for("claude-opus-4").quota_pct == 0.7  # type: ignore[union-attr]
    assert any("unknown provider 'nope'" in r.getMessage() for r in caplog.records)


def test_full_queue_drops_oldest_and_counts(tmp_path: Path) -> None:
    """A full queue drops the oldest turn, counts the drop, and keeps the newest."""
    r = Router(state_path=tmp_path / "s.json", eager=False, max_queue=3)
    gate = threading.Lock()
    gate.acquire()
    r.subscribe(lambda: None)
    r._lock.acquire()  # hold the worker at its first merge so the queue fills behind it
    try:
        for i in range(10):
            r.record_turn("claude_code", "m", 0, 0, unified(i / 100), 200)
        assert r.dropped_turns >= 6
    finally:
        r._lock.release()
    r.close()
    newest = r.quotas()["claude_code:*"].window("burst")
    assert newest is not None and newest.pct_used == pytest.approx(9.0)


def python_calls(best: Callable[[str], object], model: str, n: int = 1000) -> set[str]:
    """The Python functions run by `n` calls of `best(model)` in this thread (a cached answer runs best_for only)."""
    names: set[str] = set()

    def profile(frame: object, event: str, arg: object) -> None:
        if event == "call":
            names.add(frame.f_code.co_name)  # type: ignore[attr-defined]

    sys.setprofile(profile)
    try:
        for _ in range(n):
            best(model)
    finally:
        sys.setprofile(None)
    return names


def answers_across(router: Router, model: str, moment: float) -> tuple[list[str], list[str]]:
    """best_for(model) in a tight loop from now until 0.3 s after `moment` (epoch seconds): the providers
    answered by the calls that ended before it, and by those that started after it."""
    before: list[str] = []
    after: list[str] = []
    deadline = time.monotonic() + 30
    while (t := time.time()) < moment + 0.3 and time.monotonic() < deadline:
        rec = router.best_for(model)
        pid = rec.provider_id if rec else "none"
        if t > moment:
            after.append(pid)
        elif time.time() < moment:
            before.append(pid)
    return before, after


def test_cached_best_follows_changes(router: Router) -> None:
    """best_for is cached, yet every quota change is visible on the next call."""
    router.set_quota("claude_code", 80)
    first = router.best_for("claude-opus-4")
    assert router.best_for("claude-opus-4") is first
    assert python_calls(router.best_for, "claude-opus-4") == {"best_for"}  # a lookup
    router.set_quota("claude_code", 40)
    assert router.best_for("claude-opus-4").quota_pct == 0.4  # type: ignore[union-attr]
    router.reserve = 0.5
    assert router.best_for("claude-opus-4").status is ProviderStatus.LOW  # type: ignore[union-attr]
    models = [f"claude-opus-{k}" for k in range(300)]  # more than are re-ranked ahead after a change
    assert {router.best_for(m).quota_pct for m in models} == {0.4}  # type: ignore[union-attr]
    router.set_quota("claude_code", 30)
    assert {router.best_for(m).quota_pct for m in models} == {0.3}  # type: ignore[union-attr]


def test_cached_best_expires_when_a_throttle_ends(router: Router) -> None:
    """A cached answer is recomputed once a throttle's end passes, with no new observation."""
    router.set_quota("claude_code", 80)
    router.record_turn("claude_code", "claude-opus-4", 0, 0, {"retry-after": "1"}, 429)
    router.flush()
    assert router.best_for("claude-opus-4").status is ProviderStatus.THROTTLED  # type: ignore[union-attr]
    time.sleep(1.2)
    assert router.best_for("claude-opus-4").status is ProviderStatus.OK  # type: ignore[union-attr]


def test_a_cached_answer_does_not_outlive_a_throttle_end(router: Router) -> None:
    """Calls made in a tight loop across a throttle's end: every call started after the end gets the provider
    back, none the answer cached while it was throttled."""
    router.set_quota("claude_code", 80)
    router.set_quota("anthropic_api", 50)
    router.record_turn("claude_code", "claude-opus-4", 0, 0, {"retry-after": "2"}, 429)
    router.flush()
    until = next(q.throttled_until for q in router.snapshot() if q.provider_id == "claude_code")
    assert until is not None
    assert router.best_for("claude-opus-4").provider_id == "anthropic_api"  # type: ignore[union-attr]
    assert python_calls(router.best_for, "claude-opus-4") == {"best_for"}  # cached: a lookup
    before, after = answers_across(router, "claude-opus-4", until.timestamp())
    assert set(before) == {"anthropic_api"} and after and set(after) == {"claude_code"}


def test_a_cached_answer_does_not_outlive_a_window_reset(router: Router) -> None:
    """An exhausted window counts as full again from its reset on: calls made in a tight loop across the reset
    get the provider back from the first one started after it."""
    now = datetime.now(UTC)
    reset = now + timedelta(seconds=1.5)
    window = QuotaWindow("burst", 100.0, reset, 300, "*", now, "header")
    router.observe(Observation("claude_code", now, (window,), credential=True, source="header"))
    router.set_quota("anthropic_api", 50)
    assert router.best_for("claude-opus-4").provider_id == "anthropic_api"  # type: ignore[union-attr]
    before, after = answers_across(router, "claude-opus-4", reset.timestamp())
    assert set(before) == {"anthropic_api"} and after and set(after) == {"claude_code"}
    assert router.best_for("claude-opus-4").quota_pct == 1.0  # type: ignore[union-attr]


def test_a_never_asked_model_gets_its_classmates_answer_under_its_own_name(router: Router) -> None:
    """A model never asked before is answered like another of its class, with its own id and Hermes name."""
    router.set_quota("claude_code", 5)
    router.set_quota("anthropic_api", 50)
    first = router.best_for("claude-sonnet-4.6")
    fresh = router.best_for("claude-sonnet-4.7")
    assert fresh == router.ranked("claude-sonnet-4.7")[0]
    assert (fresh.model_id, fresh.hermes_model) == ("claude-sonnet-4.7", "claude-sonnet-4-7")  # type: ignore[union-attr]
    assert (fresh.provider_id, fresh.reason) == (first.provider_id, first.reason)  # type: ignore[union-attr]
    router.set_quota("claude_code", 80)
    other = router.best_for("claude-sonnet-4.8")
    assert other is not None and other.provider_id == "claude_code" and other.quota_pct == 0.8
    router.set_quota("claude_code", 5, model="claude-sonnet-4.9")  # a per-model quota puts 4.9 in a class apart
    assert router.best_for("claude-sonnet-4.9") == router.ranked("claude-sonnet-4.9")[0]
    assert router.best_for("claude-sonnet-4.9").provider_id == "anthropic_api"  # type: ignore[union-attr]
    assert router.best_for("claude-sonnet-5.0").provider_id == "claude_code"  # type: ignore[union-attr]


def test_a_never_asked_model_is_ranked_anew_once_a_throttle_ends(router: Router) -> None:
    """The answers shared by a class of models expire when a throttle ends, like a model's own cached answer."""
    router.set_quota("claude_code", 80)
    router.set_quota("anthropic_api", 50)
    router.record_turn("claude_code", "claude-opus-4", 0, 0, {"retry-after": "1"}, 429)
    router.flush()
    until = time.time() + 1.0
    assert router.best_for("claude-opus-4").provider_id == "anthropic_api"  # type: ignore[union-attr]
    deadline = time.monotonic() + 30
    while time.time() <= until + 0.2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert router.best_for("claude-opus-5").provider_id == "claude_code"  # type: ignore[union-attr]


def test_state_survives_a_new_router(tmp_path: Path) -> None:
    """What one Router learned, the next one (another harness) starts with."""
    with Router(state_path=tmp_path / "s.json", eager=False) as r:
        r.set_quota("claude_code", 33)
        r.record_turn("openai_api", "gpt-5", 1, 1, {}, 200)
    with Router(state_path=tmp_path / "s.json", eager=False) as r2:
        assert r2.best_for("claude-opus-4").quota_pct == 0.33  # type: ignore[union-attr]
        assert r2.best_for("gpt-5").provider_id == "openai_api"  # type: ignore[union-attr]


def test_subscribers_hear_changes(router: Router) -> None:
    """A subscriber is called after turns and set_quota change the state."""
    calls: list[int] = []
    router.subscribe(lambda: calls.append(1))
    router.set_quota("claude_code", 50)
    router.record_turn("claude_code", "m", 0, 0, unified(0.1), 200)
    router.flush()
    assert len(calls) >= 2


def test_bad_constructor_arguments() -> None:
    """An unknown policy or a reserve outside 0-1 is a ValueError."""
    with pytest.raises(ValueError, match="drain-soonest"):
        Router(eager=False, policy="random")
    with pytest.raises(ValueError, match="reserve"):
        Router(eager=False, reserve=10)


def test_default_state_path_is_under_the_user_cache(home: Path) -> None:
    """With no BHOGA_STATE the state lives in the user cache directory."""
    with Router(eager=False) as r:
        r.set_quota("claude_code", 50)
    assert (home / ".cache" / "bhoga" / "state.json").is_file()


def test_close_is_idempotent(router: Router) -> None:
    """close() twice is harmless."""
    router.close()
    router.close()


def test_a_closed_router_still_sees_a_throttle_end(router: Router) -> None:
    """After close() (no clock thread any more) a cached answer still ends with the throttle."""
    router.set_quota("claude_code", 80)
    router.set_quota("anthropic_api", 50)
    router.record_turn("claude_code", "claude-opus-4", 0, 0, {"retry-after": "1"}, 429)
    router.flush()
    assert router.best_for("claude-opus-4").provider_id == "anthropic_api"  # type: ignore[union-attr]
    router.close()
    until = next(q.throttled_until for q in router.snapshot() if q.provider_id == "claude_code")
    assert until is not None
    before, after = answers_across(router, "claude-opus-4", until.timestamp())
    assert set(before) == {"anthropic_api"} and after and set(after) == {"claude_code"}


def test_routers_share_the_daemons_view(tmp_path: Path) -> None:
    """With bhogad running, a set_quota from one Router is what another Router's best_for sees; without it,
    each Router falls back to its own view."""
    from tests.fixtures_daemon import DaemonProc

    daemon = DaemonProc(tmp_path / "bhogad.log")
    try:
        daemon.wait_ready()
        with Router(state_path=tmp_path / "a.json", eager=False) as a:
            a.set_quota("claude_code", 42)
            assert a._daemon is not None and a._daemon.flush()
        with Router(state_path=tmp_path / "b.json", eager=False) as b:
            rec = b.best_for("claude-opus-4")
            assert rec is not None and (rec.provider_id, rec.quota_pct) == ("claude_code", 0.42)
        with Router(state_path=tmp_path / "c.json", eager=False, daemon=False) as c:
            assert c.best_for("claude-opus-4") is None
    finally:
        assert daemon.stop() == 0
    with Router(state_path=tmp_path / "d.json", eager=False) as d:
        assert d.best_for("claude-opus-4") is None  # the daemon is gone: its own (empty) view


def test_a_router_whose_daemon_went_away_answers_locally_and_finds_it_again(tmp_path: Path) -> None:
    """After bhogad stops, best_for answers from the Router's own view without a connect per call, and once
    bhogad is back the Router uses its answers again."""
    import sys

    from tests.fixtures_daemon import DaemonProc, wait_until

    connects: list[object] = []
    sys.addaudithook(lambda event, args: connects.append(args) if event == "socket.connect" and hook_on else None)
    hook_on = False
    daemon = DaemonProc(tmp_path / "bhogad.log")
    try:
        daemon.wait_ready()
        with Router(state_path=tmp_path / "other.json", eager=False) as other:
            other.set_quota("claude_code", 42)
            assert other._daemon is not None and other._daemon.flush()
        with Router(state_path=tmp_path / "mine.json", eager=False) as r:
            rec = r.best_for("claude-opus-4")
            assert rec is not None and rec.quota_pct == 0.42  # the daemon's view: this Router never saw it
            assert daemon.stop() == 0
            wait_until(lambda: r.best_for("claude-opus-4") is None, 15, "the local view to answer")
            assert python_calls(r.best_for, "claude-opus-4") == {"best_for"}  # the cached local path: a lookup
            hook_on = True
            for _ in range(1000):
                assert r.best_for("claude-opus-4") is None
            hook_on = False
            assert connects == []
            daemon = DaemonProc(tmp_path / "bhogad2.log")
            daemon.wait_ready()
            wait_until(lambda: (x := r.best_for("claude-opus-4")) is not None and x.quota_pct == 0.42, 20, "daemon")
    finally:
        hook_on = False
        daemon.kill()


def test_only_a_router_that_never_forwards_may_keep_the_turn_log(tmp_path: Path) -> None:
    """`log_turns=True` without `daemon=False` is a ValueError: a forwarding Router's turns are bhogad's to log."""
    with pytest.raises(ValueError, match="daemon=False"):
        Router(state_path=tmp_path / "state.json", eager=False, log_turns=True)


def test_a_router_keeping_the_turn_log_writes_served_turns_and_a_plain_one_writes_none(tmp_path: Path) -> None:
    """bhogad's kind of Router logs its 2xx turns at the next write (a 429 is not logged); a library Router with
    no daemon, told the same turns, writes no turn log at all."""
    from bhoga._turnlog import TurnLogStore, turnlog_path

    plain = Router(state_path=tmp_path / "plain.json", eager=False, daemon=False)
    logging_router = Router(state_path=tmp_path / "state.json", eager=False, daemon=False, log_turns=True)
    for r in (plain, logging_router):
        r.record_turn("claude_code", "claude-opus-4-6", 10, 10, None, 200)
        r.record_turn("anthropic_api", "claude-sonnet-4-6", 10, 10, None, 200)
        r.record_turn("anthropic_api", "claude-sonnet-4-6", 10, 10, None, 429)
        r.close()
    assert not turnlog_path(tmp_path / "plain.json").exists()
    got = TurnLogStore(turnlog_path(tmp_path / "state.json")).load()
    assert sorted((t.pid, t.model, t.n) for t in got.turns) == [
        ("anthropic_api", "claude-sonnet-4-6", 1),
        ("claude_code", "claude-opus-4-6", 1),
    ]
