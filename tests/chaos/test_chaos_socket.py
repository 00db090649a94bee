"""Chaos for bhogad's socket: a real daemon under a 1,024-descriptor limit is flooded, held idle and stormed.

The figures (ping latency, RSS) are measured by benchmarks/bench_socket_abuse.py; here only correctness is
asserted: every probe is answered, every CLI command succeeds and is answered by the daemon itself, memory and
descriptors stay bounded, and the daemon never runs out of descriptors or dies.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.socket_abuse import CLI, IDLE, NOFILE, run_abuse

pytestmark = pytest.mark.slow


def test_socket_abuse_keeps_bhogad_answering_with_bounded_memory(tmp_path: Path) -> None:
    """Status floods without reading, 600 idle connections and connect storms: ping and every CLI command are
    answered by the daemon, RSS stays under 64 MiB and descriptors under the limit."""
    root = tmp_path / "abuse"  # tmp_path/home is the test's own HOME; the daemon gets another
    root.mkdir()
    result = run_abuse(root, seconds=12.0)
    assert result.alive, result.log
    for phase in result.phases:
        assert phase.ping_failures == 0 and phase.pings, f"{phase.name}: {phase.ping_failures} pings unanswered"
        assert set(phase.cli) == {" ".join(args) for args in CLI}, f"{phase.name}: CLI commands run: {set(phase.cli)}"
        for command, done in phase.cli.items():
            assert done.returncode == 0, f"{phase.name}: bhoga {command}: {done.stderr}"
            assert "Traceback" not in done.stderr
        # status came from the daemon, not from the CLI's local fallback
        daemon = phase.status.get("daemon")
        assert isinstance(daemon, dict) and daemon.get("pid") == result.daemon_pid, f"{phase.name}: {phase.status}"
    flood, storm = result.phases
    # the flooders did send far more than one answer buffer
    assert flood.counts["flood_bytes"] > 1 << 20, flood.counts
    # idle ones are only closed to make room, not wholesale
    assert flood.counts["idle_open"] >= IDLE - 200, flood.counts
    assert storm.counts["storm_connects"] > 1000, storm.counts
    assert result.rss_peak < 64, f"RSS peaked at {result.rss_peak:.1f} MiB"
    assert result.fds_peak < NOFILE
    assert "out of system resource" not in result.log and "Too many open files" not in result.log
    # `bhoga pause` reached the daemon both times
    assert result.log.count("paused: no Hermes writes") == 2, result.log[-3000:]
