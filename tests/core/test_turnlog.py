"""The turn log (bhoga._turnlog): real files in a temporary HOME, real processes appending at once."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bhoga._turnlog import (
    KEEP_SECONDS,
    MAX_BYTES,
    MAX_ENTRIES,
    LoggedTurn,
    TurnLogStore,
    turnlog_path,
)
from bhoga.errors import StateError

OPUS, SONNET = "claude-opus-4-6", "claude-sonnet-4-6"


def test_turnlog_path_is_beside_the_state_file(tmp_path: Path) -> None:
    """`state.json` → `state-turns.jsonl` in the same directory (it follows BHOGA_STATE)."""
    assert turnlog_path(tmp_path / "state.json") == tmp_path / "state-turns.jsonl"


def test_appended_turns_read_back_oldest_first_complete_from_when_the_writer_began(tmp_path: Path) -> None:
    """Two appends come back in time order with their counts; the log is complete from the `since` it began,
    rounded down as turn times are (a turn in the writer's first second is never before it)."""
    store = TurnLogStore(tmp_path / "state-turns.jsonl")
    now = time.time()
    store.append([LoggedTurn(now - 50, "claude_code", OPUS, 3)], since=now - 100)
    store.append([LoggedTurn(now - 90, "anthropic_api", SONNET), LoggedTurn(now - 10, "claude_code", SONNET)])
    got = store.load(now)
    assert [(t.pid, t.model, t.n) for t in got.turns] == [
        ("anthropic_api", SONNET, 1),
        ("claude_code", OPUS, 3),
        ("claude_code", SONNET, 1),
    ]
    assert got.since == math.floor(now - 100) and got.damaged == 0
    assert os.stat(store.path).st_mode & 0o777 == 0o600


def test_a_turn_in_the_writers_first_second_is_not_before_the_log_began(tmp_path: Path) -> None:
    """The writer began at x.6 and a turn came at x.2 of the same second: both are stored as x, so the turn is
    inside the part the log is complete for (a replay starting at `since` keeps it)."""
    store = TurnLogStore(tmp_path / "t.jsonl")
    x = math.floor(time.time()) - 10
    store.append([LoggedTurn(x + 0.2, "claude_code", OPUS)], since=x + 0.6)
    got = store.load()
    assert got.since == got.turns[0].at == x


def test_turns_older_than_a_week_are_not_read_and_the_log_is_complete_only_from_then(tmp_path: Path) -> None:
    """A turn 8 days old is dropped; `since` moves up to 7 days ago."""
    store = TurnLogStore(tmp_path / "t.jsonl")
    now = time.time()
    store.append([LoggedTurn(now - 8 * 86400, "claude_code", OPUS), LoggedTurn(now - 60, "claude_code", OPUS)])
    got = store.load(now)
    assert [t.at for t in got.turns] == [float(math.floor(now - 60))]
    assert got.since == pytest.approx(now - KEEP_SECONDS)


def test_a_log_whose_start_is_past_a_week_and_a_day_is_compacted_by_the_next_append(tmp_path: Path) -> None:
    """The next writer rewrites it: the 9-day-old line is gone from the file, the fresh ones stay."""
    store = TurnLogStore(tmp_path / "t.jsonl")
    now = time.time()
    store.append([LoggedTurn(now - 9 * 86400, "claude_code", OPUS), LoggedTurn(now - 60, "openai_api", "gpt-5.4")])
    store.append([LoggedTurn(now, "claude_code", SONNET)])
    text = store.path.read_text()
    assert text.count("\n") == 3 and text.startswith('{"since"') and OPUS not in text


def test_a_flood_cannot_grow_the_file_past_its_bounds(tmp_path: Path) -> None:
    """Appends past MAX_BYTES are compacted: the file stays under the limit and a read keeps at most
    MAX_ENTRIES lines, the newest, complete only from the first one kept."""
    store = TurnLogStore(tmp_path / "t.jsonl")
    now = time.time()
    total = 0
    for chunk in range(4):
        batch = [LoggedTurn(now - 200_000 + chunk * 50_000 + i, "claude_code", "m" * 100) for i in range(50_000)]
        store.append(batch)
        total += len(batch)
        assert store.path.stat().st_size <= MAX_BYTES
    got = store.load(now)
    assert 0 < len(got.turns) <= MAX_ENTRIES < total
    assert got.turns[-1].at == float(math.floor(now - 200_000 + 3 * 50_000 + 49_999))
    assert got.since == got.turns[0].at


def test_damaged_lines_are_skipped_then_moved_aside_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage between good lines is counted and skipped; the compaction keeps every good line and moves the
    damaged file aside (`.corrupt-<pid>`) with one warning line."""
    path = tmp_path / "t.jsonl"
    now = time.time()
    old = round(now - 9 * 86400)
    path.write_text(
        f'{{"t":{old},"p":"claude_code","m":"x"}}\n'
        f'{{"t":{round(now - 30)},"p":"claude_code","m":"{OPUS}"}}\n'
        'not json\n{"t":1,"p":"nobody","m":"x"}\n\x00\x01\n'
        f'{{"t":{round(now - 20)},"p":"openai_api","m":"gpt-5.4","n":2}}\n'
    )
    store = TurnLogStore(path)
    got = store.load(now)
    assert got.damaged == 3 and [t.model for t in got.turns] == [OPUS, "gpt-5.4"]
    with caplog.at_level(logging.WARNING, logger="bhoga._turnlog"):
        store.append([LoggedTurn(now, "claude_code", SONNET)])
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "3 damaged line(s)" in warnings[0] and "\n" not in warnings[0]
    assert (tmp_path / f"t.jsonl.corrupt-{os.getpid()}").read_text().count("not json") == 1
    after = store.load(now)
    assert after.damaged == 0 and [t.model for t in after.turns] == [OPUS, "gpt-5.4", SONNET]


def test_a_line_cut_short_by_a_killed_writer_is_not_glued_to_the_next(tmp_path: Path) -> None:
    """A torn last line costs that line only: the next append starts on a fresh line."""
    path = tmp_path / "t.jsonl"
    now = time.time()
    path.write_text(f'{{"t":{round(now - 5)},"p":"claude_code","m":"{OPUS}"}}\n{{"t":{round(now)},"p":"cla')
    store = TurnLogStore(path)
    store.append([LoggedTurn(now, "claude_code", SONNET)])
    got = store.load(now)
    assert [t.model for t in got.turns] == [OPUS, SONNET] and got.damaged == 1


def test_a_fifo_at_the_log_path_is_refused_in_one_line_and_left_alone(tmp_path: Path) -> None:
    """Reading or appending where a FIFO sits is one `StateError` line; the FIFO is still there."""
    path = tmp_path / "t.jsonl"
    os.mkfifo(path)
    store = TurnLogStore(path)
    for action in (lambda: store.load(), lambda: store.append([LoggedTurn(time.time(), "claude_code", OPUS)])):
        with pytest.raises(StateError) as err:
            action()
        assert "\n" not in str(err.value) and "FIFO" in str(err.value)
    assert path.is_fifo()


_APPENDER = """
import sys, time
from pathlib import Path
from bhoga._turnlog import LoggedTurn, TurnLogStore
store = TurnLogStore(Path(sys.argv[1]))
for i in range(100):
    store.append([LoggedTurn(time.time(), "claude_code", sys.argv[2], 1)])
"""


def test_processes_appending_at_once_lose_nothing(tmp_path: Path) -> None:
    """Four processes append 100 turns each at the same time: 400 turns read back, no line damaged."""
    path = tmp_path / "t.jsonl"
    procs = [
        subprocess.Popen([sys.executable, "-c", _APPENDER, str(path), f"model-{i}"], stderr=subprocess.PIPE)
        for i in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    got = TurnLogStore(path).load()
    assert sum(t.n for t in got.turns) == 400 and got.damaged == 0
    assert {t.model for t in got.turns} == {f"model-{i}" for i in range(4)}
