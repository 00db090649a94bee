"""What to write into Hermes' config for a recommendation (HERMES.md §7, verified with Hermes 0.19's resolver).

`model.provider`, `model.default`, `model.base_url` and `model.api_mode` change as one unit on every flip:
the keys a route needs are written, the others deleted, so no value of the previous provider survives (a
stale `base_url` sends an OpenAI key to OpenRouter, a stale `api_mode` picks the wrong transport).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from bhoga._providers import PROVIDERS, Endpoint, Provider, hermes_aliases, model_family, provider, spell
from bhoga._record import record
from bhoga.errors import HermesConfigError
from bhoga.hermes._home import HermesFacts

# Specs are built only when Hermes' config is written; `_splice` (with the YAML reader) loads then, not for
# `bhoga status`'s caveat.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from bhoga.hermes._splice import Spec, SpecValue

__all__ = [
    "Route",
    "bills",
    "build_spec",
    "caveat",
    "exclusions",
    "route_for",
]

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


@record
class Route:
    """The Hermes side of one bhoga provider for one model."""

    pid: str
    provider: str
    model: str
    base_url: str | None = None
    api_mode: str | None = None
    entry: tuple[tuple[str, str], ...] = ()
    """Keys of `providers.<provider>` this route needs (the anthropic_api route)."""
    endpoint: Endpoint | None = None
    """The registry's endpoint this route writes."""


def _login_problem(login: str, p: Provider, facts: HermesFacts) -> str | None:
    """Why Hermes cannot use an endpoint that relies on `login`, or None."""
    if login == "claude_login":
        if facts.claude_login is False and not any(facts.has(k) for k in p.keys):
            return (
                "Hermes reads the Claude Code login only from ~/.claude/.credentials.json (it ignores "
                "CLAUDE_CONFIG_DIR) and there is none"
            )
    elif login.startswith("hermes_auth:"):
        name = login.split(":", 1)[1]
        if name not in facts.auth_logins:
            return (
                f"Hermes is not logged in to {name} ({facts.home / 'auth.json'}); run `hermes auth` "
                "(a login of the provider's own CLI alone is not enough)"
            )
    elif login == "gh_cli" and facts.classic_github_token:
        return "the GitHub token Hermes would use is a classic ghp_ token, which Copilot rejects"
    return None


def _missing_keys(keys: Sequence[str]) -> str:
    if len(keys) == 1:
        return f"{keys[0]} is not set for Hermes (shell or $HERMES_HOME/.env)"
    if len(keys) == 2:
        return f"neither {keys[0]} nor {keys[1]} is set for Hermes"
    return f"none of {', '.join(keys)} is set for Hermes"


def _endpoint(p: Provider, facts: HermesFacts) -> Endpoint | str:
    """The first endpoint of `p` Hermes can use, or why there is none."""
    problems: list[str] = []
    for e in p.endpoints:
        if e.login is None:
            if any(facts.has(k) for k in e.bills):
                return e
            continue
        if (problem := _login_problem(e.login, p, facts)) is None:
            return e
        problems.append(problem)
    if problems:
        return problems[0]
    return _missing_keys([k for e in p.endpoints for k in e.bills])


def exclusions(facts: HermesFacts) -> dict[str, str]:
    """Providers Hermes cannot use right now → the one-line reason."""
    return {pid: got for pid, p in PROVIDERS.items() if isinstance(got := _endpoint(p, facts), str)}


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
        p = provider(pid)
    except ValueError as exc:
        raise HermesConfigError(str(exc)) from None
    e = _endpoint(p, facts)
    if isinstance(e, str):
        raise HermesConfigError(f"{pid} cannot be used by Hermes: {e}")
    return Route(pid, e.provider, spell(e.names or p.names, model), e.base_url, e.api_mode, e.entry, e)


# Hermes provider names (and aliases) whose model names are the vendors' public ids, so another of these
# routes can serve the same model. A task model from any other catalog (LM Studio, NVIDIA NIM, opencode,
# Ollama, a custom endpoint) is that catalog's own name and is never carried to a new provider.
_OTHER_PUBLIC = ("openrouter",)
"""Hermes providers bhoga does not write whose catalogs also use the vendors' public names."""


def _catalogs() -> dict[str, frozenset[str]]:
    """Each Hermes provider bhoga writes (or that uses public names) → the model families it serves."""
    out: dict[str, frozenset[str]] = dict.fromkeys(_OTHER_PUBLIC, frozenset({"anthropic", "openai", "google"}))
    for p in PROVIDERS.values():
        for e in p.endpoints:
            serves = e.serves or ((p.family,) if p.family != "any" else ("anthropic", "openai", "google"))
            out[e.provider] = frozenset(serves)
    return out


_VENDORS = {"anthropic", "openai", "google"}
_OPEN_WEIGHTS = re.compile(r"(?i)gpt-oss|-oss\b")


def _hermes_name(provider_name: object) -> str:
    name = str(provider_name or "").strip().lower()
    return hermes_aliases(tasks=True).get(name, name)


def _serves(route: Route, model: str, source: str) -> bool:
    """Whether `route` serves the task model `model`, named in the catalog of Hermes provider `source`."""
    catalogs = _catalogs()
    if source not in catalogs and source not in ("", "auto", "main"):
        return False
    name = model.strip()
    if "/" in name and name.split("/", 1)[0].lower() not in _VENDORS:
        return False  # another vendor's id (deepseek/, qwen/, nvidia/ ...): only its own catalogs know it
    if _OPEN_WEIGHTS.search(name):
        return False
    return model_family(name) in catalogs.get(route.provider, frozenset())


def _task_spec(route: Route, task: Mapping[str, Any] | None, main: str) -> Spec | None:
    """Point one auxiliary task at the route; None for a task with its own credentials (the user's endpoint).

    `main` is the Hermes provider the file routed to before (what a task on `auto`/`main` used)."""
    from bhoga.hermes._splice import DELETE  # noqa: PLC0415

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
            spec["model"] = _spell(route, model)
        else:
            spec["model"] = DELETE
    return spec


def _entry_spec(entry: tuple[tuple[str, str], ...]) -> Spec:
    from bhoga.hermes._splice import DELETE  # noqa: PLC0415

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


def _spell(route: Route, model: str) -> str:
    """`model` as `route`'s Hermes provider names it."""
    e = route.endpoint
    p = provider(route.pid)
    return spell(e.names or p.names if e is not None else p.names, model)


def _key_env(route: Route) -> str | None:
    """The one variable a keyed route bills (its `key_env`); None for a route that uses a login."""
    e = route.endpoint
    return e.bills[0] if e is not None and e.login is None and e.bills else None


def bills(route: Route, facts: HermesFacts) -> str:
    """The credential Hermes bills on `route`: a variable name, or the login it uses (never a value).

    `provider: anthropic` bills ANTHROPIC_API_KEY whenever Hermes sees that key and no Claude OAuth token
    (the caveat), so that route is then the API key, not the subscription.
    """
    e = route.endpoint
    if e is None:
        return route.provider
    if (key := _key_env(route)) is not None:
        return key
    return next((n for n in e.bills if facts.has(n)), e.login or route.provider)


def _fallback_entry(route: Route) -> dict[str, str]:
    entry = {"provider": route.provider, "model": route.model}
    if route.base_url:
        entry["base_url"] = route.base_url
    if (key := _key_env(route)) is not None:
        # Say which key this entry bills; a subscription entry has none and uses its login.
        entry["key_env"] = key
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
    from bhoga.hermes._splice import DELETE  # noqa: PLC0415

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
