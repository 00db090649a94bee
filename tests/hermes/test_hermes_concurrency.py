"""Concurrent writers: Hermes takes no lock, so while bhoga flips routes a Hermes-like process (read, modify,
temp file + rename, as Hermes' own writer does) rewrites the file; no write of that process may be lost."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bhoga.errors import HermesConfigError
from bhoga.hermes import apply_recommendation
from tests.fixtures_hermes import CORPUS, HERMES_LIKE_WRITER, HermesHome, hermes, rec

__all__ = ["hermes"]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_no_hermes_write_is_lost_while_bhoga_flips(hermes: HermesHome) -> None:
    """A Hermes-like writer rewriting every ~4 ms for 4 s: bhoga still writes, and never replaces a version of
    the file it did not read (every write of the other process survives until that process writes again)."""
    hermes.everything("COPILOT_GITHUB_TOKEN")
    text = (CORPUS / "indent2.yaml").read_text().replace("terminal:\n", "hermes_counter: 0\nterminal:\n", 1)
    hermes.write_config(text)
    writer = subprocess.Popen(
        [sys.executable, "-c", HERMES_LIKE_WRITER, str(hermes.config), "4", "0.004"], stdout=subprocess.PIPE, text=True
    )
    written = i = 0
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:
        i += 1
        try:
            written += apply_recommendation(rec("claude_code" if i % 2 else "github-copilot", "claude-sonnet-4.6"))
        except HermesConfigError as e:
            assert "kept changing" in str(e)
    out, _ = writer.communicate(timeout=60)
    writes, lost = (int(x) for x in out.split())
    assert writes > 100 and written > 5, (writes, written)
    assert lost == 0, f"{lost} of {writes} writes of the other process were lost"
    assert not list(hermes.dir.glob(".config.yaml.*.tmp"))
