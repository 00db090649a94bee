"""The provider table (DESIGN §2): the one place that says what each provider is.

Every other module reads `PROVIDERS`, `hierarchy()`, `model_family()` and `to_hermes_model()` from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "PROVIDERS",
    "Kind",
    "Provider",
    "hierarchy",
    "model_family",
    "provider",
    "to_hermes_model",
]


class Kind(StrEnum):
    """How a provider is paid for, which decides how its quota is ranked."""

    SUBSCRIPTION = "subscription"
    METERED = "metered"


@dataclass(frozen=True, slots=True)
class Provider:
    """One row of the provider table."""

    id: str
    kind: Kind
    family: str
    """"anthropic", "openai" or "any" (Copilot serves every family)."""
    priority: int
    hermes_provider: str
    """Hermes' `model.provider` for the usual route; the Hermes writer refines it (openrouter, providers.*)."""
    credential: str
    """What Hermes relies on, in words, for status and doctor output."""
    label: str


PROVIDERS: dict[str, Provider] = {
    p.id: p
    for p in (
        Provider(
            "claude_code",
            Kind.SUBSCRIPTION,
            "anthropic",
            1,
            "anthropic",
            "Claude Code login (~/.claude/.credentials.json or the macOS Keychain)",
            "Claude Code plan",
        ),
        Provider("anthropic_api", Kind.METERED, "anthropic", 2, "anthropic", "ANTHROPIC_API_KEY", "Anthropic API"),
        Provider(
            "openai-codex",
            Kind.SUBSCRIPTION,
            "openai",
            1,
            "openai-codex",
            "Hermes' own openai-codex login ($HERMES_HOME/auth.json)",
            "ChatGPT plan (Codex)",
        ),
        Provider(
            "openai_api", Kind.METERED, "openai", 2, "openai-api", "OPENAI_API_KEY, or OPENROUTER_API_KEY", "OpenAI API"
        ),
        Provider(
            "github-copilot",
            Kind.SUBSCRIPTION,
            "any",
            3,
            "copilot",
            "COPILOT_GITHUB_TOKEN, GH_TOKEN or GITHUB_TOKEN (not a classic ghp_ token)",
            "GitHub Copilot",
        ),
    )
}

_HIERARCHIES: dict[str, tuple[str, ...]] = {
    "anthropic": ("claude_code", "anthropic_api", "github-copilot"),
    "openai": ("openai-codex", "openai_api", "github-copilot"),
    "google": ("github-copilot",),
    "other": ("github-copilot",),
}

_FAMILY_PREFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("anthropic", ("claude", "opus", "sonnet", "haiku")),
    ("openai", ("gpt", "o1", "o3", "o4", "codex", "chatgpt")),
    ("google", ("gemini",)),
)
_VENDOR = {"anthropic": "anthropic", "openai": "openai", "google": "google"}
# "claude-sonnet-4.6" / "claude-sonnet-4-6": a version made of digit groups at the end of the name.
_DOTTED_VERSION = re.compile(r"(?<=\d)\.(?=\d)")
_HYPHEN_VERSION = re.compile(r"(?<=-\d)-(?=\d{1,2}$)")


def provider(pid: str) -> Provider:
    """The table row for `pid`; `ValueError` naming the valid ids when there is none."""
    try:
        return PROVIDERS[pid]
    except KeyError:
        raise ValueError(f"unknown provider {pid!r}; choose one of: {', '.join(PROVIDERS)}") from None


def model_family(model: str) -> str:
    """The family of a model name: "anthropic", "openai", "google" or "other"."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    for family, prefixes in _FAMILY_PREFIXES:
        if name.startswith(prefixes):
            return family
    return "other"


def hierarchy(model: str) -> tuple[str, ...]:
    """The providers that can serve `model`, in priority order."""
    return _HIERARCHIES[model_family(model)]


def _bare(model: str) -> str:
    return model.strip().rsplit("/", 1)[-1]


def to_hermes_model(pid: str, model: str, *, openrouter: bool = False) -> str:
    """The model name Hermes should send when `pid` serves `model`.

    Anthropic wants hyphens (`claude-sonnet-4-6`), Copilot a dotted version (`claude-sonnet-4.6`), OpenRouter a
    `vendor/model` id, and the OpenAI routes the bare name with dots kept. `openrouter=True` is the
    `openai_api` route through an OpenRouter key.
    """
    provider(pid)
    bare = _bare(model)
    if pid in ("claude_code", "anthropic_api"):
        return _DOTTED_VERSION.sub("-", bare)
    if pid == "github-copilot":
        return _HYPHEN_VERSION.sub(".", bare) if model_family(bare) == "anthropic" else bare
    if openrouter:
        if "/" in model.strip():
            return model.strip()
        vendor = _VENDOR.get(model_family(bare), "openai")
        if vendor == "anthropic":
            bare = _HYPHEN_VERSION.sub(".", bare)
        return f"{vendor}/{bare}"
    return bare
