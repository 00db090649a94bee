"""Quota discovery speed from local files (offline, warm page cache).

- Codex: `discover("openai-codex")` with 10, 1,000 and 10,000 generated rollout files spread over days
  (30 sessions a day), and with 10,000 and 100,000 files all in today's day directory (median of repeated
  discoveries, as the daemon runs them: ≤ 5 ms and ≤ 20 ms; the first one of a process, which lists the
  directory, is shown beside it).
- Claude: `discover("claude_code")` answered from a fresh `cachedUsageUtilization` in `.claude.json`
  (median ≤ 5 ms), with a small file and with a 1 MB one (project history makes real files big).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks._util import Row, median_seconds
from bhoga.discovery import discover
from bhoga.discovery._gate import Gate

_ENV = ("HOME", "CODEX_HOME", "CLAUDE_CONFIG_DIR", "BHOGA_OFFLINE", "BHOGA_STATE", "XDG_CACHE_HOME")


@contextmanager
def _isolated(home: Path) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update(
        HOME=str(home), BHOGA_OFFLINE="1", BHOGA_STATE=str(home / "state.json"), XDG_CACHE_HOME=str(home / ".cache")
    )
    os.environ.pop("CODEX_HOME", None)
    os.environ.pop("CLAUDE_CONFIG_DIR", None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _rollout_lines(ts: datetime, used: float) -> bytes:
    meta = {"timestamp": ts.isoformat(), "type": "session_meta", "payload": {"id": "x", "cwd": "/w", "pad": "p" * 1500}}
    tc = {
        "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "type": "event_msg",
        "payload": {
            "type": "token_count",
            "info": None,
            "rate_limits": {
                "limit_id": "codex",
                "primary": {"used_percent": used, "window_minutes": 300, "resets_at": 4102444800},
                "secondary": {"used_percent": 10.0, "window_minutes": 10080, "resets_at": 4102444800},
            },
        },
    }
    return (json.dumps(meta) + "\n" + json.dumps(tc) + "\n").encode()


def _make_codex(home: Path, n: int, *, per_day: int | None) -> None:
    """`n` rollout files, `per_day` to a day directory going back in time, or all in today's when None.

    The newest 50 carry a real session; older ones are empty (only their names are ever looked at).
    """
    now = datetime.now(UTC)
    today = home / ".codex" / "sessions" / now.strftime("%Y/%m/%d")
    today.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        if per_day is None:
            ts, d = now - timedelta(seconds=i + 1), today
        else:
            ts = now - timedelta(days=i // per_day, minutes=(i % per_day) + 1)
            d = home / ".codex" / "sessions" / ts.strftime("%Y/%m/%d")
            d.mkdir(parents=True, exist_ok=True)
        path = d / f"rollout-{ts.strftime('%Y-%m-%dT%H-%M-%S')}-{i:06d}.jsonl"
        if i >= 50:
            path.touch()
            continue
        path.write_bytes(_rollout_lines(ts, 42.0 if i == 0 else 1.0))
        mt = ts.timestamp()
        os.utime(path, (mt, mt))


def _bench_codex(n: int, per_day: int | None) -> tuple[float, float]:
    """(seconds of the first discovery in a fresh process state, median seconds of the ones after it)."""
    from bhoga.discovery import codex_files

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        _make_codex(home, n, per_day=per_day)
        time.sleep(1.1)  # the directory listing is kept only once it is older than a clock tick's doubt
        with _isolated(home):
            gate = Gate(home / "discovery.json")
            codex_files._listings.clear()
            t0 = time.perf_counter()
            obs = discover("openai-codex", gate=gate)
            first = time.perf_counter() - t0
            assert obs.source == "rollout" and any(w.pct_used == 42.0 for w in obs.windows), obs
            return first, median_seconds(lambda: discover("openai-codex", gate=gate))


def _bench_claude(extra_bytes: int, indent: int | None = 2) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        usage = {
            "five_hour": {"utilization": 37, "resets_at": "2026-11-25T22:20:08.627753Z"},
            "seven_day": {"utilization": 61, "resets_at": "2026-11-28T20:20:08.627753Z"},
            "seven_day_opus": {"utilization": 12, "resets_at": "2026-11-28T20:20:08.627753Z"},
            "extra_usage": {"is_enabled": False},
        }
        doc = {
            "oauthAccount": {"accountUuid": "a"},
            "projects": {f"/p/{i}": {"history": "h" * 200} for i in range(extra_bytes // 220)},
            "cachedUsageUtilization": {
                "fetchedAtMs": int(time.time() * 1000),
                "accountUuid": "a",
                "utilization": usage,
            },
        }
        # Claude Code writes the file with JSON.stringify(config, null, 2); `indent=None` is the fallback's case.
        (home / ".claude.json").write_text(json.dumps(doc, indent=indent))
        (home / ".claude").mkdir()
        (home / ".claude" / ".credentials.json").write_text(
            json.dumps(
                {
                    "claudeAiOauth": {
                        "accessToken": "sk-ant-oat01-bench",
                        "expiresAt": int(time.time() * 1000) + 3_600_000,
                        "scopes": ["user:profile"],
                        "subscriptionType": "max",
                    }
                }
            )
        )
        with _isolated(home):
            gate = Gate(home / "discovery.json")
            assert discover("claude_code", gate=gate).source == "cache"
            return median_seconds(lambda: discover("claude_code", gate=gate))


def run() -> list[Row]:
    rows: list[Row] = []
    for n in (10, 1_000, 10_000):
        ms = _bench_codex(n, per_day=30)[1] * 1000
        rows.append(
            Row(
                "discovery",
                f"Codex from newest rollout, {n:,} session files",
                ms,
                "ms",
                "≤ 20 ms",
                ms <= 20,
                "30 per day dir",
            )
        )
    for n, target in ((10_000, 5.0), (100_000, 20.0)):
        first, again = _bench_codex(n, per_day=None)
        rows.append(
            Row(
                "discovery",
                f"Codex, {n:,} files in today's day dir, repeated discovery",
                again * 1000,
                "ms",
                f"≤ {target:g} ms",
                again * 1000 <= target,
                f"first discovery of the process (directory listed) {first * 1000:.1f} ms",
            )
        )
    for size, label in ((0, "small .claude.json"), (1_000_000, "1 MB .claude.json as Claude Code writes it")):
        ms = _bench_claude(size) * 1000
        rows.append(Row("discovery", f"Claude from cachedUsageUtilization, {label}", ms, "ms", "≤ 5 ms", ms <= 5))
    ms = _bench_claude(1_000_000, indent=None) * 1000
    label = "Claude from cachedUsageUtilization, 1 MB .claude.json on one line (full parse)"
    rows.append(Row("discovery", label, ms, "ms", "info", True))
    return rows
