"""Issue 13, class 1: no key is ever sent to another provider's host, on every route, as Hermes itself resolves.

Hermes fills an empty `model.base_url` from `model.api_base` or a root-level `base_url`/`api_base`
(`_normalize_root_model_keys`), prefers `providers.<name>.api`/`url` over `base_url`, and falls back to an
inline `api_key`. Each route is written over configs that hold a foreign endpoint in every one of those places,
then every hermes-agent release bhoga is verified against resolves it offline; the credential it would send must
belong to the host it would send it to (main route and auxiliary compression).
"""

from __future__ import annotations

import pytest
import yaml  # type: ignore[import-untyped]

from bhoga.errors import HermesConfigError
from bhoga.hermes import apply_recommendation
from tests.fixtures_hermes import ROUTES, HermesHome, hermes, rec
from tests.fixtures_resolver import FOREIGN, hermes_version, leaks, resolve

__all__ = ["hermes", "hermes_version"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

POISONED = {
    "everywhere": """\
# every place Hermes reads an endpoint or a key from, pointing elsewhere
provider: custom
base_url: http://localhost:8000/v1
api_base: https://api.mistral.ai/v1
model:
  provider: custom
  default: mistral-large-latest
  base_url: ""
  api_base: https://api.mistral.ai/v1
  api_key: ${MISTRAL_API_KEY}
  api: https://api.mistral.ai/v1
  key_env: MISTRAL_API_KEY
providers:
  anthropic-api:
    api: https://api.mistral.ai/v1
    url: http://localhost:8000/v1
    api_key: ${MISTRAL_API_KEY}
    key_env: LOCAL_API_KEY
    enabled: false
auxiliary:
  compression:
    provider: custom
    base_url: http://localhost:8000/v1
    api_mode: chat_completions
    model: local-model
""",
    "model_api_base": """\
model:
  provider: custom
  default: mistral-large-latest
  api_base: https://api.mistral.ai/v1
""",
    "root_base_url_flow": """\
base_url: http://localhost:8000/v1
model: {provider: openrouter, default: qwen/qwen3-coder, api_base: "https://api.mistral.ai/v1"}
""",
    "string_model_root_keys": """\
model: mistral-large-latest
provider: custom
api_base: https://api.mistral.ai/v1
""",
}

HOSTS = {
    "claude_code": "https://api.anthropic.com",
    "anthropic_api": "https://api.anthropic.com",
    "openai-codex": "https://chatgpt.com/backend-api/codex",
    "openai_api": "https://api.openai.com/v1",
    "openai_api-openrouter": "https://openrouter.ai/api/v1",
    "github-copilot": "https://api.githubcopilot.com",
}


@pytest.mark.parametrize("config", sorted(POISONED))
@pytest.mark.parametrize(("label", "pid", "model", "env"), ROUTES, ids=[r[0] for r in ROUTES])
def test_no_key_sent_to_another_host(
    hermes_version: tuple[str, str],
    hermes: HermesHome,
    monkeypatch: pytest.MonkeyPatch,
    config: str,
    label: str,
    pid: str,
    model: str,
    env: tuple[str, ...],
) -> None:
    """After each route is written over foreign endpoints, Hermes sends only that route's key to its host."""
    version, python = hermes_version
    hermes.write_config(POISONED[config])
    hermes.claude_login()
    hermes.codex_login()
    hermes.env(*env)
    for name, value in FOREIGN.items():
        monkeypatch.setenv(name, value)
    assert apply_recommendation(rec(pid, model)) is True
    result = resolve(python, hermes, version)
    runtime = result["runtime"]
    assert "error" not in runtime, (version, runtime)
    assert str(runtime["base_url"]).rstrip("/") == HOSTS[label], (version, runtime)
    assert leaks(runtime) == [], (version, runtime)
    aux = result["aux_compression"]
    assert aux.get("base_url") is None, (version, aux)
    assert leaks(aux.get("runtime") or {}) == [], (version, aux)
    data = yaml.safe_load(hermes.config.read_text())
    assert not {"base_url", "api_base"} & set(data) and "api_base" not in data["model"], data


def test_another_entry_named_like_bhogas_is_refused(hermes: HermesHome) -> None:
    """A `providers:` entry whose display name is `anthropic-api` would take the route's key: refused."""
    hermes.write_config("providers:\n  mistral:\n    name: anthropic-api\n    base_url: https://api.mistral.ai/v1\n")
    hermes.env("ANTHROPIC_API_KEY")
    before = hermes.config.read_bytes()
    with pytest.raises(HermesConfigError, match=r"providers\.mistral is named 'anthropic-api'"):
        apply_recommendation(rec("anthropic_api", "claude-opus-4.6"))
    assert hermes.config.read_bytes() == before
