"""`bhoga doctor`'s Hermes checks (`_hermes`, run by `bhoga.cli._doctor.run_checks`): the config file (present, a
regular file, YAML bhoga can edit, a provider and api_mode Hermes 0.19 knows, writable), the logins Hermes has of
its own, the Claude Code caveat and the bhoga plugin.

Read-only like every doctor check, and printing no secret: the Hermes facts come from `bhoga.hermes`.
"""

from __future__ import annotations

import os
from pathlib import Path

from bhoga._providers import PROVIDERS, hermes_to_pid
from bhoga.cli._doctor import Check
from bhoga.errors import BhogaError

_API_MODES = ("chat_completions", "codex_responses", "anthropic_messages", "bedrock_converse", "codex_app_server")
"""Hermes 0.19's `runtime_provider._VALID_API_MODES`; any other value is silently dropped by Hermes."""
# Hermes 0.19's PROVIDER_REGISTRY keys and `resolve_provider` aliases (read from hermes_cli/auth.py), plus the
# names it resolves without the registry. A `providers:` entry or a `custom:` name is a custom endpoint.
_PROVIDER_NAMES = (
    "alibaba alibaba-coding-plan anthropic arcee azure-foundry bedrock copilot copilot-acp deep-infra deepinfra "
    "deepinfra-ai deepseek fireworks fireworks-ai fw gemini gmi huggingface kilocode kimi-coding kimi-coding-cn "
    "lmstudio minimax minimax-cn minimax-oauth nous novita novita-ai novitaai nvidia ollama-cloud openai-api "
    "openai-codex opencode-go opencode-zen qwen-oauth solar stepfun tencent-tokenhub upstage xai xai-oauth xiaomi "
    "zai openrouter custom auto moa "
    "glm z-ai z.ai zhipu google google-gemini google-ai-studio x-ai x.ai grok x-ai-oauth grok-oauth xai-grok-oauth "
    "kimi kimi-for-coding moonshot kimi-cn moonshot-cn step stepfun-coding-plan arcee-ai arceeai gmi-cloud gmicloud "
    "minimax-china minimax_cn minimax-portal minimax-global minimax_oauth alibaba_coding alibaba-coding "
    "alibaba_coding_plan claude claude-code github github-copilot github-models github-model github-copilot-acp "
    "copilot-acp-agent opencode zen qwen-portal qwen-cli hf hugging-face huggingface-hub mimo xiaomi-mimo tencent "
    "tokenhub tencent-cloud tencentmaas aws aws-bedrock amazon-bedrock amazon go opencode-go-sub kilo kilo-code "
    "kilo-gateway lm-studio lm_studio ollama vllm llamacpp llama.cpp llama-cpp ollama_cloud codex"
)
_HERMES_PROVIDERS = frozenset(_PROVIDER_NAMES.split())


def _hermes_file(path: Path) -> list[Check]:
    """The Hermes config itself: present, a regular file, YAML bhoga can edit, a provider and api_mode Hermes
    knows, writable. Each problem is named with its fix; only a sound file is called writable."""
    from bhoga.hermes import config_problem, read_hermes_route  # noqa: PLC0415

    backup = path.with_name(path.name + ".bhoga.bak")
    restore = f"cp {backup} {path}" if backup.is_file() else "hermes setup"
    if not path.exists():
        return [Check("Hermes config", False, f"{path} does not exist", "hermes setup")]
    if path.is_dir():
        return [
            Check("Hermes config", False, f"{path} is a directory, not a file", f"mv {path} {path}.dir && hermes setup")
        ]
    if not path.is_file():
        return [Check("Hermes config", False, f"{path} is not a regular file", f"rm {path} && hermes setup")]
    try:
        problem = config_problem(path)
    except BhogaError as exc:  # the writer raises for YAML no reader accepts
        problem = str(exc)
    if problem is not None:
        what = "has a duplicate key" if "duplicate" in problem.lower() else "is not YAML bhoga can edit"
        return [Check("Hermes config", False, f"{path} {what}: {problem}", f"edit {path} (or: {restore})")]
    try:
        route = read_hermes_route(path)
    except BhogaError as exc:
        return [Check("Hermes config", False, str(exc), f"edit {path} (or: {restore})")]
    checks: list[Check] = []
    provider = (route.provider or "").strip() if route else ""
    if not provider:
        checks.append(Check("Hermes provider", False, f"{path} has no model.provider", "hermes model"))
    elif not _known_provider(provider, path):
        checks.append(
            Check(
                "Hermes provider",
                False,
                f"model.provider {provider!r} in {path} is not a provider Hermes 0.19 knows",
                "hermes model  # or name a providers: entry (a plugin's provider: ignore this)",
            )
        )
    api_mode = route.api_mode if route else None
    if api_mode is not None and api_mode not in _API_MODES:
        checks.append(
            Check(
                "Hermes api_mode",
                False,
                f"model.api_mode {api_mode!r} in {path} is not one Hermes accepts (it silently ignores it)",
                f"remove model.api_mode from {path}, or use one of: {', '.join(_API_MODES)}",
            )
        )
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    fix = "" if writable else f"chmod u+w {path} {path.parent}"
    checks.append(Check("Hermes config writable", writable, str(path), fix))
    return checks


def _known_provider(name: str, path: Path) -> bool:
    low = name.lower()
    if low in _HERMES_PROVIDERS or low.startswith("custom:") or hermes_to_pid(low) is not None:
        return True
    from bhoga.hermes import _atomic  # noqa: PLC0415
    from bhoga.hermes._apply import _parse  # noqa: PLC0415
    from bhoga.hermes._yamldoc import to_data  # noqa: PLC0415

    try:
        current = _atomic.read_file(Path(os.path.realpath(path)))
        data = to_data(_parse(current[0], current[1].sha256, path).root) if current is not None else None
    except BhogaError:
        return True  # the YAML check above reports the file
    entries = data.get("providers") if isinstance(data, dict) else None
    return isinstance(entries, dict) and name in entries


def _hermes(found: set[str]) -> list[Check]:
    from bhoga.hermes import hermes_config_path  # noqa: PLC0415

    try:
        path = hermes_config_path()
    except BhogaError as exc:
        return [Check("Hermes config", False, str(exc), "hermes profile use default")]
    checks = _hermes_file(path)
    try:
        checks.extend(_hermes_logins(path, found))
    except BhogaError as exc:
        if not any(c.ok is False for c in checks):  # the file problem above already says it
            checks.append(Check("Hermes config", False, str(exc), f"edit {path}"))
    return checks


def _hermes_logins(path: Path, found: set[str]) -> list[Check]:
    from bhoga.hermes import claude_code_caveat, hermes_exclusions  # noqa: PLC0415

    checks: list[Check] = []
    excluded = hermes_exclusions()
    # Providers Hermes reaches only with a login of its own auth store (openai-codex): `hermes auth` fixes them.
    own = {p.id: e.auth for p in PROVIDERS.values() for e in p.endpoints[:1] if e.auth}
    for pid, name in own.items():
        why = excluded.get(pid)
        checks.append(
            Check(
                f"Hermes logged in to {name}",
                # only a problem for someone who uses it: bhoga found a login of its own that Hermes lacks
                True if why is None else (False if pid in found else None),
                "yes" if why is None else why,
                "" if why is None else "hermes auth",
            )
        )
    for pid, why in excluded.items():
        if pid not in own and pid in found:  # bhoga sees a login that Hermes does not
            checks.append(Check(f"Hermes can use {pid}", None, why))
    if (warning := claude_code_caveat()) is not None:
        checks.append(Check("Claude Code route", None, warning))
    if path.is_file():
        checks.append(_hermes_plugin())
    return checks


def _hermes_plugin() -> Check:
    from bhoga.hermes._plugin_files import plugin_state  # noqa: PLC0415

    state = plugin_state()
    fix = "bhoga hermes-plugin enable"
    if state.files == "foreign":
        return Check("Hermes plugin", False, f"{state.directory} holds a plugin bhoga did not write", "")
    if state.disabled:
        return Check("Hermes plugin", False, f"plugins.disabled in {state.config} lists bhoga", f"edit {state.config}")
    if state.files == "current" and state.enabled:
        return Check("Hermes plugin", True, f"enabled: Hermes reports every model call ({state.directory})")
    if state.enabled and state.files == "absent":
        return Check("Hermes plugin", False, f"listed in plugins.enabled but {state.directory} is missing", fix)
    if state.files == "outdated" and state.enabled:
        return Check("Hermes plugin", False, "written by another bhoga version or for another socket", fix)
    # Optional: without it, a limit Hermes hits reaches bhogad only at the next discovery pass.
    return Check("Hermes plugin", None, "not enabled: Hermes' own 429s reach bhogad only at the next discovery", fix)
