"""Issue 13 class 4 (duplicate keys: refused only where bhoga edits, and doctor says the same) and issue 11's
unreadable YAML (NUL, U+2028, deep nesting: one line, bounded time, never edited, never an internal error)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from bhoga.errors import HermesConfigError
from bhoga.hermes import apply_recommendation, config_problem
from tests.fixtures_hermes import HermesHome, hermes, rec

__all__ = ["hermes"]

CLAUDE = rec("claude_code", "claude-sonnet-4.6")
BHOGA = Path(sys.executable).with_name("bhoga")

# Real-world shapes of the two files from the field report: a duplicate `custom_providers` list and a duplicate
# `timeout` in an auxiliary task, both far from what a route writes.
OUTSIDE = {
    "custom_providers": """\
model:
  default: gpt-5.5
  provider: openai-codex
custom_providers:
- name: local
  base_url: http://localhost:11434/v1
display:
  skin: default
custom_providers:
- name: lan
  base_url: http://10.0.0.5:8000/v1
""",
    "aux_timeout": """\
model:
  default: claude-sonnet-4-6
  provider: anthropic
auxiliary:
  vision:
    provider: auto
    timeout: 30
    download_timeout: 30
    timeout: 60
  compression:
    provider: auto
    timeout: 120
""",
}


@pytest.mark.parametrize("name", sorted(OUTSIDE))
def test_duplicate_outside_the_edited_paths_does_not_block(hermes: HermesHome, name: str) -> None:
    """A duplicate key Hermes loads fine (the last wins) and bhoga does not edit: the route is written, the
    duplicate stays as it was, and doctor raises nothing."""
    hermes.claude_login()
    hermes.write_config(OUTSIDE[name])
    assert config_problem() is None
    assert apply_recommendation(CLAUDE) is True
    new = hermes.config.read_text()
    assert new.count(name.split("_")[-1] + ":") == OUTSIDE[name].count(name.split("_")[-1] + ":")
    data = yaml.safe_load(new)
    assert data["model"] == {"default": "claude-sonnet-4-6", "provider": "anthropic"}
    assert data["auxiliary"]["compression"]["provider"] == "anthropic" if "auxiliary" in data else True


INSIDE = [
    (
        "model:\n  provider: openrouter\n  default: x\n  provider: anthropic\n",
        "duplicate key model.provider at lines 2 and 4; Hermes reads only the last one, so delete line 2 "
        "(the first provider:)",
    ),
    (
        "model:\n  default: x\n  context_length: 1\n  context_length: 2\n",
        "duplicate key model.context_length at lines 3 and 4",
    ),
    (
        "model:\n  default: a\n  provider: openrouter\nterminal: {}\nmodel:\n  default: b\n",
        "duplicate key model at lines 1 and 5; Hermes reads only the last one, so delete lines 1-3 (the first model:)",
    ),
    ("model: {default: a, default: b}\n", "so delete the first default entry on line 1"),
    ("base_url: http://a\nbase_url: http://b\nmodel: x\n", "duplicate key base_url at lines 1 and 2"),
    (
        "model: x\nauxiliary:\n  compression:\n    provider: a\n    provider: b\n",
        "duplicate key auxiliary.compression.provider at lines 4 and 5",
    ),
]


@pytest.mark.parametrize(("content", "message"), INSIDE)
def test_duplicate_inside_model_is_refused_and_doctor_says_the_same(
    hermes: HermesHome, content: str, message: str
) -> None:
    """A duplicate inside `model:` (or on a key the route writes) is refused naming both lines and what to
    delete; the file is untouched, and `config_problem` (doctor's check) gives the identical line."""
    hermes.claude_login()
    path = hermes.write_config(content)
    with pytest.raises(HermesConfigError) as info:
        apply_recommendation(CLAUDE)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert path.read_text() == content
    if "auxiliary" not in content:  # doctor checks what every route edits; compression is route-specific
        assert config_problem() == str(info.value)


def test_doctor_prints_the_writers_refusal(hermes: HermesHome) -> None:
    """`bhoga doctor` prints the writer's own one-line refusal for a duplicate inside `model:`."""
    hermes.write_config("model:\n  provider: openrouter\n  default: x\n  provider: anthropic\n")
    r = subprocess.run([str(BHOGA), "doctor"], capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert "Traceback" not in r.stderr
    assert "duplicate key model.provider at lines 2 and 4" in r.stdout, r.stdout
    assert "delete line 2" in r.stdout


UNREADABLE = [
    ("nul_in_comment", b"model:\n  provider: anthropic  # a\x00b\n", "control character U+0000 at line 2"),
    (
        "u2028_in_comment",
        "model:\n  default: x\n# note\u2028model: {provider: evil}\n".encode(),
        "line separator U+2028 at line 3",
    ),
    ("deep_flow", b"model: " + b"[" * 20000 + b"]" * 20000 + b"\n", "nested deeper than 256 levels at line 1"),
    (
        "deep_block",
        ("".join(" " * i + f"k{i}:\n" for i in range(600)) + " " * 600 + "v: 1\n").encode(),
        "nested deeper than 256 levels",
    ),
]


@pytest.mark.parametrize(("name", "content", "message"), UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_yaml_no_reader_agrees_on_is_refused(hermes: HermesHome, name: str, content: bytes, message: str) -> None:
    """NUL or U+2028 in a comment, 20,000-level nesting: refused with one line, file untouched."""
    hermes.claude_login()
    path = hermes.write_config(content)
    with pytest.raises(HermesConfigError) as info:
        apply_recommendation(CLAUDE)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert path.read_bytes() == content
    assert config_problem() == str(info.value)


def test_cli_refuses_deep_nesting_with_one_line(hermes: HermesHome) -> None:
    """`bhoga apply` on a 20,000-level file exits 1 with one line naming the file, not "internal error"."""
    hermes.claude_login()
    content = b"model: " + b"{a: " * 20000 + b"1" + b"}" * 20000 + b"\n"
    hermes.write_config(content)
    r = subprocess.run(
        [str(BHOGA), "apply", "claude-sonnet-4.6"], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert r.returncode != 0
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    assert "nested deeper than 256 levels" in r.stderr + r.stdout
    assert hermes.config.read_bytes() == content
