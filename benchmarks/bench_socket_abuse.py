"""bhogad's socket under abuse (DESIGN §8.5): ping latency and memory of a real daemon under a 1,024-descriptor
limit while clients flood `status` without reading beside 600 idle connections, then during a connect storm.

Ping is timed on a fresh connection, as the `bhoga` CLI makes one, every 50 ms; RSS is read from /proc. The
run itself is tests/socket_abuse.py, the same one the chaos test asserts correctness on.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from benchmarks._util import Row

AREA = "socket abuse"
SECONDS = 15.0


def run() -> list[Row]:
    from tests.socket_abuse import FLOODERS, IDLE, NOFILE, run_abuse

    root = Path(tempfile.mkdtemp(prefix="bhoga-abuse-"))
    try:
        r = run_abuse(root, SECONDS)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    flood, storm = r.phases
    rows = [
        Row(AREA, "ping on a fresh connection, daemon idle", r.baseline_ping * 1e3, "ms", "-", True),
        Row(
            AREA,
            "ping on a fresh connection",
            flood.ping_median_ms,
            "ms",
            "< 100 ms",
            flood.ping_median_ms < 100 and flood.ping_failures == 0,
            f"{FLOODERS} clients flooding status unread + {IDLE} idle, {len(flood.pings)} pings, "
            f"{flood.ping_failures} unanswered",
        ),
        Row(
            AREA,
            "ping on a fresh connection",
            storm.ping_median_ms,
            "ms",
            "< 100 ms",
            storm.ping_median_ms < 100 and storm.ping_failures == 0,
            f"connect storm, {storm.counts.get('storm_connects', 0) / SECONDS:,.0f} connects/s, "
            f"{len(storm.pings)} pings, {storm.ping_failures} unanswered",
        ),
        Row(
            AREA,
            "bhogad RSS, peak over both phases",
            r.rss_peak,
            "MiB",
            "< 64 MiB",
            r.rss_peak < 64,
            f"{r.rss_idle:.0f} MiB before",
        ),
        Row(AREA, "bhogad descriptors, peak", r.fds_peak, "fds", f"< {NOFILE}", r.fds_peak < NOFILE),
    ]
    cli_ok = all(c.returncode == 0 for p in r.phases for c in p.cli.values())
    rows.append(Row(AREA, "CLI status/best/pause/resume answered", float(cli_ok), "all", "1", cli_ok))
    return rows
