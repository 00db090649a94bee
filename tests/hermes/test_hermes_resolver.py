"""The real client: every config bhoga writes is loaded by hermes-agent 0.19.0's own resolver, offline.

scripts/hermes-venv.sh installs hermes-agent==0.19.0 into a separate cached venv; tests/hermes_resolver/probe.py
runs inside it (no network: `unshare -rn` when available) against a throwaway HOME and HERMES_HOME.
Skipped, with the reason, only when the package registry cannot be reached.
"""

from __future__ import annotations

from typing import Any

import pytest

from bhoga.errors import HermesConfigError
from bhoga.hermes import apply_recommendation, claude_code_caveat, hermes_exclusions
from tests.fixtures_hermes import CORPUS, HermesHome, hermes, rec
from tests.fixtures_resolver import hermes_python, hermes_version, resolve

__all__ = ["hermes", "hermes_python", "hermes_version"]

# Installing hermes-agent on first use can take minutes on a slow link.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _rt(result: dict[str, Any]) -> tuple[Any, ...]:
    rt = result["runtime"]
    assert "error" not in rt, rt
    key = rt["api_key"] or {}
    return rt["provider"], rt["api_mode"], rt["base_url"], rt["source"], tuple(key.get("same_as_env", ()))


# (bhoga pid, model asked, env planted, expected (provider, api_mode, base_url, source, key var), API model)
CASES = [
    (
        "claude_code",
        "claude-sonnet-4.6",
        (),
        ("anthropic", "anthropic_messages", "https://api.anthropic.com", "claude_code", ()),
        "claude-sonnet-4-6",
    ),
    (
        "anthropic_api",
        "claude-opus-4.6",
        ("ANTHROPIC_API_KEY",),
        (
            "custom",
            "anthropic_messages",
            "https://api.anthropic.com",
            "custom_provider:anthropic-api",
            ("ANTHROPIC_API_KEY",),
        ),
        "claude-opus-4-6",
    ),
    (
        "openai-codex",
        "gpt-5.5",
        (),
        ("openai-codex", "codex_responses", "https://chatgpt.com/backend-api/codex", "device_code", ()),
        "gpt-5.5",
    ),
    (
        "openai_api",
        "gpt-5.5",
        ("OPENAI_API_KEY", "OPENROUTER_API_KEY"),
        ("openai-api", "codex_responses", "https://api.openai.com/v1", "env:OPENAI_API_KEY", ("OPENAI_API_KEY",)),
        "gpt-5.5",
    ),
    (
        "openai_api",
        "gpt-5.5",
        ("OPENROUTER_API_KEY",),
        (
            "openrouter",
            "chat_completions",
            "https://openrouter.ai/api/v1",
            "env:OPENROUTER_API_KEY",
            ("OPENROUTER_API_KEY",),
        ),
        "openai/gpt-5.5",
    ),
    (
        "github-copilot",
        "claude-sonnet-4-6",
        ("COPILOT_GITHUB_TOKEN",),
        (
            "copilot",
            "chat_completions",
            "https://api.githubcopilot.com",
            "env:COPILOT_GITHUB_TOKEN",
            ("COPILOT_GITHUB_TOKEN",),
        ),
        "claude-sonnet-4.6",
    ),
]


@pytest.mark.parametrize("start", ["indent2.yaml", "quotes_flow.yaml", "crlf_bom.yaml", "model_string.yaml"])
@pytest.mark.parametrize(
    ("pid", "model", "env", "expected", "api_model"),
    CASES,
    ids=["claude_code", "anthropic_api", "openai-codex", "openai-api", "openrouter", "copilot"],
)
def test_route_resolves_in_hermes(
    hermes_python: str,
    hermes: HermesHome,
    start: str,
    pid: str,
    model: str,
    env: tuple[str, ...],
    expected: tuple[Any, ...],
    api_model: str,
) -> None:
    """Each route, written over configs full of stale keys, resolves in Hermes to the intended endpoint."""
    hermes.write_config(CORPUS / start)
    hermes.claude_login()
    hermes.codex_login()
    hermes.env(*env)
    assert apply_recommendation(rec(pid, model)) is True
    result = resolve(hermes_python, hermes)
    assert _rt(result) == expected
    assert result["api_model"] == api_model
    assert result["structure_issues"] == []
    aux = result["aux_compression"]
    assert aux["runtime"]["provider"] == expected[0] and aux["runtime"]["source"] == expected[3]


def test_flip_sequence_leaves_nothing_stale(hermes_python: str, hermes: HermesHome) -> None:
    """Flipping through every route on one file: after each flip Hermes resolves exactly that route."""
    hermes.write_config(CORPUS / "indent2.yaml")
    hermes.claude_login()
    hermes.codex_login()
    for pid, model, env, expected, api_model in [*CASES, *reversed(CASES)]:
        hermes.env(*env)
        apply_recommendation(rec(pid, model))
        result = resolve(hermes_python, hermes)
        assert _rt(result) == expected, pid
        assert result["api_model"] == api_model


def test_fallback_providers_resolve(hermes_python: str, hermes: HermesHome) -> None:
    """fallback_providers written from runner-ups are entries Hermes resolves, incl. the anthropic-api route."""
    hermes.write_config(CORPUS / "indent4.yaml")
    hermes.claude_login()
    hermes.codex_login()
    hermes.env("COPILOT_GITHUB_TOKEN", "ANTHROPIC_API_KEY")
    backups = [rec("anthropic_api", "claude-sonnet-4.6"), rec("github-copilot", "claude-sonnet-4.6")]
    apply_recommendation(rec("openai-codex", "gpt-5.5"), fallbacks=backups)
    result = resolve(hermes_python, hermes)
    got = [
        (f["entry"]["provider"], f["entry"]["model"], f["runtime"]["provider"], f["runtime"]["source"])
        for f in result["fallbacks"]
    ]
    assert got == [
        ("anthropic-api", "claude-sonnet-4-6", "custom", "custom_provider:anthropic-api"),
        ("copilot", "claude-sonnet-4.6", "copilot", "env:COPILOT_GITHUB_TOKEN"),
    ]


def test_anthropic_api_key_beats_claude_login_as_caveat_says(hermes_python: str, hermes: HermesHome) -> None:
    """With ANTHROPIC_API_KEY visible, provider anthropic bills the key (no config setting changes it); the
    caveat says so, and CLAUDE_CODE_OAUTH_TOKEN in $HERMES_HOME/.env restores a subscription credential."""
    hermes.write_config(CORPUS / "indent2.yaml")
    hermes.claude_login()
    hermes.env("ANTHROPIC_API_KEY")
    apply_recommendation(rec("claude_code", "claude-sonnet-4.6"))
    assert _rt(resolve(hermes_python, hermes))[3] == "env:ANTHROPIC_API_KEY"
    assert claude_code_caveat() is not None and "ANTHROPIC_API_KEY" in claude_code_caveat()  # type: ignore[operator]
    (hermes.dir / ".env").write_text("CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-FAKEsetupTOKEN\n")
    assert claude_code_caveat() is None
    assert _rt(resolve(hermes_python, hermes))[3] == "env:CLAUDE_CODE_OAUTH_TOKEN"


def test_codex_without_hermes_login_is_excluded(hermes_python: str, hermes: HermesHome) -> None:
    """Without Hermes' own auth.json, Hermes cannot resolve openai-codex; bhoga excludes it and refuses it."""
    hermes.write_config(b"model:\n  default: gpt-5.5\n  provider: openai-codex\n")
    hermes.env()
    result = resolve(hermes_python, hermes)
    assert result["runtime"].get("error") == "AuthError"
    assert "openai-codex" in hermes_exclusions()
    with pytest.raises(HermesConfigError, match="hermes auth"):
        apply_recommendation(rec("openai-codex", "gpt-5.5"))


def test_write_auxiliary_tasks_resolve(hermes_python: str, hermes: HermesHome) -> None:
    """With write_auxiliary, every auxiliary task in the file resolves to the new route in Hermes, and a task
    model the provider cannot serve is dropped for the provider's default."""
    hermes.write_config(CORPUS / "indent2.yaml")
    hermes.claude_login()
    hermes.env("COPILOT_GITHUB_TOKEN")
    apply_recommendation(rec("github-copilot", "claude-sonnet-4-6"), write_auxiliary=True)
    result = resolve(hermes_python, hermes)
    tasks = {t: (a["provider"], a["model"], a["runtime"]["provider"]) for t, a in result["aux"].items()}
    assert tasks == {
        "compression": ("copilot", "gemini-3-flash-preview", "copilot"),
        "vision": ("copilot", "gpt-4.1-mini", "copilot"),
    }
    hermes.env("OPENAI_API_KEY")
    hermes.codex_login()
    apply_recommendation(rec("openai-codex", "gpt-5.5"), write_auxiliary=True)
    result = resolve(hermes_python, hermes)
    tasks = {t: (a["provider"], a["model"], a["runtime"]["source"]) for t, a in result["aux"].items()}
    assert tasks == {
        "compression": ("openai-codex", None, "device_code"),
        "vision": ("openai-codex", "gpt-4.1-mini", "device_code"),
    }


@pytest.mark.parametrize(
    ("pid", "model", "env", "expected", "api_model"),
    CASES,
    ids=["claude_code", "anthropic_api", "openai-codex", "openai-api", "openrouter", "copilot"],
)
def test_every_route_resolves_in_every_verified_version(
    hermes_version: tuple[str, str],
    hermes: HermesHome,
    pid: str,
    model: str,
    env: tuple[str, ...],
    expected: tuple[Any, ...],
    api_model: str,
) -> None:
    """hermes-agent 0.17.0, 0.18.2 and 0.19.0 each resolve every route bhoga writes to the intended endpoint."""
    version, python = hermes_version
    hermes.write_config(CORPUS / "indent2.yaml")
    hermes.claude_login()
    hermes.codex_login()
    hermes.env(*env)
    assert apply_recommendation(rec(pid, model)) is True
    result = resolve(python, hermes, version)
    assert _rt(result) == expected, version
    assert result["api_model"] == api_model, version
    aux = result["aux_compression"]
    assert aux["runtime"]["provider"] == expected[0] and aux["runtime"]["source"] == expected[3], version
