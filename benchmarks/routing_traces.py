"""Make the committed synthetic demand traces (benchmarks/data/traces/*.json): `python -m benchmarks.routing_traces`.

Deterministic (fixed seeds), so the files only change when this script does. Units: one Sonnet-sized request is
one unit of a subscription window; Opus costs 3 on Claude Code and 10 premium requests on Copilot (its multiplier
is 10 on some plans, 1 for the others). Capacities are shaped like Claude Max 5x, ChatGPT Plus/Pro Codex and
Copilot Pro, scaled so that a busy working day meets the 5-hour window and a busy week meets the weekly one.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

OUT = Path(__file__).parent / "data" / "traces"
START = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday
DAY = 86400
DAYS = 7  # every trace is one week

CLAUDE = {
    "pid": "claude_code",
    "headers": True,
    "poll_minutes": 5,
    "cost": {"opus": 3},
    "windows": [
        {"name": "burst", "minutes": 300, "capacity": 120, "first_reset_min": 8 * 60 + 30},
        {"name": "weekly", "minutes": 10080, "capacity": 2000, "first_reset_min": 3.5 * 1440, "used": 1000},
        {
            "name": "weekly",
            "scope": "opus",
            "minutes": 10080,
            "capacity": 900,
            "first_reset_min": 3.5 * 1440,
            "used": 450,
        },
    ],
}
CODEX = {
    "pid": "openai-codex",
    "headers": True,
    "poll_minutes": 5,
    "windows": [
        {"name": "burst", "minutes": 300, "capacity": 100, "first_reset_min": 10 * 60},
        {"name": "weekly", "minutes": 10080, "capacity": 1200, "first_reset_min": 5 * 1440 + 600, "used": 700},
    ],
}
COPILOT = {
    "pid": "github-copilot",
    "headers": False,
    "poll_minutes": 15,
    "cost": {"opus": 10},
    "windows": [{"name": "monthly", "minutes": 43200, "capacity": 300, "first_reset_min": 4 * 1440, "used": 180}],
}
CLAUDE_MIX = [("claude-sonnet-4-6", 3.0), ("claude-opus-4-6", 1.0)]
ANTHROPIC_API = {"pid": "anthropic_api", "price": {"opus": 0.40, "sonnet": 0.08, "haiku": 0.02}}
OPENAI_API = {"pid": "openai_api", "price": {"gpt": 0.05, "*": 0.05}}
ANTHROPIC_API_TODAY = {"pid": "anthropic_api", "price": {"opus": 0.1333, "sonnet": 0.08, "haiku": 0.0267}}
"""Today's list prices (Opus 4.5 and later $25, Sonnet $15, Haiku $5 per million output tokens) in the ratio of the
$0.08 Sonnet request: the traces above price Opus like Opus 4/4.1 ($75)."""


def working_days(
    rng: random.Random, days: int, models: list[tuple[str, float]], sessions: tuple[int, int], rate: float
) -> list[list[object]]:
    """Bursts of work: on weekdays a few sessions of 20-120 min between 8:00 and 19:00, about `rate` requests a
    minute inside a session; weekends one short session at most."""
    reqs: list[list[object]] = []
    names = [m for m, _ in models]
    weights = [w for _, w in models]
    for d in range(days):
        weekday = (START.weekday() + d) % 7 < 5
        n = rng.randint(*sessions) if weekday else rng.randint(0, 1)
        for _ in range(n):
            begin = d * DAY + rng.uniform(8 * 3600, 18 * 3600)
            length = rng.uniform(20, 120 if weekday else 40) * 60
            model = rng.choices(names, weights)[0]
            t = begin
            while t < begin + length:
                reqs.append([round(t, 1), model])
                t += rng.expovariate(rate / 60)
                if rng.random() < 0.08:  # sometimes a second model within the session
                    model = rng.choices(names, weights)[0]
    reqs.sort(key=lambda r: float(r[0]))  # type: ignore[arg-type]
    return reqs


def _moved(sub: dict[str, object], *changes: dict[str, float]) -> dict[str, object]:
    """`sub` with each of its windows changed (another reset time, another starting use)."""
    windows = cast("list[dict[str, object]]", sub["windows"])
    return {**sub, "windows": [{**w, **c} for w, c in zip(windows, changes, strict=True)]}


def traces() -> dict[str, dict[str, object]]:
    """The committed traces, by file name."""
    out: dict[str, dict[str, object]] = {}

    def make(
        name: str,
        desc: str,
        subs: list[object],
        metered: list[object],
        *,
        seed: int,
        models: list[tuple[str, float]],
        sessions: tuple[int, int],
        rate: float,
    ) -> None:
        """Trace `name`: a week of `working_days` demand drawn with its own seed."""
        out[name] = {
            "name": name,
            "description": desc,
            "start": START.isoformat(),
            "days": DAYS,
            "subscriptions": subs,
            "metered": metered,
            "requests": working_days(random.Random(seed), DAYS, models, sessions, rate),
        }

    make(
        "claude-solo",
        "One developer on Claude Code (5h, weekly, Opus weekly) with the Anthropic API and Copilot as spill-over.",
        [CLAUDE, COPILOT],
        [ANTHROPIC_API],
        seed=1,
        models=[("claude-sonnet-4-6", 3), ("claude-opus-4-6", 1)],
        sessions=(2, 4),
        rate=1.2,
    )
    make(
        "two-vendors",
        "Claude Code, Codex and Copilot with both metered APIs; Sonnet, Opus, GPT-5 and Gemini (Copilot only).",
        [CLAUDE, CODEX, COPILOT],
        [ANTHROPIC_API, OPENAI_API],
        seed=2,
        models=[("claude-sonnet-4-6", 3), ("claude-opus-4-6", 1), ("gpt-5.4", 3), ("gemini-2.5-pro", 0.3)],
        sessions=(3, 5),
        rate=1.0,
    )
    make(
        "overflow-week",
        "Heavy week: demand well above every subscription; metered spend cannot be avoided, only kept down.",
        [CLAUDE, CODEX, COPILOT],
        [ANTHROPIC_API, OPENAI_API],
        seed=3,
        models=[("claude-sonnet-4-6", 3), ("claude-opus-4-6", 2), ("gpt-5.4", 2)],
        sessions=(5, 7),
        rate=2.0,
    )
    make(
        "light-use",
        "Light use: a few short sessions; every subscription has room, nothing should be spent.",
        [CLAUDE, CODEX, COPILOT],
        [ANTHROPIC_API, OPENAI_API],
        seed=4,
        models=[("claude-sonnet-4-6", 3), ("gpt-5.4", 2)],
        sessions=(1, 2),
        rate=0.5,
    )
    # Held out: made after the policies were tuned on the four above, to check they were not fitted to them.
    # Other seeds, other reset times, a Gemini-heavier mix, longer and denser sessions.
    make(
        "held-out",
        "Held out (not used to tune): Claude Code, Codex, Copilot and both APIs; other reset times, more Gemini.",
        [
            _moved(CLAUDE, {"first_reset_min": 6 * 60}, {"first_reset_min": 1440}, {"first_reset_min": 1440}),
            CODEX,
            _moved(COPILOT, {"first_reset_min": 2 * 1440, "used": 120}),
        ],
        [ANTHROPIC_API, OPENAI_API],
        seed=11,
        models=[("claude-sonnet-4-6", 2), ("claude-opus-4-6", 1.5), ("gpt-5.4", 2), ("gemini-2.5-pro", 0.6)],
        sessions=(2, 6),
        rate=1.4,
    )
    # Held out again: made after the round that added the "saves about half as much" rule (`bhoga._value`),
    # tuned on the four tuning traces only. Another seed, every window's reset moved, less of Copilot left.
    make(
        "held-out-2",
        "Held out (made after the second round of tuning): other seed, every reset moved, Copilot fuller.",
        [
            _moved(
                CLAUDE,
                {"first_reset_min": 7 * 60 + 15},
                {"first_reset_min": 2.25 * 1440, "used": 1300},
                {"first_reset_min": 2.25 * 1440, "used": 600},
            ),
            _moved(CODEX, {"first_reset_min": 9 * 60 + 40}, {"first_reset_min": 3 * 1440}),
            _moved(COPILOT, {"first_reset_min": 5.5 * 1440, "used": 210}),
        ],
        [ANTHROPIC_API, OPENAI_API],
        seed=23,
        models=[("claude-sonnet-4-6", 3), ("claude-opus-4-6", 1.2), ("gpt-5.4", 2), ("gemini-2.5-pro", 0.4)],
        sessions=(3, 5),
        rate=1.1,
    )
    # Held out a third time, made in round seven with no tuning after it: today's list prices (Opus 4.5 and later
    # $25 against Sonnet's $15 per million output tokens, so an Opus turn saves 5/3 of a Sonnet turn, not 5 times
    # as much as on the traces above, which priced Opus like Opus 4/4.1), another seed, resets moved again.
    make(
        "held-out-3",
        "Held out (made in round seven): today's list prices (Opus 5/3 of Sonnet), other seed, resets moved.",
        [
            _moved(
                CLAUDE,
                {"first_reset_min": 9 * 60 + 50},
                {"first_reset_min": 4.75 * 1440, "used": 900},
                {"first_reset_min": 4.75 * 1440, "used": 350},
            ),
            _moved(CODEX, {"first_reset_min": 8 * 60 + 20}, {"first_reset_min": 1.5 * 1440, "used": 500}),
            _moved(COPILOT, {"first_reset_min": 3 * 1440, "used": 150}),
        ],
        [ANTHROPIC_API_TODAY, OPENAI_API],
        seed=37,
        models=[("claude-sonnet-4-6", 3), ("claude-opus-4-6", 1.5), ("gpt-5.4", 2), ("gemini-2.5-pro", 0.4)],
        sessions=(3, 5),
        rate=1.2,
    )
    # Held out a fourth time: made after round seven's rules were settled on the other six, never tuned on.
    # Today's list prices again, another seed, resets moved, fewer sessions with more Opus.
    make(
        "held-out-4",
        "Held out (made after round seven's tuning): today's list prices, other seed, more Opus, resets moved.",
        [
            _moved(
                CLAUDE,
                {"first_reset_min": 6 * 60 + 40},
                {"first_reset_min": 1.25 * 1440, "used": 1500},
                {"first_reset_min": 1.25 * 1440, "used": 500},
            ),
            _moved(CODEX, {"first_reset_min": 11 * 60 + 5}, {"first_reset_min": 6 * 1440, "used": 300}),
            _moved(COPILOT, {"first_reset_min": 6.5 * 1440, "used": 90}),
        ],
        [ANTHROPIC_API_TODAY, OPENAI_API],
        seed=53,
        models=[("claude-sonnet-4-6", 2), ("claude-opus-4-6", 2), ("gpt-5.4", 1.5), ("gemini-2.5-pro", 0.3)],
        sessions=(2, 5),
        rate=1.3,
    )
    # Held out a fifth time: made at the start of round eight, before that round changed anything, and not looked
    # at until its changes were settled on the seven above. Today's list prices, another seed, resets moved,
    # Copilot's cycle early in its month.
    make(
        "held-out-5",
        "Held out (made before round eight's changes): today's list prices, other seed, Copilot early in its month.",
        [
            _moved(
                CLAUDE,
                {"first_reset_min": 7 * 60 + 55},
                {"first_reset_min": 5.5 * 1440, "used": 1200},
                {"first_reset_min": 5.5 * 1440, "used": 400},
            ),
            _moved(CODEX, {"first_reset_min": 9 * 60 + 15}, {"first_reset_min": 2.5 * 1440, "used": 800}),
            _moved(COPILOT, {"first_reset_min": 21 * 1440, "used": 60}),
        ],
        [ANTHROPIC_API_TODAY, OPENAI_API],
        seed=71,
        models=[("claude-sonnet-4-6", 3), ("claude-opus-4-6", 1.5), ("gpt-5.4", 2), ("gemini-2.5-pro", 0.2)],
        sessions=(2, 5),
        rate=1.2,
    )
    # Held out a sixth time: made at the start of round nine, before that round's experiments, and run only once
    # they were over. Today's list prices, another seed, resets moved, Copilot in its last quarter but fuller.
    make(
        "held-out-6",
        "Held out (made before round nine's experiments): today's list prices, other seed, Copilot late and fuller.",
        [
            _moved(
                CLAUDE,
                {"first_reset_min": 8 * 60 + 10},
                {"first_reset_min": 2.25 * 1440, "used": 1100},
                {"first_reset_min": 2.25 * 1440, "used": 300},
            ),
            _moved(CODEX, {"first_reset_min": 7 * 60 + 35}, {"first_reset_min": 4.5 * 1440, "used": 600}),
            _moved(COPILOT, {"first_reset_min": 5 * 1440, "used": 170}),
        ],
        [ANTHROPIC_API_TODAY, OPENAI_API],
        seed=97,
        models=[("claude-sonnet-4-6", 2.5), ("claude-opus-4-6", 2), ("gpt-5.4", 1.5), ("gemini-2.5-pro", 0.3)],
        sessions=(2, 5),
        rate=1.25,
    )
    return out


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, doc in traces().items():
        (OUT / f"{name}.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
        print(f"{OUT / name}.json: {len(doc['requests'])} requests")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
