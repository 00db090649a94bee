"""The one set of writers for provider files in the temporary HOME (Claude Code's login and usage cache,
Codex's login and rollouts), fake CLI scripts, and the fake secrets every test greps its captured output for.
Every test that plants such a file uses these, so a format change is made once.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "discovery"
H3, D4 = timedelta(hours=3), timedelta(days=4)

CLAUDE_TOKEN = "sk-ant-oat01-TESTSECRETclaudeACCESS0123456789abcdef"
CLAUDE_REFRESH = "sk-ant-ort01-TESTSECRETclaudeREFRESH0123456789abcdef"
CODEX_REFRESH = "rt_TESTSECRETcodexREFRESH0123456789"
COPILOT_TOKEN = "gho_TESTSECRETcopilot0123456789abcdefABCD"
CLASSIC_PAT = "ghp_TESTSECRETclassic0123456789abcdefABCD"
API_KEY = "sk-proj-TESTSECRETapikey0123456789abcdef"


def codex_access_token(exp: float) -> str:
    """A JWT-shaped fake access token whose payload carries `exp` and the ChatGPT claims."""
    import base64

    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    claims = {
        "exp": int(exp),
        "https://api.openai.com/auth": {"chatgpt_account_id": "acc-1", "chatgpt_plan_type": "pro"},
    }
    return f"{b64({'alg': 'none'})}.{b64(claims)}.TESTSECRETsig"


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def data_json(name: str) -> Any:
    return json.loads(data(name))


def secrets() -> list[str]:
    """Every fake secret a test may plant; none may appear in logs, output or bhoga's files."""
    return [CLAUDE_TOKEN, CLAUDE_REFRESH, CODEX_REFRESH, COPILOT_TOKEN, CLASSIC_PAT, API_KEY, "TESTSECRET"]


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for s in secrets():
            assert s not in text, f"secret {s[:12]}… leaked"


def assert_no_secrets_in_files(root: Path, *, skip: tuple[Path, ...] = ()) -> None:
    """No fake secret in any file under `root` except the credential files the test planted."""
    for p in root.rglob("*"):
        if p.is_file() and p not in skip:
            assert_no_secrets(p.read_bytes().decode("utf-8", "replace"))


def write_claude_credentials(
    home: Path,
    *,
    token: str = CLAUDE_TOKEN,
    refresh: str | None = CLAUDE_REFRESH,
    expires_in: float = 3600.0,
    scopes: list[str] | None = None,
    path: Path | None = None,
) -> Path:
    """Claude Code's login (`~/.claude/.credentials.json`, or `path`), replaced atomically the way Claude Code
    writes it, so a watcher never sees half a file."""
    oauth: dict[str, Any] = {"accessToken": token}
    if refresh is not None:
        oauth["refreshToken"] = refresh
    oauth |= {
        "expiresAt": int((time.time() + expires_in) * 1000),
        "scopes": scopes if scopes is not None else ["user:inference", "user:profile"],
        "subscriptionType": "max",
        "rateLimitTier": "default_claude_max_20x",
    }
    path = path or home / ".claude" / ".credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(json.dumps({"claudeAiOauth": oauth}))
    os.replace(tmp, path)
    return path


def write_claude_json(
    home: Path, usage: Any, *, age: float = 60.0, account: str | None = "acc-a1", cache_account: str | None = "acc-a1"
) -> Path:
    doc: dict[str, Any] = {"numStartups": 3}
    if account is not None:
        doc["oauthAccount"] = {"accountUuid": account}
    cache: dict[str, Any] = {"fetchedAtMs": int((time.time() - age) * 1000), "utilization": usage}
    if cache_account is not None:
        cache["accountUuid"] = cache_account
    doc["cachedUsageUtilization"] = cache
    path = home / ".claude.json"
    path.write_text(json.dumps(doc))
    return path


def write_codex_auth(home: Path, *, expires_in: float = 3600.0) -> Path:
    auth = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": "x.y.z",
            "access_token": codex_access_token(time.time() + expires_in),
            "refresh_token": CODEX_REFRESH,
            "account_id": "acc-1",
        },
        "last_refresh": "2026-11-25T20:10:02Z",
    }
    path = home / ".codex" / "auth.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(auth))
    return path


def write_rollout(home: Path, day: str, name: str, lines: list[Any], *, mtime: float | None = None) -> Path:
    """A rollout file under sessions/YYYY/MM/DD (`day` "2026/11/25"), replaced atomically so a watcher never
    reads half of it; dict lines are JSON-encoded."""
    d = home / ".codex" / "sessions" / day
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"rollout-{name}.jsonl"
    tmp = path.with_name("." + path.name)
    tmp.write_bytes(b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines))
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    os.replace(tmp, path)
    return path


def write_codex_usage(home: Path, used_5h: float, used_week: float = 10.0, *, name: str = "a") -> Path:
    """Today's Codex rollout whose newest token_count says the 5 h window is `used_5h` percent used now."""
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    limits = {
        "limit_id": "codex",
        "primary": {"used_percent": used_5h, "window_minutes": 300, "resets_at": int((now + H3).timestamp())},
        "secondary": {"used_percent": used_week, "window_minutes": 10080, "resets_at": int((now + D4).timestamp())},
    }
    return write_rollout(
        home, now.strftime("%Y/%m/%d"), f"{now:%Y-%m-%dT%H-%M-%S}-{name}", [token_count_line(stamp, limits)]
    )


def token_count_line(ts: str, rate_limits: dict[str, Any]) -> dict[str, Any]:
    return {
        "timestamp": ts,
        "type": "event_msg",
        "payload": {"type": "token_count", "info": None, "rate_limits": rate_limits},
    }


def write_exe(bin_dir: Path, name: str, python_body: str) -> Path:
    """A Python script `name` in `bin_dir` run by this interpreter (no shell involved)."""
    path = bin_dir / name
    path.write_text(f"#!{sys.executable}\n{python_body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path
