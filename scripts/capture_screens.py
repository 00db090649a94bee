"""Capture `bhoga status`, `status --watch` and `history` as a person sees them, into docs/screens/.

Runs everything for real in a throw-away HOME: a state file with readings of different ages, a real bhogad, and
the views inside tmux at 80x24. Writes plain text (`*.txt`) and the same with colour codes (`*.ansi`, view with
`cat` or `less -R`). Needs tmux. Usage: `python scripts/capture_screens.py`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screens"
BIN = Path(sys.executable).parent
NOW = datetime.now(UTC)


def _w(name: str, used: float, resets: timedelta | None, seen: timedelta, minutes: int, src: str = "oauth") -> dict:
    return {
        "name": name,
        "pct_used": used,
        "resets_at": (NOW + resets).isoformat() if resets else None,
        "scope": "*",
        "source": src,
        "window_min": minutes,
        "observed_at": (NOW - seen).isoformat(),
    }


def _p(windows: list[dict], *, credential: bool = True, note: str = "") -> dict:
    return {"credential": credential, "credential_observed_at": NOW.isoformat(), "extra": {}, "note": note,
            "throttle_observed_at": None, "throttled_until": None, "updated_at": NOW.isoformat(),
            "windows": windows}  # fmt: skip


def _state() -> dict:
    m = timedelta(minutes=1)
    return {
        "version": 1,
        "providers": {
            "claude_code": _p(
                [
                    _w("burst", 36, timedelta(hours=2, minutes=13), 2 * m, 300),
                    _w("weekly", 58, timedelta(days=3, hours=4), 2 * m, 10080),
                ]
            ),
            "openai-codex": _p(
                [_w("burst", 81, timedelta(minutes=47), 1 * m, 300), _w("weekly", 40, timedelta(days=5), m, 10080)]
            ),
            "github-copilot": _p([_w("monthly", 58, timedelta(days=11), timedelta(hours=3), 43200)]),
            "anthropic_api": _p([]),
            "openai_api": _p([], credential=False, note="OPENAI_API_KEY / OPENROUTER_API_KEY not set"),
        },
    }


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", "bhoga-screens", *args], capture_output=True, text=True, check=True).stdout


def _capture(name: str) -> None:
    (OUT / f"{name}.txt").write_text(_tmux("capture-pane", "-p", "-t", "s").rstrip() + "\n")
    (OUT / f"{name}.ansi").write_text(_tmux("capture-pane", "-p", "-e", "-t", "s").rstrip() + "\n")


def _run_in_tmux(env: dict[str, str], command: str) -> None:
    exports = " ".join(f"{k}={json.dumps(v)}" for k, v in env.items() if k.startswith(("BHOGA", "XDG", "HOME")))
    _tmux("new-session", "-d", "-s", "s", "-x", "80", "-y", "24", f"env {exports} {command}; sleep 600")


def main() -> int:
    if shutil.which("tmux") is None:
        print("tmux is needed", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        run = Path(tmp) / "run"
        run.mkdir(mode=0o700)
        (home / ".cache" / "bhoga").mkdir(parents=True)
        (home / ".cache" / "bhoga" / "state.json").write_text(json.dumps(_state()))
        claude = home / ".claude"
        claude.mkdir()
        oauth = {
            "accessToken": "FAKE-SCREENSHOT",
            "refreshToken": "FAKE-SCREENSHOT-R",
            "subscriptionType": "max",
            "expiresAt": int((time.time() + 86400) * 1000),
            "scopes": ["user:inference", "user:profile"],
        }
        (claude / ".credentials.json").write_text(json.dumps({"claudeAiOauth": oauth}))
        hermes = home / ".hermes"
        hermes.mkdir()
        (hermes / "config.yaml").write_text("model:\n  default: claude-opus-4.6\n  provider: anthropic\n")
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(run),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "BHOGA_OFFLINE": "1",
            "ANTHROPIC_API_KEY": "sk-ant-api03-SCREENSHOT-FAKE",
            "TERM": "xterm-256color",
        }
        daemon = subprocess.Popen([str(BIN / "bhogad")], env=env, stderr=subprocess.DEVNULL)
        try:
            sock = run / "bhoga" / "bhogad.sock"
            for _ in range(200):
                if sock.exists():
                    break
                time.sleep(0.05)
            time.sleep(1.5)
            _run_in_tmux(env, f"{BIN / 'bhoga'} status")
            time.sleep(2)
            _capture("status")
            _tmux("kill-session", "-t", "s")
            _run_in_tmux(env, f"{BIN / 'bhoga'} status --watch")
            time.sleep(4)
            _capture("status-watch-1")
            subprocess.run([str(BIN / "bhoga"), "set-quota", "claude_code", "4"], env=env, check=True,
                           capture_output=True)  # fmt: skip
            time.sleep(3)
            _capture("status-watch-2")
            _tmux("kill-session", "-t", "s")
            if (BIN / "bhoga").exists() and "history" in subprocess.run(
                [str(BIN / "bhoga"), "--help"], capture_output=True, text=True, env=env
            ).stdout:
                _run_in_tmux(env, f"{BIN / 'bhoga'} history")
                time.sleep(2)
                _capture("history")
                _tmux("kill-session", "-t", "s")
        finally:
            subprocess.run(["tmux", "-L", "bhoga-screens", "kill-server"], capture_output=True)
            daemon.terminate()
            daemon.wait(10)
    print(f"wrote {', '.join(sorted(p.name for p in OUT.iterdir()))} in {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
