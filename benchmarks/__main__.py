"""Run every benchmark module (`benchmarks/bench_*.py`, each with `run() -> list[Row]`) and print one table."""

from __future__ import annotations

import importlib
import os
import platform
import sys
from pathlib import Path

from benchmarks._util import Row


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    py = platform.python_version()
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {py}"


def _fmt(value: float, unit: str) -> str:
    return f"{value:,.3g} {unit}" if value < 1000 else f"{value:,.0f} {unit}"


def main(argv: list[str]) -> int:
    only = set(argv)
    rows: list[Row] = []
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        name = path.stem
        if only and name.removeprefix("bench_") not in only:
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        rows.extend(module.run())
    print(f"Machine: {_machine()}\n")
    print("| area | measurement | median | target | met |")
    print("|---|---|---|---|---|")
    for r in rows:
        note = f" ({r.note})" if r.note else ""
        print(f"| {r.area} | {r.what}{note} | {_fmt(r.value, r.unit)} | {r.target} | {'yes' if r.ok else 'NO'} |")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
