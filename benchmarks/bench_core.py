"""Core benchmarks: best_for, record_turn in the caller's thread, memory under a million turns, import time."""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._util import Row, median_per_call

MODELS = [f"{base}-{i}" for base in ("claude-opus", "claude-sonnet", "gpt-5", "gemini-2.5") for i in range(5)]


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _import_ms(code: str, runs: int = 21) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def run() -> list[Row]:
    from bhoga import Router

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as d:
        r = Router(state_path=Path(d) / "state.json", eager=False)
        r.set_quota("claude_code", 70, weekly_pct=55)
        r.set_quota("anthropic_api", 90)
        r.set_quota("openai-codex", 40)
        r.set_quota("openai_api", 80)
        r.set_quota("github-copilot", 60)
        for m in MODELS:
            r.best_for(m)
        it = iter(MODELS * 10**6)
        best = r.best_for
        per = median_per_call(lambda: best(next(it)), calls=20_000)
        rows.append(
            Row("core", "best_for, 5 providers, 20 models", per * 1e6, "µs", "≤ 5 µs (original 9.3)", per <= 5e-6)
        )

        r.close()
        r = Router(state_path=Path(d) / "state2.json", eager=False)
        headers = {"retry-after": "1", "x-ratelimit-remaining-tokens": "10"}
        rec = r.record_turn
        per = median_per_call(lambda: rec("openai_api", "gpt-5", 100, 50, headers, 200), calls=20_000)
        rows.append(Row("core", "record_turn, caller's thread", per * 1e6, "µs", "≤ 1 µs (original 0.18)", per <= 1e-6))

        r.flush()
        gc.collect()
        before = _rss_mib()
        for _ in range(1_000_000):
            rec("openai_api", "gpt-5", 100, 50, headers, 200)
        r.flush()
        gc.collect()
        grew = _rss_mib() - before
        rows.append(
            Row(
                "core",
                "RSS growth over 1,000,000 record_turn calls",
                grew,
                "MiB",
                "flat (≤ 10 MiB)",
                grew <= 10,
                f"{r.dropped_turns:,} dropped by the bounded queue",
            )
        )
        r.close()

    # pip compiles bytecode at install time; an editable checkout under PYTHONDONTWRITEBYTECODE would not have it.
    import bhoga

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(bhoga.__file__).parent)], check=True)
    env_code = "import os; os.environ['BHOGA_OFFLINE']='1';"
    bare = _import_ms(env_code)
    full = _import_ms(env_code + "import bhoga")
    rows.append(
        Row(
            "core",
            "import bhoga over bare Python",
            full - bare,
            "ms",
            "≤ 30 ms (original 67)",
            full - bare <= 30,
            f"bare {bare:.0f} ms",
        )
    )
    return rows
