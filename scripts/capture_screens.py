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


def _history(cache: Path) -> None:
    """A day of readings in the history file's own format, and the flips bhogad would have logged with them."""
    lines = []
    t, used, reset = NOW - timedelta(days=1), 5.0, NOW - timedelta(days=1) + timedelta(hours=5)
    while t < NOW:
        if t >= reset:
            used, reset = 0.0, reset + timedelta(hours=5)
        busy = 9 <= t.astimezone().hour <= 19
        used = min(100.0, used + (2.6 if busy else 0.4))
        lines.append(
            {"p": "claude_code", "w": "burst", "t": t.timestamp(), "u": round(used, 1), "r": reset.timestamp()}
        )
        week = 40 + 18 * (1 - (NOW - t) / timedelta(days=1))
        lines.append({"p": "claude_code", "w": "weekly", "t": t.timestamp(), "u": round(week, 1), "r": None})
        codex = 10 + 71 * (1 - (NOW - t) / timedelta(hours=4)) if NOW - t < timedelta(hours=4) else 3.0
        lines.append({"p": "openai-codex", "w": "burst", "t": t.timestamp(), "u": round(codex, 1), "r": None})
        t += timedelta(minutes=15)
    (cache / "state-history.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    flips = [
        (NOW - timedelta(hours=9, minutes=40), "anthropic_api", "claude_code 5h window 3% < reserve 10%"),
        (NOW - timedelta(hours=8, minutes=55), "claude_code", "claude_code 100% left in 5h window, resets in 5h"),
    ]
    (cache / "flips.jsonl").write_text(
        "".join(
            json.dumps({"t": at.timestamp(), "model": "claude-opus-4.6", "to": to, "why": why}) + "\n"
            for at, to, why in flips
        )
    )


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", "bhoga-screens", *args], capture_output=True, text=True, check=True).stdout


def _capture(name: str) -> None:
    for suffix, flags in ((".txt", ["-p"]), (".ansi", ["-p", "-e"])):
        lines = _tmux("capture-pane", *flags, "-t", "s").rstrip().split("\n")
        if lines and "bash" in lines[-1] and lines[-1].rstrip().endswith(("#", "$", "# \x1b[0m")):
            lines.pop()  # the shell's prompt after the command, not part of the view
        (OUT / f"{name}{suffix}").write_text("\n".join(lines).rstrip() + "\n")


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
        _history(home / ".cache" / "bhoga")
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
                _tmux("new-session", "-d", "-s", "s", "-x", "80", "-y", "60", "bash --norc")
                exports = " ".join(
                    f"{k}={json.dumps(v)}" for k, v in env.items() if k.startswith(("BHOGA", "XDG", "HOME"))
                )
                _tmux("send-keys", "-t", "s", f"clear; env {exports} {BIN / 'bhoga'} history", "Enter")
                time.sleep(4)
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
