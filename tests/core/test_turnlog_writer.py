"""bhogad's turn log writer and heartbeat (bhoga._turnlog_writer, TurnLog.gaps): real files in a temporary
directory, a real Router that keeps the log; the clock is the only thing moved by hand."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bhoga import Router
from bhoga._turnlog import BEAT_SECONDS, GAP_SECONDS, LoggedTurn, TurnLog, TurnLogStore, turnlog_path
from bhoga._turnlog_writer import TurnLogWriter

OPUS = "claude-opus-4-6"


def test_the_writer_folds_a_second_of_one_model_into_one_line_and_logs_only_served_turns(tmp_path: Path) -> None:
    """`add_drained`: 2xx turns only (a 429 is not a request served), junk ignored; 500 turns of one second,
    provider and model are one line with n=500."""
    writer = TurnLogWriter(tmp_path / "t.jsonl")
    singles: list[tuple[object, ...]] = [
        ("claude_code", OPUS, 1, 2, None, 200, None),
        ("claude_code", OPUS, 1, 2, None, 429, None),
        ("nobody", OPUS, 0, 0, None, 200, None),
        ("claude_code", 7, 0, 0, None, 200, None),
        ("claude_code", "bad\nmodel", 0, 0, None, 200, None),
    ]
    writer.add_drained(singles, [("openai_api", "gpt-5.4", 200, 499), ("openai_api", "gpt-5.4", 429, 3)])
    assert writer.pending()
    writer.write()
    assert not writer.pending()
    got = writer.store.load()
    got_turns = sorted((t.pid, t.model, t.n) for t in got.turns)
    assert got_turns == [("claude_code", OPUS, 1), ("openai_api", "gpt-5.4", 499)]
    assert writer.store.path.read_text().count("\n") == 4  # the header, the first beat and two lines


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_an_idle_writer_beats_once_per_beat_period_and_no_more(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing to log, the first write is a beat (after the header), a write within `BEAT_SECONDS` writes
    nothing, and one after it writes the next beat; a turn written counts as a beat."""
    clock = [1_800_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    writer = TurnLogWriter(tmp_path / "t.jsonl")
    writer.write()
    assert _lines(writer.store.path) == [{"since": 1_800_000_000}, {"up": 1_800_000_000}]
    clock[0] += BEAT_SECONDS - 1
    writer.write()
    assert len(_lines(writer.store.path)) == 2
    clock[0] += 1
    writer.write()
    writer.add(clock[0] + 10, "claude_code", OPUS)
    clock[0] += 10
    writer.write()
    clock[0] += BEAT_SECONDS - 1
    writer.write()  # the turn 899 s ago was the last sign of life: no beat yet
    assert [next(iter(d)) for d in _lines(writer.store.path)] == ["since", "up", "up", "t"]
    writer.write(last=True)
    assert _lines(writer.store.path)[-1] == {"up": int(clock[0])}


def test_gaps_are_stretches_with_no_line_for_longer_than_the_gap_and_none_before_the_first_beat() -> None:
    """Beats every 15 min then silence for 2 h then a turn: one gap; silence after the last line up to `now` is a
    gap too; a log with no beat (written before heartbeats) has none, however sparse."""
    t0 = 1_800_000_000.0
    beats = (t0, t0 + 900, t0 + 1800, t0 + 1800 + 7200)
    log = TurnLog(t0, (LoggedTurn(t0 + 1900, "claude_code", OPUS),), 0, beats)
    assert log.gaps(t0 + 1800 + 7200 + 600) == ((t0 + 1900, t0 + 1800 + 7200),)
    assert log.gaps(t0 + 1800 + 7200 + GAP_SECONDS + 1) == (
        (t0 + 1900, t0 + 1800 + 7200),
        (t0 + 1800 + 7200, t0 + 1800 + 7200 + GAP_SECONDS + 1),
    )
    old = TurnLog(t0, (LoggedTurn(t0, "claude_code", OPUS), LoggedTurn(t0 + 86400, "claude_code", OPUS)))
    assert old.gaps(t0 + 2 * 86400) == ()


def test_beats_within_the_week_survive_a_compaction(tmp_path: Path) -> None:
    """A log compacted for its age keeps the beats within the week (so its gaps are still known); beats older
    than the week go with the turns."""
    path = tmp_path / "t.jsonl"
    now = time.time()
    store = TurnLogStore(path)
    store.append([LoggedTurn(now - 9 * 86400, "claude_code", OPUS)], since=now - 9 * 86400, beats=[now - 9 * 86400])
    store.append([LoggedTurn(now - 3600, "claude_code", OPUS)], beats=[now - 7200, now - 3600])  # compacts
    assert '"up"' in path.read_text() and str(int(now - 9 * 86400)) not in path.read_text()
    got = store.load(now)
    assert got.beats == (float(int(now - 7200)), float(int(now - 3600)))
    hour_ago, two_hours_ago = float(int(now - 3600)), float(int(now - 7200))
    assert got.gaps(now) == ((two_hours_ago, hour_ago), (hour_ago, now))


def test_a_router_keeping_the_log_dates_its_stop_with_a_last_beat(tmp_path: Path) -> None:
    """bhogad's kind of Router writes a beat when it closes, so a stop is dated to the second, not to the last
    beat up to 15 minutes before."""
    router = Router(state_path=tmp_path / "state.json", eager=False, daemon=False, log_turns=True)
    time.sleep(1.1)
    router.close()
    got = TurnLogStore(turnlog_path(tmp_path / "state.json")).load()
    assert got.turns == () and len(got.beats) >= 1 and got.beats[-1] >= time.time() - 5
    assert got.beats[-1] >= got.since + 1  # type: ignore[operator]
