"""The Hermes plugin's cost to a Hermes call, measured with Hermes' own `invoke_hook` (hermes-agent 0.19.0).

The plugin is enabled in a throwaway Hermes home and loaded by Hermes' plugin manager; the probe
(tests/hermes_resolver/plugin_probe.py, run in the cached Hermes venv) times `invoke_hook("post_api_request",
...)` and a handled `api_request_error` with the plugin loaded and with no callback registered, and the
difference is the plugin's cost. Measured with a real bhogad listening and with no bhogad at all (dropped).
Target (issue 14): at most 1 ms per call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._util import Row

AREA = "hermes plugin"
ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tests" / "hermes_resolver" / "plugin_probe.py"
_UPDATE_CHECK = '{"ts": 9999999999, "behind": 0, "rev": null, "ver": "0.19.0"}'


def _hermes_python() -> str | None:
    proc = subprocess.run([str(ROOT / "scripts" / "hermes-venv.sh")], capture_output=True, text=True, timeout=900,
                          check=False)  # fmt: skip
    return proc.stdout.strip().splitlines()[-1] if proc.returncode == 0 else None


def _env(root: Path) -> dict[str, str]:
    home = root / "home"
    hermes = home / ".hermes"
    hermes.mkdir(parents=True)
    (root / "run").mkdir(mode=0o700)
    (hermes / "config.yaml").write_text("model:\n  default: claude-sonnet-4-6\n  provider: anthropic\n")
    (hermes / ".update_check").write_text(_UPDATE_CHECK)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BHOGA_", "HERMES_", "PYTEST"))}
    env.update(HOME=str(home), HERMES_HOME=str(hermes), XDG_RUNTIME_DIR=str(root / "run"), BHOGA_OFFLINE="1",
               XDG_CACHE_HOME=str(home / ".cache"), XDG_CONFIG_HOME=str(home / ".config"))  # fmt: skip
    return env


def _probe(python: str, env: dict[str, str]) -> dict[str, list[float]]:
    hermes_env = {k: env[k] for k in ("HOME", "HERMES_HOME", "PATH") if k in env}
    proc = subprocess.run([python, str(PROBE), "bench"], env=hermes_env, capture_output=True, text=True,
                          timeout=600, check=True)  # fmt: skip
    result: dict[str, list[float]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run() -> list[Row]:
    python = _hermes_python()
    if python is None:
        return [Row(AREA, "hermes-agent 0.19.0 venv not available", 0, "", "—", True, "skipped")]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(Path(tmp))
        subprocess.run([sys.executable, "-m", "bhoga", "hermes-plugin", "enable"], env=env, check=True,
                       capture_output=True, timeout=120)  # fmt: skip
        absent = _probe(python, env)
        daemon = subprocess.Popen([sys.executable, "-m", "bhogad"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            sock = Path(tmp) / "run" / "bhoga" / "bhogad.sock"
            for _ in range(600):
                if sock.exists():
                    break
                subprocess.run(["sleep", "0.05"], check=False)
            present = _probe(python, env)
        finally:
            daemon.terminate()
            daemon.wait(30)
    for label, res in (("bhogad running", present), ("no bhogad: dropped", absent)):
        for hook in ("post", "error"):
            with_plugin, without = res[hook]
            extra = max(0.0, with_plugin - without)
            name = "post_api_request" if hook == "post" else "api_request_error (SDK 429 in reach)"
            rows.append(Row(AREA, f"{name}, added per call ({label})", extra * 1e6, "µs", "<= 1 ms", extra <= 1e-3))
    return rows
