"""Issue 13, class 3: an auxiliary task's model is carried to the new provider only when that provider serves
the model's family and the name comes from a public catalog; otherwise the task uses the provider's default.
Checked on the file and with Hermes 0.19.0's own auxiliary resolver."""

from __future__ import annotations

from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from bhoga.hermes import apply_recommendation
from tests.fixtures_hermes import ROUTES, HermesHome, hermes, rec
from tests.fixtures_resolver import hermes_python, resolve

__all__ = ["hermes", "hermes_python"]

# Tasks on LM Studio, NVIDIA NIM, opencode and Ollama name models in those catalogs only.
LOCAL_TASKS = """\
model:
  default: deepseek-v4-pro
  provider: opencode-go
auxiliary:
  compression:
    provider: opencode-go
    model: deepseek-v4-flash
  vision:
    provider: lmstudio
    model: qwen/qwen3-vl-8b
  web_extract:
    provider: nvidia
    model: nvidia/llama-3.3-nemotron-super-49b-v1
  title_generation:
    provider: lmstudio
    model: openai/gpt-oss-20b
  approval:
    provider: opencode-zen
    model: kimi-k2
  skills_hub:
    provider: auto
    model: glm-4.6
  curator:
    provider: custom
    base_url: http://localhost:11434/v1
    model: llama3.2:3b
"""

PUBLIC_TASKS = """\
model:
  default: claude-opus-4-6
  provider: anthropic
auxiliary:
  compression:
    provider: auto
    model: claude-haiku-4-5
  vision:
    provider: openrouter
    model: google/gemini-3-flash-preview
  title_generation:
    provider: copilot
    model: gpt-5-mini
"""

# (route label) -> what each PUBLIC task's model becomes (None: the provider's default, the key removed)
PUBLIC_EXPECTED: dict[str, dict[str, str | None]] = {
    "claude_code": {"compression": "claude-haiku-4-5", "vision": None, "title_generation": None},
    "anthropic_api": {"compression": "claude-haiku-4-5", "vision": None, "title_generation": None},
    "openai-codex": {"compression": None, "vision": None, "title_generation": "gpt-5-mini"},
    "openai_api": {"compression": None, "vision": None, "title_generation": "gpt-5-mini"},
    "openai_api-openrouter": {
        "compression": "anthropic/claude-haiku-4.5",
        "vision": "google/gemini-3-flash-preview",
        "title_generation": "openai/gpt-5-mini",
    },
    "github-copilot": {
        "compression": "claude-haiku-4.5",
        "vision": "gemini-3-flash-preview",
        "title_generation": "gpt-5-mini",
    },
}


def _tasks(hermes: HermesHome) -> dict[str, Any]:
    data = yaml.safe_load(hermes.config.read_text())
    return dict(data["auxiliary"])


@pytest.mark.parametrize(("label", "pid", "model", "env"), ROUTES, ids=[r[0] for r in ROUTES])
def test_compression_model_from_opencode_is_not_carried(
    hermes: HermesHome, label: str, pid: str, model: str, env: tuple[str, ...]
) -> None:
    """`deepseek-v4-flash` on opencode-go never becomes `openai/deepseek-v4-flash` or a Copilot name: the
    compression task uses the new provider's default."""
    hermes.everything(*env)
    hermes.write_config(LOCAL_TASKS)
    apply_recommendation(rec(pid, model))
    compression = _tasks(hermes)["compression"]
    assert "model" not in compression, compression
    assert compression["provider"] not in ("opencode-go", "auto")


@pytest.mark.parametrize(("label", "pid", "model", "env"), ROUTES, ids=[r[0] for r in ROUTES])
def test_aux_local_catalog_models_fall_back_to_the_provider_default(
    hermes: HermesHome, label: str, pid: str, model: str, env: tuple[str, ...]
) -> None:
    """With --aux (write_auxiliary), every LM Studio, NVIDIA and opencode task model is dropped for the
    provider's default; a task with its own endpoint and no key is pointed at the route too."""
    hermes.everything(*env)
    hermes.write_config(LOCAL_TASKS)
    apply_recommendation(rec(pid, model), write_auxiliary=True)
    tasks = _tasks(hermes)
    for name, task in tasks.items():
        assert "model" not in task, (name, task)
        assert "base_url" not in task, (name, task)
    assert len({t["provider"] for t in tasks.values()}) == 1


@pytest.mark.parametrize(("label", "pid", "model", "env"), ROUTES, ids=[r[0] for r in ROUTES])
def test_aux_public_models_carried_only_where_served(
    hermes: HermesHome, label: str, pid: str, model: str, env: tuple[str, ...]
) -> None:
    """A public-catalog task model stays (in the new provider's spelling) only where that provider serves it."""
    hermes.everything(*env)
    hermes.write_config(PUBLIC_TASKS)
    apply_recommendation(rec(pid, model), write_auxiliary=True)
    got = {name: task.get("model") for name, task in _tasks(hermes).items()}
    assert got == PUBLIC_EXPECTED[label]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_hermes_resolves_dropped_task_models_to_the_provider(hermes_python: str, hermes: HermesHome) -> None:
    """In Hermes 0.19.0 every rewritten task resolves to the route's provider with no foreign model name."""
    hermes.everything("COPILOT_GITHUB_TOKEN")
    hermes.write_config(LOCAL_TASKS)
    apply_recommendation(rec("github-copilot", "claude-sonnet-4.6"), write_auxiliary=True)
    result = resolve(hermes_python, hermes)
    for task, entry in result["aux"].items():
        assert entry["provider"] == "copilot" and entry["model"] is None, (task, entry)
        assert entry["runtime"]["source"] == "env:COPILOT_GITHUB_TOKEN", (task, entry)
