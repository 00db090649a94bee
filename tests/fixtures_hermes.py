"""Shared helpers for the Hermes tests: a Hermes home with planted fake credentials, and recommendations."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from bhoga._model import ProviderStatus, RouterRecommendation
from bhoga._providers import provider, to_hermes_model
from tests.discovery_helpers import write_claude_credentials

DATA = Path(__file__).parent / "data" / "hermes"
CORPUS = DATA / "corpus"

# Fake secrets; tests grep outputs and files for them.
FAKE = {
    "ANTHROPIC_API_KEY": "sk-ant-api03-FAKEanthropicKEY0000",
    "OPENAI_API_KEY": "sk-proj-FAKEopenaiKEY0000",
    "OPENROUTER_API_KEY": "sk-or-v1-FAKEopenrouterKEY0000",
    "COPILOT_GITHUB_TOKEN": "gho_FAKEcopilotTOKEN0000",
}
CLAUDE_ACCESS = "sk-ant-oat01-FAKEclaudeACCESS0000"

# (label, bhoga provider, model asked for, environment variables to plant)
ROUTES: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("claude_code", "claude_code", "claude-sonnet-4.6", ()),
    ("anthropic_api", "anthropic_api", "claude-opus-4.6", ("ANTHROPIC_API_KEY",)),
    ("openai-codex", "openai-codex", "gpt-5.5", ()),
    ("openai_api", "openai_api", "gpt-5.5", ("OPENAI_API_KEY", "OPENROUTER_API_KEY")),
    ("openai_api-openrouter", "openai_api", "gpt-5.5", ("OPENROUTER_API_KEY",)),
    ("github-copilot", "github-copilot", "claude-sonnet-4-6", ("COPILOT_GITHUB_TOKEN",)),
]

# A stand-in for Hermes saving its config: read, bump `hermes_counter`, temp file + os.replace, no lock (as Hermes
# does). argv: path, seconds, pause between writes, and optionally `every` and `limit`: after every `every` writes
# it waits until someone else has replaced its last version (a quiet gap that lasts until the other writer got in,
# however loaded the machine), and it stops after `limit` writes. Prints "writes lost"; a lost write is a counter
# that went back.
HERMES_LIKE_WRITER = r"""
import os, re, sys, time
path, seconds, pause = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
every, limit = (int(sys.argv[4]), int(sys.argv[5])) if len(sys.argv) > 5 else (0, -1)
tmp = path + ".hermes-tmp"
last = writes = lost = 0
mine = None
deadline = time.monotonic() + seconds
while time.monotonic() < deadline and writes != limit:
    if every and writes and writes % every == 0:
        while True:
            with open(path) as f:
                if f.read() != mine:
                    break
            time.sleep(pause)
    with open(path) as f:
        text = f.read()
    seen = int(re.search(r"hermes_counter: (\d+)", text).group(1))
    if seen < last:
        lost += 1  # a write of ours was replaced by content read before it: a lost update
    last += 1
    mine = re.sub(r"hermes_counter: \d+", f"hermes_counter: {last}", text)
    with open(tmp, "w") as f:  # Hermes' own writer: temp file + os.replace, no lock
        f.write(mine)
    os.replace(tmp, path)
    writes += 1
    time.sleep(pause)
print(writes, lost)
"""


def rec(pid: str, model: str, *, reason: str = "test") -> RouterRecommendation:
    """A recommendation as the Router builds it."""
    p = provider(pid)
    return RouterRecommendation(pid, model, 0.5, ProviderStatus.OK, to_hermes_model(pid, model), p.priority, reason)


@dataclass
class HermesHome:
    """A ~/.hermes in the test's HOME."""

    home: Path
    dir: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def config(self) -> Path:
        return self.dir / "config.yaml"

    def write_config(self, source: Path | bytes | str) -> Path:
        if isinstance(source, Path):
            shutil.copyfile(source, self.config)
        else:
            self.config.write_bytes(source.encode() if isinstance(source, str) else source)
        self.config.chmod(0o640)
        return self.config

    def claude_login(self) -> None:
        """A Claude Code login that stays valid for the whole test run."""
        write_claude_credentials(
            self.home, token=CLAUDE_ACCESS, refresh="sk-ant-ort01-FAKErefresh", expires_in=365 * 86400.0
        )

    def codex_login(self) -> None:
        shutil.copyfile(DATA / "hermes_auth.openai-codex.json", self.dir / "auth.json")

    def env(self, *names: str) -> None:
        for name in FAKE:
            self.monkeypatch.delenv(name, raising=False)
        for name in names:
            self.monkeypatch.setenv(name, FAKE[name])

    def everything(self, *names: str) -> None:
        """Every login Hermes can have, plus the given environment variables."""
        self.claude_login()
        self.codex_login()
        self.env(*names)


@pytest.fixture
def hermes(home: Path, monkeypatch: pytest.MonkeyPatch) -> HermesHome:
    """A Hermes home (~/.hermes) that exists and is empty."""
    d = home / ".hermes"
    d.mkdir()
    return HermesHome(home, d, monkeypatch)
