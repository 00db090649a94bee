"""Helpers every benchmark module uses: timing with medians, and the result row."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Row", "median_per_call", "median_seconds"]


@dataclass(frozen=True)
class Row:
    """One line of the benchmark table."""

    area: str
    what: str
    value: float
    unit: str
    target: str
    ok: bool
    note: str = ""


def median_seconds(fn: Callable[[], object], *, repeat: int = 21, warmup: int = 2) -> float:
    """Median wall time of `fn()` in seconds over `repeat` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def median_per_call(fn: Callable[[], object], *, calls: int = 10_000, repeat: int = 15) -> float:
    """Median seconds per call of `fn`, each sample timing `calls` calls in a tight loop."""
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - t0) / calls)
    return statistics.median(samples)
