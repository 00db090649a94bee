"""The provider table, model families and Hermes model names (DESIGN §2)."""

from __future__ import annotations

import pytest

from bhoga import model_family, to_hermes_model
from bhoga._hierarchy import hierarchy
from bhoga._provider_entry import Kind
from bhoga._providers import PROVIDERS, provider


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("claude-sonnet-4.6", "anthropic"),
        ("opus", "anthropic"),
        ("Haiku-3", "anthropic"),
        ("gpt-5.4", "openai"),
        ("o3-mini", "openai"),
        ("o4", "openai"),
        ("codex-mini", "openai"),
        ("openai/gpt-5.4", "openai"),
        ("gemini-2.5-pro", "google"),
        ("llama-3", "other"),
        ("", "other"),
    ],
)
def test_model_family(model: str, family: str) -> None:
    """Families come from the model name's prefix, ignoring a vendor/ prefix and case."""
    assert model_family(model) == family


def test_hierarchies_follow_the_design_table() -> None:
    """Each family's providers are listed in DESIGN §2's order; Copilot serves every family."""
    assert hierarchy("claude-opus-4") == ("claude_code", "anthropic_api", "github-copilot")
    assert hierarchy("gpt-5") == ("openai-codex", "openai_api", "github-copilot")
    assert hierarchy("gemini-2.5") == ("github-copilot",)
    assert hierarchy("mistral") == ("github-copilot",)


@pytest.mark.parametrize(
    ("pid", "model", "expected"),
    [
        ("claude_code", "claude-sonnet-4.6", "claude-sonnet-4-6"),
        ("anthropic_api", "anthropic/claude-opus-4.1", "claude-opus-4-1"),
        ("github-copilot", "claude-sonnet-4-6", "claude-sonnet-4.6"),
        ("github-copilot", "claude-opus-4-1-20250805", "claude-opus-4-1-20250805"),
        ("github-copilot", "gpt-5.4", "gpt-5.4"),
        ("openai-codex", "openai/gpt-5.4", "gpt-5.4"),
        ("openai_api", "gpt-5.4", "gpt-5.4"),
    ],
)
def test_to_hermes_model(pid: str, model: str, expected: str) -> None:
    """Each provider gets the model spelling Hermes sends to it."""
    assert to_hermes_model(pid, model) == expected


def test_openrouter_names_carry_the_vendor() -> None:
    """Through OpenRouter the model is written vendor/model with dots."""
    assert to_hermes_model("openai_api", "gpt-5.4", openrouter=True) == "openai/gpt-5.4"
    assert to_hermes_model("openai_api", "openai/gpt-5.4", openrouter=True) == "openai/gpt-5.4"


def test_unknown_provider_names_the_valid_ones() -> None:
    """An unknown id is a ValueError listing every valid id."""
    with pytest.raises(ValueError, match="claude_code, anthropic_api, openai-codex, openai_api, github-copilot"):
        provider("claude")
    with pytest.raises(ValueError):
        to_hermes_model("nope", "gpt-5")


def test_table_kinds_and_priorities() -> None:
    """Subscriptions and metered APIs are told apart, and priorities match DESIGN §2."""
    assert {p.id: (p.kind, p.priority) for p in PROVIDERS.values()} == {
        "claude_code": (Kind.SUBSCRIPTION, 1),
        "anthropic_api": (Kind.METERED, 2),
        "openai-codex": (Kind.SUBSCRIPTION, 1),
        "openai_api": (Kind.METERED, 2),
        "github-copilot": (Kind.SUBSCRIPTION, 3),
    }
