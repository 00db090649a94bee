"""What to write into Hermes' config for a recommendation (HERMES.md §7, verified with Hermes 0.19's resolver).

`model.provider`, `model.default`, `model.base_url` and `model.api_mode` change as one unit on every flip:
the keys a route needs are written, the others deleted, so no value of the previous provider survives (a
stale `base_url` sends an OpenAI key to OpenRouter, a stale `api_mode` picks the wrong transport).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bhoga._providers import model_family, provider, to_hermes_model
from bhoga.errors import HermesConfigError
from bhoga.hermes._home import HermesFacts
from bhoga.hermes._splice import DELETE, Spec, SpecValue

__all__ = [
    "ANTHROPIC_API_ENTRY",
    "Route",
    "bills",
    "build_spec",
    "caveat",
    "exclusions",
    "route_for",
]

ANTHROPIC_URL = "https://api.anthropic.com"
OPENROUTER_URL = "https://openrouter.ai/api/v1"
ANTHROPIC_API_ENTRY = "anthropic-api"
"""A `providers:` entry name; a built-in id (`anthropic`) would never be treated as a custom endpoint."""
# A model section's keys that only make sense for the endpoint they were written for. `api_base` is Hermes'
# alias of `base_url` (0.19 `_normalize_root_model_keys` fills an empty `base_url` from it).
_ENDPOINT_KEYS = ("base_url", "api_base", "api_mode", "api_key", "api", "key_env", "api_key_env")
# Root-level keys Hermes moves into an empty `model.base_url` on load: left behind, they send the route's key
# to the old endpoint (a route that deletes `model.base_url` leaves it empty).
_ROOT_ENDPOINT_KEYS = ("base_url", "api_base")
# Keys of bhoga's own `providers.anthropic-api` entry Hermes prefers over `base_url`/`key_env` (`api`, `url`),
# or falls back to (`api_key`, `key_cmd`), or that switch it off (`enabled`), or name its transport.
_ENTRY_STALE_KEYS = ("api", "url", "api_key", "key_cmd", "transport", "enabled")
_TASK_CREDENTIAL_KEYS = ("api_key", "key_env", "api_key_env")


@dataclass(frozen=True, slots=True)
class Route:
    """The Hermes side of one bhoga provider for one model."""

    pid: str
    provider: str
    model: str
    base_url: str | None = None
    api_mode: str | None = None
    entry: tuple[tuple[str, str], ...] = ()
    """Keys of `providers.<provider>` this route needs (the anthropic_api route)."""


def exclusions(facts: HermesFacts) -> dict[str, str]:
    """Providers Hermes cannot use right now → the one-line reason."""
    out: dict[str, str] = {}
    if facts.claude_login is False and not (facts.has("ANTHROPIC_TOKEN") or facts.has("CLAUDE_CODE_OAUTH_TOKEN")):
        out["claude_code"] = (
            "Hermes reads the Claude Code login only from ~/.claude/.credentials.json (it ignores "
            "CLAUDE_CONFIG_DIR) and there is none"
        )
    if not facts.codex_login:
        out["openai-codex"] = (
            f"Hermes is not logged in to openai-codex ({facts.home / 'auth.json'}); run `hermes auth` "
            "(a Codex CLI login alone is not enough)"
        )
    if not facts.has("ANTHROPIC_API_KEY"):
        out["anthropic_api"] = "ANTHROPIC_API_KEY is not set for Hermes (shell or $HERMES_HOME/.env)"
    if not facts.has("OPENAI_API_KEY") and not facts.has("OPENROUTER_API_KEY"):
        out["openai_api"] = "neither OPENAI_API_KEY nor OPENROUTER_API_KEY is set for Hermes"
    if facts.classic_github_token:
        out["github-copilot"] = "the GitHub token Hermes would use is a classic ghp_ token, which Copilot rejects"
    return out


def caveat(facts: HermesFacts) -> str | None:
    """The ANTHROPIC_API_KEY precedence warning for the claude_code route, when it applies."""
    if not facts.has("ANTHROPIC_API_KEY") or facts.has("ANTHROPIC_TOKEN") or facts.has("CLAUDE_CODE_OAUTH_TOKEN"):
        return None
    return (
        "ANTHROPIC_API_KEY is visible to Hermes, so Hermes 0.19 bills it instead of the Claude Code login for "
        "provider anthropic (the claude_code route), and no config.yaml setting changes that. To use the "
        "subscription, put CLAUDE_CODE_OAUTH_TOKEN (from `claude setup-token`) in $HERMES_HOME/.env, or "
        "remove ANTHROPIC_API_KEY from Hermes' environment"
    )


def route_for(pid: str, model: str, facts: HermesFacts) -> Route:
    """The route for bhoga provider `pid` serving `model`; `HermesConfigError` when Hermes cannot use it."""
    try:
        provider(pid)
    except ValueError as e:
        raise HermesConfigError(str(e)) from None
    if (reason := exclusions(facts).get(pid)) is not None:
        raise HermesConfigError(f"{pid} cannot be used by Hermes: {reason}")
    if pid == "claude_code":
        return Route(pid, "anthropic", to_hermes_model(pid, model))
    if pid == "anthropic_api":
        entry = (("base_url", ANTHROPIC_URL), ("key_env", "ANTHROPIC_API_KEY"), ("api_mode", "anthropic_messages"))
        return Route(pid, ANTHROPIC_API_ENTRY, to_hermes_model(pid, model), entry=entry)
    if pid == "openai-codex":
        return Route(pid, "openai-codex", to_hermes_model(pid, model))
    if pid == "openai_api":
        if facts.has("OPENAI_API_KEY"):
            return Route(pid, "openai-api", to_hermes_model(pid, model))
        return Route(
            pid, "openrouter", to_hermes_model(pid, model, openrouter=True), OPENROUTER_URL, "chat_completions"
        )
    return Route(pid, "copilot", to_hermes_model(pid, model))


# Hermes provider names (and aliases) whose model names are the vendors' public ids, so another of these
# routes can serve the same model. A task model from any other catalog (LM Studio, NVIDIA NIM, opencode,
# Ollama, a custom endpoint) is that catalog's own name and is never carried to a new provider.
_ALIASES = {
    "claude": "anthropic",
    "claude-code": "anthropic",
    "custom:anthropic-api": ANTHROPIC_API_ENTRY,
    "codex": "openai-codex",
    "github": "copilot",
    "github-copilot": "copilot",
    "github-models": "copilot",
    "openai": "openai-api",
}
_PUBLIC_CATALOGS = frozenset({"anthropic", ANTHROPIC_API_ENTRY, "openai-codex", "openai-api", "copilot", "openrouter"})
# The model families each route's provider serves (HERMES.md §5; Copilot's catalog has no open-weights models).
_SERVES = {
    "anthropic": {"anthropic"},
    ANTHROPIC_API_ENTRY: {"anthropic"},
    "openai-codex": {"openai"},
    "openai-api": {"openai"},
    "copilot": {"anthropic", "openai", "google"},
    "openrouter": {"anthropic", "openai", "google"},
}
_VENDORS = {"anthropic", "openai", "google"}
_OPEN_WEIGHTS = re.compile(r"(?i)gpt-oss|-oss\b")


def _hermes_name(provider_name: object) -> str:
    name = str(provider_name or "").strip().lower()
    return _ALIASES.get(name, name)


def _serves(route: Route, model: str, source: str) -> bool:
    """Whether `route` serves the task model `model`, named in the catalog of Hermes provider `source`."""
    if source not in _PUBLIC_CATALOGS and source not in ("", "auto", "main"):
        return False
    name = model.strip()
    if "/" in name and name.split("/", 1)[0].lower() not in _VENDORS:
        return False  # another vendor's id (deepseek/, qwen/, nvidia/ ...): only its own catalogs know it
    if _OPEN_WEIGHTS.search(name):
        return False
    return model_family(name) in _SERVES.get(route.provider, set())


def _task_spec(route: Route, task: Mapping[str, Any] | None, main: str) -> Spec | None:
    """Point one auxiliary task at the route; None for a task with its own credentials (the user's endpoint).

    `main` is the Hermes provider the file routed to before (what a task on `auto`/`main` used)."""
    task = task if isinstance(task, Mapping) else {}
    if any(task.get(k) for k in _TASK_CREDENTIAL_KEYS):
        return None
    spec: Spec = {"provider": route.provider, "base_url": DELETE, "api_mode": DELETE}
    model = task.get("model")
    if isinstance(model, str) and model.strip() and model.strip().lower() != "auto":
        source = _hermes_name(task.get("provider"))
        if source == route.provider:
            return spec  # the task already names its model in this provider's catalog
        source = main if source in ("", "auto", "main") else source
        if _serves(route, model, source):
            # Keep the user's (cheap) task model when the new provider serves it; else the provider's default.
            spec["model"] = to_hermes_model(route.pid, model, openrouter=route.provider == "openrouter")
        else:
            spec["model"] = DELETE
    return spec


def _entry_spec(entry: tuple[tuple[str, str], ...]) -> Spec:
    spec: Spec = dict.fromkeys(_ENTRY_STALE_KEYS, DELETE)
    spec.update(entry)
    return spec


def _check_entry_names(data: Mapping[str, Any], entries: Mapping[str, Any]) -> None:
    """Refuse when another `providers:` entry carries bhoga's entry name as its `name`: Hermes matches entries
    by key or display name in file order, so that entry's endpoint would get the route's key."""
    providers = data.get("providers")
    if not isinstance(providers, Mapping):
        return
    for key, entry in providers.items():
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if key in entries or not isinstance(name, str):
            continue
        norm = name.strip().lower().replace(" ", "-")
        if norm in entries:
            raise HermesConfigError(
                f"providers.{key} is named {name!r}, so Hermes could send the {norm} route's key to its endpoint; "
                "rename it (file left unchanged)"
            )


_KEY_OF = {"anthropic-api": "ANTHROPIC_API_KEY", "openai-api": "OPENAI_API_KEY", "openrouter": "OPENROUTER_API_KEY"}


def bills(route: Route, facts: HermesFacts) -> str:
    """The credential Hermes bills on `route`: a variable name, or the login it uses (never a value).

    `provider: anthropic` bills ANTHROPIC_API_KEY whenever Hermes sees that key and no Claude OAuth token
    (the caveat), so that route is then the API key, not the subscription.
    """
    if route.provider in _KEY_OF:
        return _KEY_OF[route.provider]
    if route.pid == "claude_code":
        for name in ("ANTHROPIC_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_API_KEY"):
            if facts.has(name):
                return name
        return "claude_login"
    if route.pid == "github-copilot":
        return next((n for n in ("COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN") if facts.has(n)), "gh_cli")
    return "hermes_auth:openai-codex" if route.pid == "openai-codex" else route.provider


def _fallback_entry(route: Route) -> dict[str, str]:
    entry = {"provider": route.provider, "model": route.model}
    if route.base_url:
        entry["base_url"] = route.base_url
    if route.provider in _KEY_OF:
        # Say which key this entry bills; a subscription entry has none and uses its login.
        entry["key_env"] = _KEY_OF[route.provider]
    return entry


def build_spec(
    route: Route,
    data: Mapping[str, Any],
    *,
    write_auxiliary: bool = False,
    fallbacks: Sequence[Route] = (),
    write_fallbacks: bool = False,
) -> Spec:
    """The change spec for `route` given the file's current data (`to_data` of its tree)."""
    model: Spec = {"default": route.model, "provider": route.provider}
    for key in _ENDPOINT_KEYS:
        model[key] = DELETE
    if route.base_url:
        model["base_url"] = route.base_url
    if route.api_mode:
        model["api_mode"] = route.api_mode
    spec: Spec = {"model": model}
    for key in _ROOT_ENDPOINT_KEYS:
        spec[key] = DELETE
    entries = {r.provider: r.entry for r in (route, *fallbacks) if r.entry}
    if entries:
        _check_entry_names(data, entries)
        spec["providers"] = {name: _entry_spec(entry) for name, entry in entries.items()}
    aux = data.get("auxiliary")
    aux = aux if isinstance(aux, Mapping) else {}
    tasks = ["compression"]
    if write_auxiliary:
        tasks += [t for t, v in aux.items() if t != "compression" and isinstance(v, Mapping)]
    aux_spec: Spec = {}
    old_model = data.get("model")
    main = _hermes_name(old_model.get("provider") if isinstance(old_model, Mapping) else "")
    for task in tasks:
        task_spec = _task_spec(route, aux.get(task), main)
        if task_spec is not None:
            aux_spec[task] = task_spec
    if aux_spec:
        spec["auxiliary"] = aux_spec
    legacy = data.get("compression")
    if isinstance(legacy, Mapping) and "summary_provider" in legacy:
        # Ignored by Hermes 0.19 but kept in step, so the file does not contradict itself.
        spec["compression"] = {"summary_provider": route.provider}
    if write_fallbacks:
        seq: SpecValue = [_fallback_entry(r) for r in fallbacks]
        spec["fallback_providers"] = seq
    return spec
