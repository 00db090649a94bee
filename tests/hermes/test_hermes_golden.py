"""Byte-exact golden diffs for every route on a corpus of hand-written, comment-rich configs."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from bhoga.hermes import apply_recommendation, hermes_diff
from tests.fixtures_hermes import CORPUS, DATA, ROUTES, HermesHome, hermes, rec

__all__ = ["hermes"]

GOLDEN = DATA / "golden"
REGEN = os.environ.get("BHOGA_REGEN_GOLDEN") == "1"  # only by hand, after reviewing the new diffs
CONFIGS = sorted(p.name for p in CORPUS.glob("*.yaml") if p.name != "anchors_model.yaml")


def _diffs_for(hermes: HermesHome, name: str) -> str:
    out = []
    for label, pid, model, env in ROUTES:
        hermes.write_config(CORPUS / name)
        hermes.everything(*env)
        r = rec(pid, model)
        diff = hermes_diff(r)
        before = hermes.config.read_bytes()
        assert apply_recommendation(r) is bool(diff)
        after = hermes.config.read_bytes()
        assert (after != before) is bool(diff)
        # A second application is a no-op: same bytes, nothing rewritten.
        mtime = hermes.config.stat().st_mtime_ns
        assert apply_recommendation(r) is False
        assert hermes.config.read_bytes() == after and hermes.config.stat().st_mtime_ns == mtime
        out.append(f"### {label}: {model}\n{diff}")
    return "".join(out)


@pytest.mark.parametrize("name", CONFIGS)
def test_golden_diffs(hermes: HermesHome, name: str) -> None:
    """Every route on every corpus config changes exactly the lines in its reviewed golden diff."""
    got = _diffs_for(hermes, name)
    golden = GOLDEN / (Path(name).stem + ".diff")
    if REGEN:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_bytes(got.encode())
    assert got == golden.read_bytes().decode()


@pytest.mark.parametrize("name", CONFIGS)
def test_untouched_bytes_survive(hermes: HermesHome, name: str) -> None:
    """Outside the golden diff's lines the file is byte-identical: BOM, CRLF, markers and comments stay."""
    for _label, pid, model, env in ROUTES:
        hermes.write_config(CORPUS / name)
        hermes.everything(*env)
        before = hermes.config.read_bytes()
        apply_recommendation(rec(pid, model))
        after = hermes.config.read_bytes()
        assert after.startswith(b"\xef\xbb\xbf") == before.startswith(b"\xef\xbb\xbf")
        if b"\r\n" in before:
            assert after.count(b"\n") == after.count(b"\r\n")
        old_comments = [ln for ln in before.decode("utf-8-sig").splitlines() if ln.strip().startswith("#")]
        new_lines = after.decode("utf-8-sig").splitlines()
        new_comments = [ln.strip() for ln in new_lines if ln.strip().startswith("#")]
        # Every full-line comment is still there, in order (a deleted key's end-of-line comment may be added).
        it = iter(new_comments)
        assert all(any(c.strip() == n for n in it) for c in old_comments)


INTENDED = (
    "default:",
    "provider:",
    "base_url:",
    "api_mode:",
    "model:",
    "summary_provider:",
    "auxiliary:",
    "compression:",
    "providers:",
    "anthropic-api:",
    "key_env:",
)


def test_upstream_example_changes_only_route_lines(hermes: HermesHome) -> None:
    """On Hermes' upstream example config (637 lines, mostly comments) each route changes only route keys."""
    source = DATA / "upstream-example-2026-03.yaml"
    for _label, pid, model, env in ROUTES:
        hermes.write_config(source)
        hermes.everything(*env)
        assert apply_recommendation(rec(pid, model)) is True
        before = source.read_text().splitlines()
        after = hermes.config.read_text().splitlines()
        changed = [
            ln
            for ln in difflib.unified_diff(before, after, lineterm="", n=0)
            if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
        ]
        assert changed and all(ln[1:].strip().startswith(INTENDED) for ln in changed), changed
        comments = [ln for ln in before if ln.lstrip().startswith("#")]
        assert [ln for ln in after if ln.lstrip().startswith("#")] == comments
