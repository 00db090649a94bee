"""Claude Code (`claude_code`) quota discovery, best source first (FORMATS §1, §5):

1. `cachedUsageUtilization` in `.claude.json` while fresh by Claude Code's own rule (account match, ≤ 1 h);
2. `GET {BHOGA_ANTHROPIC_BASE_URL}/api/oauth/usage` with the token from `.credentials.json` or the macOS
   Keychain, at most once per interval, honouring `retry-after`;
3. `claude -p "/usage"` when no usable token was found (Claude refreshes its own login; bhoga never does);
4. otherwise the newer of the last good answer and a stale cache, labelled with its age.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
from datetime import datetime
from pathlib import Path

from bhoga._model import Observation, QuotaWindow
from bhoga._paths import anthropic_base_url, claude_config_dir, claude_json_path
from bhoga._values import human_duration, retry_after_seconds

from ._common import CredentialFact, Reading, Watched, log_failure, read_bytes
from ._gate import AUTH_BLOCKED, DEFAULT_INTERVAL, Gate
from ._http import USER_AGENT, http_get
from ._proc import run_capture, which
from .claude_parse import (
    ClaudeCredentials,
    keychain_account,
    keychain_service_names,
    parse_cached_usage_bytes,
    parse_credentials,
    parse_usage,
    parse_usage_text,
)

__all__ = ["CLI_TIMEOUT", "credential_fact", "credentials_path", "discover", "read_credentials", "watched"]

log = logging.getLogger(__name__)

PID = "claude_code"
CLI_TIMEOUT = 30.0
_ENDPOINT_KEY = "claude_oauth"
"""Gate key shared by the HTTP call and the CLI: both end at the same rate-limited endpoint."""


def credentials_path() -> Path:
    """`.credentials.json` under `CLAUDE_SECURESTORAGE_CONFIG_DIR`, else `CLAUDE_CONFIG_DIR`, else `~/.claude`."""
    override = os.environ.get("CLAUDE_SECURESTORAGE_CONFIG_DIR", "").strip()
    root = Path(override).expanduser() if override else claude_config_dir()
    return root / ".credentials.json"


def watched() -> tuple[Watched, ...]:
    """Claude Code's credentials (a new login, a refresh, a logout) and its account file, which caches the
    last usage reading."""
    claude_json = claude_json_path()
    return (
        Watched("claude", claude_config_dir(), frozenset({".credentials.json"}), login=True),
        Watched("claude-json", claude_json.parent, frozenset({claude_json.name})),
    )


def read_keychain() -> ClaudeCredentials | None:
    """The login from the macOS Keychain via `security find-generic-password -w`; None when unreadable."""
    exe = which("security") or ("/usr/bin/security" if Path("/usr/bin/security").exists() else None)
    if exe is None:
        return None
    try:
        fallback_user = getpass.getuser()
    except (KeyError, OSError):
        fallback_user = ""
    account = keychain_account(os.environ, fallback_user)
    for service in keychain_service_names(os.environ):
        res = run_capture([exe, "find-generic-password", "-a", account, "-s", service, "-w"], timeout=5.0)
        if res is not None and res[0] == 0 and (creds := parse_credentials(res[1], origin="keychain")):
            return creds
    return None


def read_credentials(*, keychain: bool = True) -> tuple[ClaudeCredentials | None, str]:
    """The Claude Code login (file first, then the Keychain on macOS) and where it was looked for.

    `keychain=False` skips the Keychain: reading it can raise a macOS permission prompt, so discovery asks it
    only when a network call is about to need the token.
    """
    path = credentials_path()
    data = read_bytes(path, limit=1024 * 1024)
    if data is not None:
        creds = parse_credentials(data)
        if creds is not None:
            return creds, str(path)
        log_failure(log, f"Claude credentials file {path}", "no readable claudeAiOauth login")
    if sys.platform == "darwin" and keychain:
        creds = read_keychain()
        if creds is not None:
            return creds, "macOS Keychain"
        return None, f"{path} or the macOS Keychain"
    return None, str(path)


def _stale_note(creds: ClaudeCredentials, now: datetime) -> str:
    if creds.expires_at is None:
        return "stale credentials: Claude Code token has no expiry; run `claude` once to refresh the login"
    return (
        f"stale credentials: Claude Code token expired {human_duration(now - creds.expires_at)} ago; "
        "run `claude` once so it refreshes its own login"
    )


def _from_endpoint(
    gate: Gate, creds: ClaudeCredentials, now: datetime, force: bool, notes: list[str]
) -> tuple[tuple[QuotaWindow, ...], tuple[tuple[str, str], ...]] | str | None:
    """Windows from the OAuth endpoint; None when it gave nothing; "rejected" when the token was refused
    just now, "blocked" when it was refused earlier and has not changed since."""
    why = gate.claim(_ENDPOINT_KEY, now, force=force, marker=creds.marker)
    if why is not None:
        log.debug("Claude usage endpoint not called: %s", why)
        if why == AUTH_BLOCKED:
            notes.append("stale credentials: token was rejected; run `claude` once so it refreshes its own login")
            return "blocked"
        notes.append(f"usage endpoint not called: {why}")
        return None
    r = http_get(
        f"{anthropic_base_url()}/api/oauth/usage",
        {
            "Authorization": f"Bearer {creds.access_token}",
            "anthropic-beta": "oauth-2025-04-20",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        },
    )
    if r.status == 200 and (obj := r.json()) is not None:
        windows, extra = parse_usage(obj, now, "oauth")
        if windows:
            return windows, extra
        log_failure(log, "Claude usage endpoint", "answer has no usage windows", creds.access_token)
        return None
    if r.status in (429, 503):
        wait = retry_after_seconds(r.header("retry-after"), now)
        stored = gate.retry_after(_ENDPOINT_KEY, now, DEFAULT_INTERVAL if wait is None else wait)
        log_failure(log, "Claude usage endpoint", f"HTTP {r.status}; waiting {stored}s")
        notes.append(f"usage endpoint rate-limited (HTTP {r.status})")
        return None
    if r.status in (401, 403):
        gate.auth_failed(_ENDPOINT_KEY, now, creds.marker)
        what = "token rejected (expired or revoked)" if r.status == 401 else "token lacks permission (scope)"
        log_failure(log, "Claude usage endpoint", f"HTTP {r.status}: {what}")
        notes.append(f"stale credentials: {what}; run `claude` once so it refreshes its own login")
        return "rejected"
    detail = r.error or ("not JSON" if r.status == 200 else f"HTTP {r.status}")
    log_failure(log, "Claude usage endpoint", detail, creds.access_token)
    return None


def _from_cli(gate: Gate, now: datetime, force: bool) -> tuple[QuotaWindow, ...] | None:
    exe = which("claude")
    if exe is None:
        return None
    why = gate.claim(_ENDPOINT_KEY, now, force=force, marker="cli")
    if why is not None:
        log.debug("claude -p /usage not run: %s", why)
        return None
    res = run_capture([exe, "-p", "/usage"], timeout=CLI_TIMEOUT)
    if res is None:
        return None
    windows = parse_usage_text(res[1].decode("utf-8", "replace"), now)
    if not windows:
        # Routine when Claude is installed but not logged in: not worth a warning every interval.
        log.info("claude -p /usage printed no usage windows (not logged in, or offline)")
    return windows or None


def discover(gate: Gate, now: datetime, *, force: bool = False, network: bool = True) -> Observation:
    """One observation of the Claude Code plan; never raises (a failing source logs one line)."""
    creds, where = read_credentials(keychain=False)
    cached = parse_cached_usage_bytes(read_bytes(claude_json_path()))
    if creds is None and network and not (cached and cached.fresh(now)):
        creds, where = read_credentials()
    # No token but a usage cache (or a Keychain bhoga cannot read): the login may well exist, so "unknown".
    r = Reading(PID, now, True if creds else (None if sys.platform == "darwin" or cached else False))
    if creds is not None:
        r.sources, r.marker = ("claude_login",), creds.marker
        r.extra = tuple((k, v) for k, v in (("plan", creds.subscription_type), ("tier", creds.rate_limit_tier)) if v)
        if creds.expired(now):
            r.notes.append(_stale_note(creds, now))
        elif not creds.can_read_usage:
            r.notes.append("Claude Code token lacks the user:profile scope needed to read usage")

    if cached is not None and cached.fresh(now):
        windows, more = parse_usage(cached.usage, cached.fetched_at, "cache")
        if windows:
            return r.observation(windows, more, "cache")
    if network:
        # The CLI helps only when bhoga has no token it may use: Claude then refreshes its own login.
        try_cli, cli_force = True, force
        if creds is not None and not creds.expired(now) and creds.can_read_usage:
            got = _from_endpoint(gate, creds, now, force, r.notes)
            if isinstance(got, tuple):
                gate.good(PID, now, *got)
                r.verdict = "verified"
                return r.observation(got[0], got[1], "oauth")
            if got in ("rejected", "blocked"):
                r.verdict = "rejected"
            try_cli = got in ("rejected", "blocked")
            # The HTTP call that was just refused started the interval; the CLI may follow it at once.
            cli_force = force or got == "rejected"
        if try_cli and (cli_windows := _from_cli(gate, now, cli_force)):
            gate.good(PID, now, cli_windows, ())
            return r.observation(cli_windows, (), "cli")
    if creds is None and r.credential is False and not (cached or gate.last_good(PID)):
        r.notes.append(f"no Claude Code login found in {where}")
    fallbacks: list[tuple[datetime, tuple[QuotaWindow, ...], tuple[tuple[str, str], ...], str]] = []
    if (lg := gate.last_good(PID)) is not None and lg.windows:
        fallbacks.append((lg.at, lg.windows, lg.extra, "last good answer"))
    if cached is not None and cached.age(now).total_seconds() >= 0:
        windows, more = parse_usage(cached.usage, cached.fetched_at, "cache")
        if windows:
            fallbacks.append((cached.fetched_at, windows, more, "Claude usage cache"))
    if not fallbacks:
        return r.observation()
    at, windows, more, label = max(fallbacks, key=lambda f: f[0])
    r.notes.append(f"{label} is {human_duration(now - at)} old")
    return r.observation(windows, more, "last-good" if label == "last good answer" else "cache")


def credential_fact(now: datetime) -> CredentialFact:
    """What `bhoga doctor` says about the Claude Code login (no token, no network)."""
    creds, where = read_credentials()
    if creds is None:
        found = None if sys.platform == "darwin" else False
        return CredentialFact(PID, found, f"no Claude Code login in {where}", "run `claude` and `/login`")
    plan = f" ({creds.subscription_type} plan)" if creds.subscription_type else ""
    if creds.expired(now):
        return CredentialFact(
            PID,
            True,
            f"Claude Code login in {where}{plan}: {_stale_note(creds, now)}",
            "run `claude` once so it refreshes its own login",
        )
    if not creds.can_read_usage:
        return CredentialFact(
            PID,
            True,
            f"Claude Code login in {where}{plan} lacks the user:profile scope",
            "run `claude` and `/login` again",
        )
    assert creds.expires_at is not None
    return CredentialFact(
        PID, True, f"Claude Code login in {where}{plan}, token valid for {human_duration(creds.expires_at - now)}"
    )
