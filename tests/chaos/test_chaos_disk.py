"""A full disk while writing Hermes' config: a clear error, and the old file byte-identical."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FULL_DISK = """
import resource, signal, sys
from bhoga import ProviderStatus, RouterRecommendation
from bhoga.errors import BhogaError
from bhoga.hermes import apply_recommendation
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
rec = RouterRecommendation("openai_api", "gpt-5.4", -1.0, ProviderStatus.UNKNOWN, "gpt-5.4", 2, "test")
size = len(open(sys.argv[1], "rb").read())
resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, size // 2))
try:
    apply_recommendation(rec, config_path=sys.argv[1])
except BhogaError as e:
    print("error:", e)
"""

CONFIG = "# my settings\nmodel:\n  default: claude-opus-4  # by hand\n  provider: anthropic\n" + "".join(
    f"# comment line {i} that makes the file a few kilobytes long\n" for i in range(200)
)


def test_full_disk_leaves_hermes_config_intact(home: Path) -> None:
    """With writes capped below the file's size (RLIMIT_FSIZE), applying a route fails with a one-line
    HermesConfigError naming the file, and the config and its directory are as they were."""
    hermes = home / ".hermes"
    hermes.mkdir()
    cfg = hermes / "config.yaml"
    cfg.write_text(CONFIG)
    (hermes / "config.yaml.bhoga.bak").write_text(CONFIG)  # the first-write backup already exists
    # No bytecode writes: under the file-size cap a first import would leave truncated .pyc files behind.
    env = {
        "HOME": str(home),
        "OPENAI_API_KEY": "sk-fake-full-disk",
        "PATH": "/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    p = subprocess.run([sys.executable, "-c", FULL_DISK, str(cfg)], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("error:") and str(cfg) in p.stdout and p.stdout.count("\n") == 1
    assert "Traceback" not in p.stderr
    assert cfg.read_text() == CONFIG
    assert sorted(x.name for x in hermes.iterdir()) == ["config.yaml", "config.yaml.bhoga.bak", "config.yaml.lock"]
