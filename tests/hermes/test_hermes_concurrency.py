"""Concurrent writers: Hermes takes no lock, so while bhoga flips routes a Hermes-like process (read, modify,
temp file + rename, as Hermes' own writer does) rewrites the file; no write of that process may be lost."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest

from bhoga.errors import HermesConfigError
from bhoga.hermes import apply_recommendation
from tests.fixtures_hermes import CORPUS, HERMES_LIKE_WRITER, HermesHome, hermes, rec

__all__ = ["hermes"]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_no_hermes_write_is_lost_while_bhoga_flips(hermes: HermesHome) -> None:
    """A Hermes-like writer rewriting every ~4 ms while bhoga flips: bhoga never replaces a version of the file it did
    not read (every write of the other process survives until that process writes again), and it gets writes in."""
    hermes.everything("COPILOT_GITHUB_TOKEN")
    text = (CORPUS / "indent2.yaml").read_text().replace("terminal:\n", "hermes_counter: 0\nterminal:\n", 1)
    hermes.write_config(text)
    # Bursts of 50 writes, each followed by a gap that lasts until bhoga has written: bhoga races the writer
    # through every burst and is sure to get in between them, however slow the machine (it refuses, rightly,
    # while the file keeps changing, so a writer that never paused could keep it out altogether).
    writer = subprocess.Popen(
        [sys.executable, "-c", HERMES_LIKE_WRITER, str(hermes.config), "inf", "0.004", "50", "600"],
        stdout=subprocess.PIPE,
        text=True,
    )
    written = i = 0
    while writer.poll() is None:
        i += 1
        try:
            written += apply_recommendation(rec("claude_code" if i % 2 else "github-copilot", "claude-sonnet-4.6"))
        except HermesConfigError as e:
            assert "kept changing" in str(e)
    out, _ = writer.communicate(timeout=60)
    writes, lost = (int(x) for x in out.split())
    assert lost == 0, f"{lost} of {writes} writes of the other process were lost"
    assert writes == 600 and written >= 600 // 50 - 1, (writes, written)
    # Once the writer is done, bhoga writes on top of its last version, which survives.
    assert apply_recommendation(rec("claude_code", "claude-sonnet-4.6")) or apply_recommendation(
        rec("github-copilot", "claude-sonnet-4.6")
    )
    assert "hermes_counter: 600\n" in hermes.config.read_text()
    assert not list(hermes.dir.glob(".config.yaml.*.tmp"))


def test_a_hermes_save_after_the_content_check_never_meets_bhogas_stale_file(
    hermes: HermesHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Hermes save landing between bhoga's content check and its rename is seen before bhoga's file is put in
    place, so Hermes never reads (and saves on top of) a version bhoga made from the file that save replaced."""
    hermes.everything("COPILOT_GITHUB_TOKEN")
    hermes.write_config((CORPUS / "indent2.yaml").read_text().replace("terminal:\n", "hermes_counter: 0\nterminal:\n"))
    saved: list[int] = []
    went_back: list[tuple[int, int]] = []
    os_stat = os.stat

    def hermes_save() -> None:
        text = hermes.config.read_text()
        seen = int(re.findall(r"hermes_counter: (\d+)", text)[0])
        if seen < len(saved):
            went_back.append((seen, len(saved)))
        saved.append(len(saved) + 1)
        tmp = hermes.config.with_name("config.yaml.hermes-tmp")
        tmp.write_text(text.replace(f"hermes_counter: {seen}\n", f"hermes_counter: {len(saved)}\n"))
        os.replace(tmp, hermes.config)

    def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        # bhoga looks at its own temp file only once the file is written and its content checked: the worst
        # moment for Hermes to save, and (after a swap) the moment Hermes would read whatever bhoga put in place.
        name = os.path.basename(os.fsdecode(path)) if isinstance(path, str | bytes | os.PathLike) else ""
        if name.startswith(".config.yaml.") and name.endswith(".tmp") and len(saved) < 3:
            hermes_save()
        return os_stat(path, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(os, "stat", stat)
        changed = apply_recommendation(rec("github-copilot", "claude-sonnet-4.6"))
    assert not went_back, f"Hermes read a file older than its own last save (seen, last): {went_back}"
    assert len(saved) == 3, "Hermes never got to save in bhoga's window: this test checked nothing"
    assert changed
    text = hermes.config.read_text()
    assert "hermes_counter: 3\n" in text and "provider: copilot" in text
