"""Running the real Hermes resolver (tests/hermes_resolver/probe.py) of each verified hermes-agent release.

scripts/hermes-venv.sh --version V installs hermes-agent==V into its own cached venv (never into bhoga's); the
probe runs there, offline (`unshare -rn` when available), against the test's throwaway HOME and HERMES_HOME, with
an environment built from scratch (no PYTEST_CURRENT_TEST, only the planted fake secrets). A version that cannot
be installed because the package registry is unreachable is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.fixtures_hermes import CLAUDE_ACCESS, FAKE, HermesHome

ROOT = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).parent / "hermes_resolver" / "probe.py"
VERSIONS = ("0.17.0", "0.18.2", "0.19.0")
"""Every hermes-agent release on PyPI that bhoga is verified against (README: Hermes versions)."""
# Captured at import, before the autouse fixture swaps HOME for a temporary one: the venv cache is real.
_REAL_ENV = {k: os.environ[k] for k in ("HOME", "XDG_CACHE_HOME", "BHOGA_HERMES_VENV", "PATH") if k in os.environ}
_pythons: dict[str, str] = {}

# A key that must never reach any host: planted so a leak of "some other" key would show.
FOREIGN = {"MISTRAL_API_KEY": "sk-FAKEmistralKEY0000", "LOCAL_API_KEY": "sk-FAKElocalKEY0000"}
# Which credential may go to which host. Anything else is a key sent to another provider's host.
ALLOWED = {
    "api.anthropic.com": {"ANTHROPIC_API_KEY", "claude_code"},
    "api.openai.com": {"OPENAI_API_KEY"},
    "openrouter.ai": {"OPENROUTER_API_KEY"},
    "api.githubcopilot.com": {"COPILOT_GITHUB_TOKEN"},
    "chatgpt.com": {"device_code"},
}


def hermes_python_for(version: str) -> str:
    """The python of the cached hermes-agent==`version` venv (created on first use)."""
    if version in _pythons:
        return _pythons[version]
    proc = subprocess.run(
        [str(ROOT / "scripts" / "hermes-venv.sh"), "--version", version],
        env=_REAL_ENV,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode == 3:
        pytest.skip(f"hermes-agent=={version} cannot be installed: the package registry cannot be reached")
    assert proc.returncode == 0, proc.stderr[-3000:]
    _pythons[version] = proc.stdout.strip().splitlines()[-1]
    return _pythons[version]


@pytest.fixture(scope="session")
def hermes_python() -> str:
    """The python of the default (newest on PyPI) hermes-agent venv."""
    return hermes_python_for(VERSIONS[-1])


@pytest.fixture(params=VERSIONS, scope="session")
def hermes_version(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(version, python) for each verified hermes-agent release."""
    version = str(request.param)
    return version, hermes_python_for(version)


def _offline_prefix() -> list[str]:
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True, check=False).returncode == 0:
        return [unshare, "-rn"]
    return []


def resolve(python: str, hermes: HermesHome, version: str = VERSIONS[-1]) -> dict[str, Any]:
    """What Hermes resolves the current config to (keys redacted by the probe)."""
    update = {"ts": 9999999999, "behind": 0, "rev": None, "ver": version}
    (hermes.dir / ".update_check").write_text(json.dumps(update))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(hermes.home), "HERMES_HOME": str(hermes.dir), "LANG": "C.UTF-8"}
    env.update({k: os.environ[k] for k in (*FAKE, *FOREIGN) if k in os.environ})
    assert not any(k.startswith("PYTEST") for k in env)
    prefix = _offline_prefix()
    if not prefix:  # no network namespace: point every proxy at a closed port instead
        env.update(dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"), "http://127.0.0.1:9"))
    proc = subprocess.run(
        [*prefix, python, str(PROBE)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for secret in (*FAKE.values(), *FOREIGN.values(), CLAUDE_ACCESS):
        assert secret not in proc.stdout
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def credential(runtime: dict[str, Any]) -> set[str]:
    """Names of the credentials a resolved runtime would send: env variables its key equals, or its source."""
    key = runtime.get("api_key") or {}
    names = set(key.get("same_as_env", ()))
    source = str(runtime.get("source") or "")
    if source in ("claude_code", "device_code"):
        names.add(source)
    elif key and not names:
        names.add(f"unnamed key from {source or 'config'}")
    return names


def leaks(runtime: dict[str, Any]) -> list[str]:
    """Every credential the runtime would send to a host it does not belong to ([] when none)."""
    if "error" in runtime:
        return []
    host = urlsplit(str(runtime.get("base_url") or "")).hostname or "(no host)"
    allowed = ALLOWED.get(host, set())
    return sorted(f"{name} -> {host}" for name in credential(runtime) if name not in allowed)
