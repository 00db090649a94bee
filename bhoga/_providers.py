"""The provider registry (DESIGN §2): the one place that says what each provider is.

A provider is one `Provider` entry: how it is paid for, which models it serves, which variables Hermes reads
for it (its environment or `$HERMES_HOME/.env`) and which logins of Hermes' auth store count, the Hermes
provider ids bhoga writes for it and every alias Hermes resolves to them, and the discovery module that reads
its quota (and names the files bhogad watches for it). Discovery, ranking, `status`, `doctor`, the Hermes
writer, the Hermes plugin and bhogad read this table; nothing else names a provider. Pure data: no I/O.

Account identity stays out of ids and keys here (DESIGN §8.9): a provider may later carry several accounts.
"""

from __future__ import annotations

# Endpoint and Provider are also named from here (`__all__`): bhoga.hermes and the doctor import them with the table.
from bhoga._provider_entry import Endpoint, Kind, ModelNames, Provider

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "FAMILIES",
    "FAMILY_HEAD",
    "PROVIDERS",
    "Endpoint",
    "Provider",
    "credential_vars",
    "hermes_aliases",
    "hermes_to_pid",
    "model_family",
    "provider",
    "spell",
    "to_hermes_model",
]


_ANTHROPIC_URL = "https://api.anthropic.com"
_OPENROUTER_URL = "https://openrouter.ai/api/v1"
_CLAUDE_TOKENS = ("ANTHROPIC_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
_GITHUB_TOKENS = ("COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN")

PROVIDERS: dict[str, Provider] = {
    p.id: p
    for p in (
        Provider(
            "claude_code",
            Kind.SUBSCRIPTION,
            "anthropic",
            1,
            "Claude Code plan",
            # Hermes bills ANTHROPIC_API_KEY over the login on `provider: anthropic` (the caveat).
            (
                Endpoint(
                    "anthropic", ("ANTHROPIC_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_API_KEY"), "claude_login"
                ),
            ),
            ModelNames.HYPHENATED,
            keys=_CLAUDE_TOKENS,
            aliases=(("claude", "anthropic"), ("claude-code", "anthropic")),
            discovery="bhoga.discovery.claude",
            refresh_fix="claude  # start Claude Code once; it refreshes its own login",
            rejected_fix="claude  # start Claude Code once so it refreshes its own login, or /login",
        ),
        Provider(
            "anthropic_api",
            Kind.METERED,
            "anthropic",
            2,
            "Anthropic API",
            # A `providers:` entry name: a built-in id (`anthropic`) would never be treated as a custom endpoint.
            (
                Endpoint(
                    "anthropic-api",
                    ("ANTHROPIC_API_KEY",),
                    entry=(
                        ("base_url", _ANTHROPIC_URL),
                        ("key_env", "ANTHROPIC_API_KEY"),
                        ("api_mode", "anthropic_messages"),
                    ),
                ),
            ),
            ModelNames.HYPHENATED,
            keys=("ANTHROPIC_API_KEY",),
            aliases=(("custom:anthropic-api", "anthropic-api"),),
            hosts=("api.anthropic.com",),
            quota_windows=("budget", "budget_weekly"),
            rejected_fix="put a valid ANTHROPIC_API_KEY in $HERMES_HOME/.env",
        ),
        Provider(
            "openai-codex",
            Kind.SUBSCRIPTION,
            "openai",
            1,
            "ChatGPT plan (Codex)",
            (Endpoint("openai-codex", login="hermes_auth:openai-codex"),),
            hermes_auth=("openai-codex",),
            aliases=(("codex", "openai-codex"),),
            hosts=("chatgpt.com",),
            discovery="bhoga.discovery.codex",
            refresh_fix="codex login",
            rejected_fix="codex login  (and `hermes auth` for Hermes' own login)",
        ),
        Provider(
            "openai_api",
            Kind.METERED,
            "openai",
            2,
            "OpenAI API",
            (
                Endpoint("openai-api", ("OPENAI_API_KEY",)),
                Endpoint(
                    "openrouter",
                    ("OPENROUTER_API_KEY",),
                    base_url=_OPENROUTER_URL,
                    api_mode="chat_completions",
                    names=ModelNames.VENDOR,
                    serves=("anthropic", "openai", "google"),
                ),
            ),
            keys=("OPENAI_API_KEY", "OPENROUTER_API_KEY"),
            task_aliases=(("openai", "openai-api"),),
            hosts=("api.openai.com", "openrouter.ai"),
            quota_windows=("budget", "budget_weekly"),
            rejected_fix="put a valid OPENAI_API_KEY (or OPENROUTER_API_KEY) in $HERMES_HOME/.env",
        ),
        Provider(
            "github-copilot",
            Kind.SUBSCRIPTION,
            "any",
            3,
            "GitHub Copilot",
            (Endpoint("copilot", _GITHUB_TOKENS, "gh_cli", serves=("anthropic", "openai", "google")),),
            ModelNames.COPILOT,
            keys=_GITHUB_TOKENS,
            hermes_auth=("copilot", "github-copilot"),
            aliases=(("github", "copilot"), ("github-copilot", "copilot"), ("github-models", "copilot")),
            counts=("copilot-acp",),
            hosts=("githubcopilot.com",),
            discovery="bhoga.discovery.copilot",
            needs_verification=True,
            quota_windows=("monthly", "weekly"),
            rejected_fix="export COPILOT_GITHUB_TOKEN=$(gh auth token)  # a token with a Copilot seat",
        ),
    )
}

FAMILIES = ("anthropic", "openai", "google", "other")
_FAMILY_PREFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("anthropic", ("claude", "opus", "sonnet", "haiku")),
    ("openai", ("gpt", "o1", "o3", "o4", "codex", "chatgpt")),
    ("google", ("gemini",)),
)
_VENDOR = {"anthropic": "anthropic", "openai": "openai", "google": "google"}


def provider(pid: str) -> Provider:
    """The registry entry for `pid`; `ValueError` naming the valid ids when there is none."""
    try:
        return PROVIDERS[pid]
    except KeyError:
        raise ValueError(f"unknown provider {pid!r}; choose one of: {', '.join(PROVIDERS)}") from None


FAMILY_HEAD = max(len(p) for _, prefixes in _FAMILY_PREFIXES for p in prefixes)
"""The family of a name with no vendor part ("/") and no leading whitespace is that of its first `FAMILY_HEAD`
characters (the longest prefix): `claude-sonnet-5` and `claude-opus-4` are one family, found once."""


def model_family(model: str) -> str:
    """The family of a model name: "anthropic", "openai", "google" or "other"."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    for family, prefixes in _FAMILY_PREFIXES:
        if name.startswith(prefixes):
            return family
    return "other"


def _hermes_names() -> Iterator[tuple[str, str, bool]]:
    """(Hermes provider name, bhoga pid, whether bhoga may write it) for every name the registry knows."""
    for p in PROVIDERS.values():
        for e in p.endpoints:
            yield e.provider, p.id, True
        for alias, _ in p.aliases:
            yield alias, p.id, True
        for name in p.counts:
            yield name, p.id, False


def hermes_to_pid(name: str | None, *, counted: bool = False) -> str | None:
    """The bhoga provider a Hermes `model.provider` value (or alias) means; None for one bhoga does not route.

    `counted` also maps the Hermes providers that merely spend a provider's quota (`copilot-acp`)."""
    low = (name or "").strip().lower()
    return next((pid for n, pid, ours in _hermes_names() if n == low and (ours or counted)), None)


def hermes_aliases(*, tasks: bool = False) -> dict[str, str]:
    """Alias → the Hermes provider it resolves to; `tasks` adds the names only `auxiliary.*` accepts."""
    out: dict[str, str] = {}
    for p in PROVIDERS.values():
        out.update(p.aliases)
        if tasks:
            out.update(p.task_aliases)
    return out


def credential_vars() -> tuple[str, ...]:
    """Every variable Hermes reads for some provider, once each."""
    names = (n for p in PROVIDERS.values() for n in (*p.keys, *(b for e in p.endpoints for b in e.bills)))
    return tuple(dict.fromkeys(names))


# "claude-sonnet-4.6" / "claude-sonnet-4-6": a version made of digit groups at the end of the name. Spelled out
# rather than as regular expressions: `re` costs ~3 ms of `import bhoga` (the tests hold both to the same answers).
def _hyphenated(name: str) -> str:
    r"""Each dot between two digits a hyphen (`re.sub(r"(?<=\d)\.(?=\d)", "-", name)`)."""
    head, *rest = name.split(".")
    for part in rest:
        head += ("-" if head[-1:].isdecimal() and part[:1].isdecimal() else ".") + part
    return head


def _dotted(name: str) -> str:
    r"""A hyphen after "-<digit>" before 1-2 final digits a dot (`re.sub(r"(?<=-\d)-(?=\d{1,2}$)", ".", name)`)."""
    head, sep, tail = name.rpartition("-")
    if sep and 0 < len(tail) <= 2 and tail.isdecimal() and head[-1:].isdecimal() and head[-2:-1] == "-":
        return f"{head}.{tail}"
    return name


def to_hermes_model(pid: str, model: str, *, openrouter: bool = False) -> str:
    """The model name Hermes should send when `pid` serves `model`.

    Anthropic wants hyphens (`claude-sonnet-4-6`), Copilot a dotted version (`claude-sonnet-4.6`), OpenRouter a
    `vendor/model` id, and the OpenAI routes the bare name with dots kept. `openrouter=True` is an aggregator
    endpoint (the `openai_api` route through an OpenRouter key).
    """
    names = provider(pid).names
    return spell(ModelNames.VENDOR if openrouter else names, model)


# `ModelNames.X` looks the member up through the enum's class on every use (~0.1 µs): `spell` is on the path of
# every answer `best_for` builds.
_HYPHENATED = ModelNames.HYPHENATED
_COPILOT = ModelNames.COPILOT
_VENDOR_NAMES = ModelNames.VENDOR


def spell(names: ModelNames, model: str) -> str:
    """`model` as a Hermes provider that spells models `names`-style wants it."""
    bare = model.strip()
    if "/" in bare:  # the name without its vendor part
        bare = bare.rsplit("/", 1)[1]
    if names is _HYPHENATED:
        return _hyphenated(bare) if "." in bare else bare
    if names is _COPILOT:
        return _dotted(bare) if model_family(bare) == "anthropic" else bare
    if names is _VENDOR_NAMES:
        if "/" in model.strip():
            return model.strip()
        vendor = _VENDOR.get(model_family(bare), "openai")
        if vendor == "anthropic":
            bare = _dotted(bare)
        return f"{vendor}/{bare}"
    return bare
