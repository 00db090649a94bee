"""Codex CLI (`openai-codex`) quota discovery, best source first (FORMATS §2):

1. the newest session rollout's last `token_count` event — found by walking `sessions/YYYY/MM/DD` newest
   first (never listing the whole tree) and reading only the file's tail;
2. `GET {BHOGA_CHATGPT_BASE_URL}/wham/usage` with a ChatGPT-mode `auth.json` (tokens read, never refreshed);
3. `codex app-server` JSON-RPC `account/rateLimits/read` (Codex refreshes its own login there);
4. otherwise the newer of a stale rollout value and the last good answer, labelled with its age.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bhoga._model import Observation, QuotaWindow
from bhoga._paths import chatgpt_base_url, codex_home
from bhoga._values import human_duration, retry_after_seconds

from ._common import CredentialFact, Reading, log_failure, read_bytes
from ._gate import AUTH_BLOCKED, DEFAULT_INTERVAL, Gate
from ._hermes_view import hermes_auth_logins
from ._http import USER_AGENT, http_get
from ._proc import jsonrpc_call, which
from .codex_files import newest_rollouts, read_rollout_families, watched
from .codex_parse import (
    MAIN_FAMILY,
    CodexAuth,
    Windows,
    parse_app_server,
    parse_codex_auth,
    parse_rate_limits,
    parse_wham,
)

__all__ = ["credential_fact", "discover", "read_auth", "rollout_windows", "store_mode", "watched", "wham_url"]

log = logging.getLogger(__name__)

PID = "openai-codex"
ROLLOUT_FRESH = timedelta(minutes=15)
"""A rollout value younger than this is used without asking the network (Codex wrote it from headers)."""
APP_SERVER_TIMEOUT = 20.0
_ENDPOINT_KEY = "codex_wham"
"""Gate key shared by the HTTP call and the app-server, which calls the same endpoint itself."""


def read_auth() -> CodexAuth | None:
    """`$CODEX_HOME/auth.json`, or None when it is missing or unreadable."""
    data = read_bytes(codex_home() / "auth.json", limit=1024 * 1024)
    return parse_codex_auth(data) if data else None


def store_mode() -> str:
    """`cli_auth_credentials_store` from config.toml: "file" (default), "keyring" or "auto"."""
    data = read_bytes(codex_home() / "config.toml", limit=1024 * 1024)
    if not data:
        return "file"
    import tomllib  # noqa: PLC0415 - only needed when auth.json is missing

    try:
        value = tomllib.loads(data.decode("utf-8", "replace")).get("cli_auth_credentials_store")
    except tomllib.TOMLDecodeError:
        return "file"
    return value if isinstance(value, str) else "file"


def rollout_windows(sessions: Path | None = None) -> tuple[datetime, Windows] | None:
    """(time of the newest main-family event, its windows) from the newest rollout files; None when none."""
    for path in newest_rollouts(sessions or codex_home() / "sessions"):
        families = read_rollout_families(path)
        if MAIN_FAMILY not in families:
            continue
        windows: list[QuotaWindow] = []
        extra: list[tuple[str, str]] = []
        for when, rl in families.values():
            ws, ex = parse_rate_limits(rl, when)
            windows.extend(w for w in ws if all(w.key != x.key for x in windows))
            extra.extend(e for e in ex if e not in extra)
        return families[MAIN_FAMILY][0], (tuple(windows), tuple(extra))
    return None


def wham_url() -> str:
    """Codex's rule: `{base}/wham/usage` under a `/backend-api` base, else `{base}/api/codex/usage`."""
    base = chatgpt_base_url()
    return f"{base}/wham/usage" if "/backend-api" in base else f"{base}/api/codex/usage"


def _from_wham(gate: Gate, auth: CodexAuth, now: datetime, force: bool, notes: list[str]) -> Windows | str | None:
    marker = f"exp:{auth.expires_at.timestamp() if auth.expires_at else 0:.0f}"
    why = gate.claim(_ENDPOINT_KEY, now, force=force, marker=marker)
    if why is not None:
        log.debug("wham/usage not called: %s", why)
        if why == AUTH_BLOCKED:
            notes.append("stale credentials: Codex login was rejected; run `codex login`")
            return "blocked"
        return None
    headers = {"Authorization": f"Bearer {auth.access_token}", "Accept": "application/json", "User-Agent": USER_AGENT}
    if auth.account_id:
        headers["ChatGPT-Account-Id"] = auth.account_id
    r = http_get(wham_url(), headers)
    obj = r.json() if r.status == 200 else None
    if obj is not None and ("rate_limit" in obj or "plan_type" in obj):
        return parse_wham(obj, now)
    if r.status in (429, 503):
        wait = retry_after_seconds(r.header("retry-after"), now)
        stored = gate.retry_after(_ENDPOINT_KEY, now, DEFAULT_INTERVAL if wait is None else wait)
        log_failure(log, "Codex wham/usage", f"HTTP {r.status}; waiting {stored}s")
        return None
    if r.status in (401, 403):
        gate.auth_failed(_ENDPOINT_KEY, now, marker)
        log_failure(log, "Codex wham/usage", f"HTTP {r.status}: login rejected")
        notes.append("stale credentials: Codex login was rejected; run `codex login`")
        return "rejected"
    log_failure(
        log,
        "Codex wham/usage",
        r.error or (_odd_200(r.json()) if r.status == 200 else f"HTTP {r.status}"),
        auth.access_token,
    )
    return None


def _odd_200(obj: dict[str, Any] | None) -> str:
    return "answer is not a JSON object" if obj is None else "answer has no rate_limit"


def _from_app_server(gate: Gate, now: datetime, force: bool) -> Windows | None:
    exe = which("codex")
    if exe is None:
        return None
    why = gate.claim(_ENDPOINT_KEY, now, force=force, marker="app-server")
    if why is not None:
        log.debug("codex app-server not asked: %s", why)
        return None
    messages: list[dict[str, Any]] = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"clientInfo": {"name": "bhoga", "version": "0.2"}},
        },
        {"jsonrpc": "2.0", "method": "initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "account/rateLimits/read"},
    ]
    answer = jsonrpc_call(
        [exe, "-s", "read-only", "-a", "never", "app-server"], messages, 2, timeout=APP_SERVER_TIMEOUT
    )
    if answer is None:
        return None
    if "error" in answer:
        err = answer["error"] if isinstance(answer["error"], dict) else {}
        log_failure(log, "codex app-server account/rateLimits/read", f"error {err.get('code')}: {err.get('message')}")
        return None
    windows = parse_app_server(answer.get("result"), now)
    return windows if windows[0] else None


def _credential(auth: CodexAuth | None, notes: list[str]) -> bool | None:
    if auth is not None and auth.mode == "chatgpt":
        return True
    if auth is not None and auth.mode == "apikey":
        notes.append("Codex is logged in with an API key: no plan windows")
        return False
    if auth is None and store_mode() in ("keyring", "auto"):
        notes.append("Codex login not readable (kept in the OS keyring)")
        return None
    return False


def discover(gate: Gate, now: datetime, *, force: bool = False, network: bool = True) -> Observation:
    """One observation of the ChatGPT plan as Codex sees it; never raises (a failing source logs one line)."""
    auth = read_auth()
    notes: list[str] = []
    credential = _credential(auth, notes)
    # Hermes routes openai-codex with its own login; the Codex CLI's is where the quota is read.
    sources = tuple(
        s for s, on in (("codex_login", credential is True), ("hermes_auth", PID in hermes_auth_logins())) if on
    )
    r = Reading(PID, now, True if sources else credential, sources, notes=notes)

    def obs(found: Windows, source: str) -> Observation:
        return r.observation(found[0], found[1], source)

    rollout = rollout_windows()
    if rollout is not None and timedelta(0) <= now - rollout[0] <= ROLLOUT_FRESH:
        return obs(rollout[1], "rollout")
    if network:
        try_app, app_force = credential is not False, force
        if auth is not None and auth.mode == "chatgpt":
            if auth.expires_at is not None and auth.expires_at <= now:
                notes.append(
                    f"stale credentials: Codex access token expired {human_duration(now - auth.expires_at)} ago"
                )
            else:
                got = _from_wham(gate, auth, now, force, notes)
                if isinstance(got, tuple):
                    gate.good(PID, now, *got)
                    return obs(got, "wham")
                try_app = got in ("rejected", "blocked")
                app_force = force or got == "rejected"
        if try_app and (app := _from_app_server(gate, now, app_force)) is not None:
            gate.good(PID, now, *app)
            return obs(app, "app-server")
    fallbacks: list[tuple[datetime, Windows, str]] = []
    if rollout is not None:
        fallbacks.append((rollout[0], rollout[1], "rollout"))
    if (lg := gate.last_good(PID)) is not None and lg.windows:
        fallbacks.append((lg.at, (lg.windows, lg.extra), "last-good"))
    if not fallbacks:
        return obs(((), ()), "none")
    at, found, source = max(fallbacks, key=lambda f: f[0])
    notes.append(
        f"{'newest Codex session' if source == 'rollout' else 'last good answer'} is {human_duration(now - at)} old"
    )
    return obs(found, source)


def credential_fact(now: datetime) -> CredentialFact:
    """What `bhoga doctor` says about the Codex CLI login (no token, no network)."""
    auth = read_auth()
    path = codex_home() / "auth.json"
    if auth is None:
        if store_mode() in ("keyring", "auto") and not path.exists():
            return CredentialFact(PID, None, "Codex login kept in the OS keyring (not readable by bhoga)")
        return CredentialFact(PID, False, f"no Codex login in {path}", "run `codex login`")
    if auth.mode == "apikey":
        return CredentialFact(
            PID,
            False,
            f"Codex uses an API key ({path}): no ChatGPT plan windows",
            "run `codex login` to use the ChatGPT plan",
        )
    if auth.mode != "chatgpt":
        return CredentialFact(
            PID, False, f"Codex login mode {auth.mode!r} in {path} is not understood", "run `codex login`"
        )
    plan = f" ({auth.plan} plan)" if auth.plan else ""
    if auth.expires_at is not None and auth.expires_at <= now:
        return CredentialFact(
            PID,
            True,
            f"Codex ChatGPT login in {path}{plan}: access token expired {human_duration(now - auth.expires_at)} ago",
            "run `codex` once so it refreshes its own login",
        )
    return CredentialFact(PID, True, f"Codex ChatGPT login in {path}{plan}")
