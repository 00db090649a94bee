"""The routing simulator on tiny traces whose numbers can be checked by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bhoga._history import HistoryStore, Point, history_path
from bhoga._model import ProviderQuota, QuotaWindow
from bhoga._sim_history import trace_from_turns
from bhoga._sim_optimum import first_stretch, optimum
from bhoga._sim_trace import TraceError, load_trace, parse_trace
from bhoga._simulate import simulate, verdict
from bhoga._state import StateStore
from bhoga._turnlog import LoggedTurn, TurnLogStore, turnlog_path

SONNET = "claude-sonnet-4"


def tiny(requests: list[list[Any]], capacity: float = 10, **extra: Any) -> dict[str, Any]:
    """Claude Code with one 5 h window of `capacity` units resetting at 5 h, 10 h, ...; the API at $1 a request."""
    return {
        "name": "tiny",
        "start": "2026-11-23T00:00:00+00:00",
        "days": 1,
        "subscriptions": [
            {
                "pid": "claude_code",
                "windows": [{"name": "burst", "minutes": 300, "capacity": capacity, "first_reset_min": 300}],
            }
        ],
        "metered": [{"pid": "anthropic_api", "price": {"*": 1.0}}],
        "requests": requests,
        **extra,
    }


def copilot(capacity: float, first_reset_min: float = 43200, **extra: Any) -> dict[str, Any]:
    """Copilot's monthly allowance of `capacity` premium requests, seen only by 15-minute polls; `extra` adds to
    the subscription (`cost`) or, as `used`, to the window."""
    window = {"name": "monthly", "minutes": 43200, "capacity": capacity, "first_reset_min": first_reset_min}
    if "used" in extra:
        window["used"] = extra.pop("used")
    return {"pid": "github-copilot", "headers": False, "poll_minutes": 15, **extra, "windows": [window]}


FIFTEEN = tiny([[60 * i, SONNET] for i in range(15)])


def test_optimum_fills_the_subscription_then_pays() -> None:
    """15 requests, 10 units: the optimum pays for 5; of 4 resets × 10 units, 30 reset unused (75 %)."""
    r = optimum(parse_trace(FIFTEEN))
    assert (r.spend, r.unused_pct, r.unserved, r.requests) == (5.0, 75.0, 0, 15)


def test_a_policy_run_records_each_window_cycle_and_the_optimum_can_be_held_to_it() -> None:
    """headroom uses 9 of the first cycle's 10 units (reserve) and none of the other four; held to those 9, the
    optimum pays $6 like headroom; given 2.5 units it pays $12.5, in whole requests $13."""
    t = parse_trace(FIFTEEN)
    r = simulate(t, "headroom")
    assert r.cycle_use == {("claude_code", "burst"): [9.0, 0.0, 0.0, 0.0, 0.0]}
    uses = r.cycle_use[("claude_code", "burst")]
    held = optimum(t, caps=lambda pid, key, k, has: uses[k])
    assert held.spend == 6.0
    assert optimum(t, caps=lambda *_: 2.5).spend == 12.5
    assert optimum(t, caps=lambda *_: 2.5, integral=True).spend == 13.0


def test_the_first_stretch_plan_keeps_the_window_for_the_dearer_model_and_counts_weights() -> None:
    """8 Sonnet ($1) then 5 Opus ($5) requests before a 10-unit window's reset: the plan gives Opus 5 units and
    Sonnet 5, and pays for 3 Sonnet; each request counted as half, all 6.5 units fit and nothing is paid."""
    t = parse_trace(
        tiny(
            [[60 * i, SONNET] for i in range(8)] + [[3600 + 60 * i, "claude-opus-4"] for i in range(5)],
            metered=[{"pid": "anthropic_api", "price": {"opus": 5.0, "*": 1.0}}],
        )
    )
    whole = first_stretch(t, [1.0] * len(t.requests))
    assert whole == {
        SONNET: {"claude_code": pytest.approx(5.0), "anthropic_api": pytest.approx(3.0)},
        "claude-opus-4": {"claude_code": pytest.approx(5.0), "anthropic_api": pytest.approx(0.0)},
    }
    half = first_stretch(t, [0.5] * len(t.requests))
    assert half[SONNET]["claude_code"] == pytest.approx(4.0)
    assert half["claude-opus-4"]["claude_code"] == pytest.approx(2.5)
    assert half[SONNET]["anthropic_api"] == half["claude-opus-4"]["anthropic_api"] == pytest.approx(0.0)


def test_headroom_keeps_the_reserve_and_pays_for_it() -> None:
    """With a 10 % reserve headroom stops at 9 units: $6 and 31 of 40 units unused; without a reserve, $5."""
    r = simulate(parse_trace(FIFTEEN), "headroom")
    assert (r.spend, r.unused_pct, r.walls, r.flips) == (6.0, 77.5, 0, 1)
    assert simulate(parse_trace(FIFTEEN), "headroom", reserve=0.0).spend == 5.0


def test_failover_hits_the_wall_on_every_turn_after_the_cooldown() -> None:
    """Requests a minute apart each try the exhausted primary first (60 s cooldown): 5 avoidable walls."""
    r = simulate(parse_trace(FIFTEEN), "failover")
    assert (r.walls, r.avoidable_walls, r.spend) == (5, 5, 5.0)


def test_round_robin_and_original() -> None:
    """Round-robin alternates (14 flips, 7 paid); the original rule prefers the API's per-minute headroom."""
    rr = simulate(parse_trace(FIFTEEN), "round-robin")
    assert (rr.flips, rr.spend) == (14, 7.0)
    assert simulate(parse_trace(FIFTEEN), "original").spend == 14.0


def test_a_wall_with_no_other_route_is_not_avoidable() -> None:
    """Gemini only goes through Copilot: with 2 units, the third request meets a wall nobody could avoid."""
    doc = {
        "name": "gemini",
        "start": "2026-11-23T00:00:00+00:00",
        "days": 1,
        "subscriptions": [copilot(2)],
        "requests": [[0, "gemini-2.5-pro"], [60, "gemini-2.5-pro"], [120, "gemini-2.5-pro"]],
    }
    for policy in ("headroom", "drain-soonest", "pace", "value", "failover"):
        r = simulate(parse_trace(doc), policy, reserve=0.0)
        assert (r.walls, r.avoidable_walls, r.unserved) == (1, 0, 1), policy
    assert optimum(parse_trace(doc)).unserved == 1


def test_use_it_or_lose_it_across_a_reset() -> None:
    """8 requests before a reset and 8 after on a 10-unit window: nothing paid, 2 + 2 + 10 + 10 of 40 unused."""
    doc = tiny([[4 * 3600 + 60 * i, SONNET] for i in range(8)] + [[5 * 3600 + 60 * i, SONNET] for i in range(8)])
    for policy in ("headroom", "drain-soonest", "pace", "value"):
        r = simulate(parse_trace(doc), policy)
        assert (r.spend, r.unused_pct) == (0.0, 60.0), policy
    assert optimum(parse_trace(doc)).unused_pct == 60.0


def test_bad_traces_get_one_line(tmp_path: Path) -> None:
    """A trace that is not JSON, names an unknown provider or a negative capacity is refused in one line."""
    bad = tmp_path / "t.json"
    bad.write_text("{")
    with pytest.raises(TraceError, match="not JSON"):
        load_trace(bad)
    doc = tiny([])
    doc["subscriptions"][0]["pid"] = "nope"
    with pytest.raises(TraceError, match="known provider"):
        parse_trace(doc)
    doc = tiny([])
    doc["subscriptions"][0]["windows"][0]["capacity"] = -1
    with pytest.raises(TraceError, match="capacity") as e:
        parse_trace(doc)
    assert "\n" not in str(e.value)
    bad.write_text(json.dumps(tiny([[0, 5]])))
    with pytest.raises(TraceError, match=r"requests\[0\]"):
        load_trace(bad)


def test_committed_traces_load_and_every_policy_runs() -> None:
    """Every committed trace parses and replays under every policy with each request accounted for."""
    traces = sorted((Path(__file__).parents[2] / "benchmarks" / "data" / "traces").glob("*.json"))
    assert len(traces) >= 4
    t = load_trace(traces[0])
    for policy in ("headroom", "pace", "value", "failover", "round-robin", "original", "drain-soonest"):
        r = simulate(t, policy)
        assert sum(r.served_by.values()) + r.unserved == r.requests == len(t.requests)


def _bhoga(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    out = subprocess.run([sys.executable, "-m", "bhoga", *args], capture_output=True, text=True, env=env, timeout=120)
    assert "Traceback" not in out.stderr, out.stderr
    return out


def test_cli_simulates_a_trace_file(tmp_path: Path) -> None:
    """`bhoga simulate --trace FILE --policy P --json` gives the hand-checked numbers; a bad file is one line."""
    path = tmp_path / "t.json"
    path.write_text(json.dumps(FIFTEEN))
    out = _bhoga("simulate", "--trace", str(path), "--policy", "headroom", "--policy", "optimum", "--json")
    assert out.returncode == 0, out.stderr
    got = {r["policy"]: (r["spend"], r["unused_pct"]) for r in json.loads(out.stdout)["results"]}
    assert got == {"headroom": (6.0, 77.5), "optimum": (5.0, 75.0)}
    path.write_text("[]")
    out = _bhoga("simulate", "--trace", str(path))
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "not a JSON object" in out.stderr


def test_cli_simulates_the_recorded_history(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --trace, the window history becomes demand: 30 points gained on the 5 h window, 30 requests."""
    now = datetime.now(UTC)
    state = home / "state.json"
    monkeypatch.setenv("BHOGA_STATE", str(state))
    resets = now + timedelta(hours=2)
    w = QuotaWindow("burst", 40.0, resets, 300, "*", now, "oauth")
    StateStore(state).merge_and_save({"claude_code": ProviderQuota("claude_code", windows=(w,), credential=True)})
    HistoryStore(history_path(state)).append(
        ("claude_code", "burst", Point(now - timedelta(minutes=m), 40.0 - m / 2, resets)) for m in (60, 40, 20, 0)
    )
    out = _bhoga("simulate", "--days", "1", "--policy", "headroom", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["trace"] == "recorded history" and doc["demand"] == "estimate"
    assert doc["requests"] == 30
    assert _bhoga("simulate", "--days", "9").returncode == 2


def test_cli_simulate_uses_the_reserve_of_bhogad_toml(tmp_path: Path, home: Path) -> None:
    """With `reserve = 0` in bhogad.toml, headroom drains the window: $5 instead of $6."""
    from bhoga._paths import daemon_config_path

    cfg = daemon_config_path()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("reserve = 0\n")
    path = tmp_path / "t.json"
    path.write_text(json.dumps(FIFTEEN))
    out = _bhoga("simulate", "--trace", str(path), "--policy", "headroom", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["results"][0]["spend"] == 5.0


def test_value_sends_sonnet_to_copilot_and_keeps_claude_code_for_opus() -> None:
    """Claude Code (60 units a 5 h window) cannot serve 80 minutes of Opus (3 units) and Sonnet (1); Copilot (120
    premium requests: one a Sonnet turn, ten an Opus turn) can take Sonnet. "value" learns the costs and sends
    Sonnet to Copilot once Claude Code is forecast to run out: it pays less than "pace" and "headroom", no wall."""
    doc = tiny([[60 * i, "claude-opus-4-6" if i % 3 == 0 else SONNET] for i in range(80)], capacity=60, days=0.2)
    doc["subscriptions"][0]["cost"] = {"opus": 3}
    doc["subscriptions"].append(copilot(120, cost={"opus": 10}))
    doc["metered"] = [{"pid": "anthropic_api", "price": {"opus": 0.40, "sonnet": 0.08}}]
    trace = parse_trace(doc)
    value, pace, headroom = (simulate(trace, p) for p in ("value", "pace", "headroom"))
    assert value.avoidable_walls == 0
    assert value.spend < pace.spend < headroom.spend, (value, pace, headroom)


GEMINI_LATE = {
    "name": "gemini-late",
    "start": "2026-11-23T00:00:00+00:00",
    "days": 1,
    "subscriptions": [copilot(300, 20000, used=150)],
    "metered": [{"pid": "anthropic_api", "price": {"sonnet": 0.08}}],
    "requests": [[60 * i, "claude-sonnet-4-6"] for i in range(200)]
    + [[60 * (200 + i), "gemini-2.5-pro"] for i in range(40)],
}
"""Copilot with 150 premium requests left, asked for 200 Sonnet turns and then 40 Gemini turns (Copilot is
Gemini's only route)."""


def test_a_model_known_from_the_start_has_its_only_route_kept_before_its_first_request() -> None:
    """Unknown until asked, Gemini finds Copilot spent on Sonnet (33 of 40 unserved); known from the start
    (bhogad.toml `models`, or remembered), Copilot keeps its share for it and Sonnet pays instead."""
    trace = parse_trace(GEMINI_LATE)
    cold = simulate(trace, "value")
    known = simulate(trace, "value", models={"gemini-2.5-pro"})
    assert (cold.unserved, known.unserved) == (33, 0)
    assert cold.spend < known.spend  # Sonnet pays for what Gemini gets


def test_cli_simulate_knows_the_models_of_bhogad_toml(tmp_path: Path, home: Path) -> None:
    """`models = ["gemini-2.5-pro"]` in bhogad.toml: `bhoga simulate` keeps Copilot for Gemini, as bhogad would."""
    from bhoga._paths import daemon_config_path

    path = tmp_path / "t.json"
    path.write_text(json.dumps(GEMINI_LATE))
    args = ("simulate", "--trace", str(path), "--policy", "value", "--json")
    before = json.loads(_bhoga(*args).stdout)["results"][0]["unserved"]
    cfg = daemon_config_path()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('models = ["gemini-2.5-pro"]\n')
    after = json.loads(_bhoga(*args).stdout)["results"][0]["unserved"]
    assert (before, after) == (33, 0)


def test_the_verdict_names_a_better_policy_only_when_there_is_one() -> None:
    """On FIFTEEN headroom pays $6 where value and pace pay $5: a headroom user is pointed to value (the default
    wins a tie); a value user is told only what they got and what the optimum got."""
    trace = parse_trace(FIFTEEN)
    results = [*(simulate(trace, p) for p in ("headroom", "drain-soonest", "pace", "value")), optimum(trace)]
    told = verdict(results, "headroom")
    assert told[0] == "* your policy, headroom: $6.00 on metered APIs, no avoidable wall, every request served"
    assert told[1] == "  the optimum, knowing the whole trace ahead: $5.00"
    assert told[2].startswith("  value would have done better here ($5.00,") and 'policy = "value"' in told[2]
    assert len(verdict(results, "value")) == 2
    assert verdict(results, "failover") == []  # not run: nothing to say


def test_cli_simulate_marks_your_policy_and_says_what_would_have_done_better(tmp_path: Path, home: Path) -> None:
    """With `policy = "headroom"` in bhogad.toml the table marks headroom, the verdict names value, and the JSON
    carries the user's policy."""
    from bhoga._paths import daemon_config_path

    cfg = daemon_config_path()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('policy = "headroom"\n')
    path = tmp_path / "t.json"
    path.write_text(json.dumps(FIFTEEN))
    out = _bhoga("simulate", "--trace", str(path))
    assert out.returncode == 0, out.stderr
    assert any(line.startswith("headroom *") for line in out.stdout.splitlines())
    assert "* your policy, headroom: $6.00" in out.stdout and 'policy = "value" in bhogad.toml' in out.stdout
    doc = json.loads(_bhoga("simulate", "--trace", str(path), "--json").stdout)
    assert doc["policy"] == "headroom"


OPUS = "claude-opus-4-6"


def _claude_hour(now: datetime) -> tuple[list[ProviderQuota], dict[tuple[str, str], list[Point]]]:
    """Claude Code's 5 h window, 30 points gained over the last hour."""
    resets = now + timedelta(hours=2)
    w = QuotaWindow("burst", 40.0, resets, 300, "*", now, "oauth")
    pts = [Point(now - timedelta(minutes=m), 40.0 - m / 2, resets) for m in (60, 40, 20, 0)]
    return [ProviderQuota("claude_code", windows=(w,), credential=True)], {("claude_code", "burst"): pts}


def _mix(now: datetime) -> list[LoggedTurn]:
    """20 Opus and 10 Sonnet turns on Claude Code, 5 Sonnet turns paid on the Anthropic API, in the last hour."""
    t = now.timestamp()
    return [
        LoggedTurn(t - 3000, "claude_code", OPUS, 20),
        LoggedTurn(t - 2000, "claude_code", SONNET, 10),
        LoggedTurn(t - 1000, "anthropic_api", SONNET, 5),
    ]


def test_logged_turns_are_the_requests_with_the_real_mix_and_cost_what_the_window_gained() -> None:
    """35 requests (5 served by a metered API, which is offered though no credential is known now); an Opus turn
    costs three Sonnet turns (the learned costs' ratio) and together they cost the 30 points gained."""
    now = datetime.now(UTC)
    quotas, history = _claude_hour(now)
    learned = {("claude_code", "burst"): (now.timestamp(), {OPUS: 3.0, SONNET: 1.0})}
    t = trace_from_turns(quotas, history, _mix(now), now.timestamp() - 30 * 86400, now, 1, learned)
    assert t is not None and t.name == "recorded turns" and t.days == 1
    assert len(t.requests) == 35 and sum(1 for _, m in t.requests if m == OPUS) == 20
    assert [m.pid for m in t.metered] == ["anthropic_api"]
    cost = dict(t.subscriptions[0].cost)
    assert cost[OPUS] == pytest.approx(3 * cost[SONNET])
    assert 20 * cost[OPUS] + 10 * cost[SONNET] == pytest.approx(30.0)
    assert t.description == "demand: 35 logged turns, 5 of them served by metered APIs"


def test_a_turn_log_younger_than_the_period_replays_only_what_it_covers() -> None:
    """A log complete only from 2 hours ago: the trace starts there and says so; no turn in it gives None."""
    now = datetime.now(UTC)
    quotas, history = _claude_hour(now)
    t = trace_from_turns(quotas, history, _mix(now), now.timestamp() - 7200, now, 7)
    assert t is not None and t.days == pytest.approx(2 / 24)
    assert t.start == now - timedelta(hours=2) and "the turn log begins 2h ago" in t.description
    assert trace_from_turns(quotas, history, [], now.timestamp() - 7200, now, 7) is None


def _recorded(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    now = datetime.now(UTC)
    state = home / "state.json"
    monkeypatch.setenv("BHOGA_STATE", str(state))
    quotas, history = _claude_hour(now)
    StateStore(state).merge_and_save({q.provider_id: q for q in quotas})
    HistoryStore(history_path(state)).append((pid, key, p) for (pid, key), pts in history.items() for p in pts)
    return state


def test_cli_simulate_replays_the_turn_log_and_says_so(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With bhogad's turn log, `bhoga simulate` replays the 35 logged turns, not the 30 estimated ones, and its
    output names the demand it used; a damaged line costs one note and nothing else."""
    state = _recorded(home, monkeypatch)
    now = datetime.now(UTC)
    TurnLogStore(turnlog_path(state)).append(_mix(now), since=now.timestamp() - 30 * 86400)
    out = _bhoga("simulate", "--days", "1", "--policy", "headroom", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert (doc["trace"], doc["demand"], doc["requests"]) == ("recorded turns", "logged", 35)
    assert doc["unlogged_hours"] == 0  # a log from before heartbeats cannot tell: nothing is called missing
    text = _bhoga("simulate", "--days", "1", "--policy", "headroom")
    assert "demand: 35 logged turns, 5 of them served by metered APIs" in text.stdout
    with turnlog_path(state).open("a") as f:
        f.write("garbage\n")
    damaged = _bhoga("simulate", "--days", "1", "--policy", "headroom", "--json")
    assert damaged.returncode == 0 and json.loads(damaged.stdout)["requests"] == 35
    assert damaged.stderr.count("\n") == 1 and "1 damaged line(s) skipped" in damaged.stderr


def test_cli_simulate_with_an_unusable_turn_log_says_so_in_one_line_and_estimates(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FIFO where the turn log belongs: one note on stderr, the estimate from the history, exit 0."""
    state = _recorded(home, monkeypatch)
    os.mkfifo(turnlog_path(state))
    out = _bhoga("simulate", "--days", "1", "--policy", "headroom", "--json")
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("\n") == 1 and "FIFO" in out.stderr
    assert json.loads(out.stdout)["demand"] == "estimate"


def test_cli_simulate_says_how_long_bhogad_was_not_logging(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log whose beats stop 5 hours ago (bhogad stopped): the table's first line and `--json`'s
    `"unlogged_hours"` say those hours replay as idle, instead of passing them off as hours nobody worked."""
    state = _recorded(home, monkeypatch)
    now = datetime.now(UTC).timestamp()
    beats = [now - 6 * 3600 + i * 900 for i in range(5)]  # up from 6 h ago to 5 h ago, then nothing
    TurnLogStore(turnlog_path(state)).append(_mix(datetime.now(UTC)), since=now - 6 * 3600, beats=beats)
    doc = json.loads(_bhoga("simulate", "--days", "1", "--policy", "headroom", "--json").stdout)
    assert doc["demand"] == "logged" and doc["unlogged_hours"] == pytest.approx(5.0 - 3000 / 3600, abs=0.02)
    text = _bhoga("simulate", "--days", "1", "--policy", "headroom").stdout
    assert "bhogad was not running (or the machine slept) for 4h 10m of it" in text.splitlines()[0]
