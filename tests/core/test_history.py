"""The window history: bounded to seven days, safe across processes, cheap to append, fed by the Router."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bhoga._history import KEEP, MAX_PER_WINDOW, HistoryStore, Point, Recorder, history_path
from bhoga._model import ProviderQuota, QuotaWindow
from bhoga._router import Router
from bhoga.errors import StateError


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def test_round_trip_in_order_and_deduplicated(tmp_path: Path) -> None:
    """Points come back per window, oldest first, once per instant, whatever order they were appended in."""
    store = HistoryStore(tmp_path / "h.jsonl")
    t = _now()
    r = t + timedelta(hours=3)
    store.append([("claude_code", "burst", Point(t, 20.0, r)), ("claude_code", "weekly@opus", Point(t, 5.0))])
    store.append([("claude_code", "burst", Point(t - timedelta(minutes=5), 10.0, r))])
    store.append([("claude_code", "burst", Point(t, 20.0, r))])
    got = store.load()
    assert got[("claude_code", "burst")] == [Point(t - timedelta(minutes=5), 10.0, r), Point(t, 20.0, r)]
    assert got[("claude_code", "weekly@opus")] == [Point(t, 5.0, None)]


def test_points_older_than_seven_days_are_dropped_and_compacted(tmp_path: Path) -> None:
    """Reading ignores points older than KEEP; the next append rewrites a file whose head is that old."""
    path = tmp_path / "h.jsonl"
    store = HistoryStore(path)
    t = _now()
    store.append([("openai-codex", "burst", Point(t - KEEP - timedelta(days=2), 1.0))])
    store.append([("openai-codex", "burst", Point(t - KEEP + timedelta(hours=1), 2.0))])
    assert [p.pct_used for p in store.load()[("openai-codex", "burst")]] == [2.0]
    assert len(path.read_text().splitlines()) == 1
    assert path.stat().st_mode & 0o777 == 0o600


def test_compaction_bounds_points_per_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file past MAX_BYTES is thinned to MAX_PER_WINDOW points a window, keeping the newest point."""
    import bhoga._history as h

    monkeypatch.setattr(h, "MAX_BYTES", 20_000)
    monkeypatch.setattr(h, "MAX_PER_WINDOW", 50)
    store = HistoryStore(tmp_path / "h.jsonl")
    t0 = _now() - timedelta(days=1)
    pts = [("claude_code", "burst", Point(t0 + timedelta(minutes=i), i % 100)) for i in range(400)]
    store.append(pts)
    got = store.load()[("claude_code", "burst")]
    assert len(got) == 50 < MAX_PER_WINDOW
    assert got[-1].at == t0 + timedelta(minutes=399)


def test_a_torn_last_line_is_skipped_and_not_glued(tmp_path: Path) -> None:
    """A line cut short by a killed writer is ignored, and the next append starts on a line of its own."""
    path = tmp_path / "h.jsonl"
    store = HistoryStore(path)
    t = _now()
    store.append([("claude_code", "burst", Point(t - timedelta(minutes=2), 1.0))])
    with path.open("ab") as f:
        f.write(b'{"p":"claude_code","w":"burst","t":')
    store.append([("claude_code", "burst", Point(t, 3.0))])
    assert [p.pct_used for p in store.load()[("claude_code", "burst")]] == [1.0, 3.0]


def test_garbage_lines_are_ignored(tmp_path: Path) -> None:
    """Lines of the wrong shape (bad types, out-of-range percent, not JSON) are dropped, the rest kept."""
    path = tmp_path / "h.jsonl"
    t = _now().timestamp()
    good = {"p": "claude_code", "w": "burst", "t": t, "u": 5, "r": None}
    bad = [
        {**good, "u": 101},
        {**good, "u": True},
        {**good, "t": "yesterday"},
        {**good, "p": 3},
        {"p": "claude_code"},
        [1, 2],
    ]
    path.write_text("\n".join([json.dumps(b) for b in bad] + ["\x00not json", json.dumps(good)]) + "\n")
    assert HistoryStore(path).load() == {("claude_code", "burst"): [Point(datetime.fromtimestamp(t, UTC), 5.0)]}


def test_a_fifo_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    """A FIFO where the history should be is refused with one line, never opened blocking or written."""
    path = tmp_path / "h.jsonl"
    os.mkfifo(path)
    with pytest.raises(StateError, match="not a regular file"):
        HistoryStore(path).load()
    with pytest.raises(StateError, match="not a regular file"):
        HistoryStore(path).append([("claude_code", "burst", Point(_now(), 1.0))])


_WRITER = """
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from bhoga._history import HistoryStore, Point
store = HistoryStore(Path(sys.argv[1]))
base = datetime.now(UTC) - timedelta(hours=1)
me = int(sys.argv[2])
for i in range(200):
    store.append([("claude_code", "burst", Point(base + timedelta(seconds=i * 10 + me, microseconds=me), 1.0))])
"""


def test_concurrent_appends_from_processes_lose_nothing(tmp_path: Path) -> None:
    """Four processes appending at once: every point is there and every line parses."""
    path = tmp_path / "h.jsonl"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(n)]) for n in range(4)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    assert len(HistoryStore(path).load()[("claude_code", "burst")]) == 800
    assert all(json.loads(line) for line in path.read_text().splitlines())


def _q(used: float, at: datetime, resets: datetime | None = None) -> ProviderQuota:
    return ProviderQuota("claude_code", windows=(QuotaWindow("burst", used, resets, 300, "*", at, "header"),))


def test_recorder_keeps_history_sparse() -> None:
    """A changing window is recorded at most once a minute, a still one every 15 minutes, a reset at once."""
    rec = Recorder()
    t = _now()
    r1, r2 = t + timedelta(hours=4), t + timedelta(hours=9)
    assert len(rec.new_points([_q(10, t, r1)])) == 1
    assert rec.new_points([_q(11, t + timedelta(seconds=30), r1)]) == []
    assert len(rec.new_points([_q(11, t + timedelta(seconds=61), r1)])) == 1
    assert rec.new_points([_q(11, t + timedelta(minutes=10), r1 + timedelta(seconds=5))]) == []
    assert len(rec.new_points([_q(11, t + timedelta(minutes=17), r1)])) == 1
    assert len(rec.new_points([_q(0, t + timedelta(minutes=17, seconds=1), r2)])) == 1
    rec.seen([_q(50, t + timedelta(hours=1), r2)])
    assert rec.new_points([_q(50, t + timedelta(hours=1), r2)]) == []


def test_router_records_history_beside_the_state(tmp_path: Path) -> None:
    """set_quota through a Router leaves a point in the history file next to the state file."""
    state = tmp_path / "state.json"
    with Router(state_path=state, eager=False, daemon=False) as router:
        router.set_quota("claude_code", 70)
    assert history_path(state) == tmp_path / "state-history.jsonl"
    with Router(state_path=state, eager=False, daemon=False) as router:
        hist = router.history()
        assert [p.pct_used for p in hist[("claude_code", "burst")]] == [30.0]
        assert router.paces()[("claude_code", "burst")].pct_per_hour is None


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 30), st.integers(0, 3)),
        st.tuples(st.just("compact"), st.just(0), st.just(0)),
        st.tuples(st.just("torn"), st.just(0), st.just(0)),
        st.tuples(st.just("rewrite"), st.integers(0, 5), st.integers(0, 3)),
        st.tuples(st.just("delete"), st.just(0), st.just(0)),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(ops=_OPS, seed=st.integers(0, 1000))
def test_a_store_that_keeps_reading_sees_what_a_fresh_read_sees(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, int]], seed: int
) -> None:
    """A store that has loaded before reads only what was appended since, yet gives exactly what a store reading
    the file whole gives, through appends, compactions, a writer killed mid-line, a rewrite and a deletion."""
    path = tmp_path_factory.mktemp("h") / "state-history.jsonl"
    kept = HistoryStore(path)
    now = _now()
    for step, (op, n, w) in enumerate(ops):
        if op == "append":
            at = [now - timedelta(minutes=seed + step * 40 + i) for i in range(n)]
            HistoryStore(path).append(("claude_code", f"w{(w + i) % 3}", Point(t, float(i))) for i, t in enumerate(at))
        elif op == "compact" and path.exists():
            HistoryStore(path)._compact()
        elif op == "torn":
            with path.open("ab") as f:
                f.write(b'{"p":"claude_code","w":"w0","t":')
        elif op == "rewrite":
            doc = [
                {"p": "codex", "w": f"w{w}", "t": (now - timedelta(minutes=k)).timestamp(), "u": k} for k in range(n)
            ]
            path.write_text("".join(json.dumps(d) + "\n" for d in doc))
        elif op == "delete":
            path.unlink(missing_ok=True)
        assert kept.load(now) == HistoryStore(path).load(now), (step, op)
