"""Pure parsers for Codex CLI's quota sources (FORMATS §2): rollout `token_count` events in all three
historical shapes, the `wham/usage` answer, the app-server `account/rateLimits/read` result, `auth.json`.

Windows are named by their length (`bhoga._model.window_name`), never by the slot they arrived in: a live
Pro capture carries the weekly window in `primary`. The main family (`limit_id` "codex") binds every model;
other families (e.g. "GPT-5.3-Codex-Spark") become windows scoped to that model's lowercased name.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from bhoga._model import QuotaWindow, window_name
from bhoga._record import field, record
from bhoga._values import after, as_dict, as_float, from_epoch, parse_iso

__all__ = [
    "CodexAuth",
    "Windows",
    "jwt_claims",
    "parse_app_server",
    "parse_codex_auth",
    "parse_rate_limits",
    "parse_rollout_tail",
    "parse_wham",
]

Windows = tuple[tuple[QuotaWindow, ...], tuple[tuple[str, str], ...]]
"""Windows plus (key, value) extra facts such as the plan type."""

MAIN_FAMILY = "codex"


def _slot(
    used: object, minutes: object, resets_at: datetime | None, scope: str, at: datetime, src: str
) -> QuotaWindow | None:
    pct, mins = as_float(used), as_float(minutes)
    if pct is None or mins is None or mins <= 0:
        return None  # window length 0 means "absent" (e.g. an empty secondary next to a weekly primary)
    m = round(mins)
    return QuotaWindow(window_name(m), min(100.0, max(0.0, pct)), resets_at, m, scope, at, src)


def _scope(limit_id: object, limit_name: object) -> str | None:
    if limit_id in (None, "", MAIN_FAMILY):
        return "*"
    return limit_name.strip().lower() if isinstance(limit_name, str) and limit_name.strip() else None


def _collect(windows: list[QuotaWindow], w: QuotaWindow | None) -> None:
    if w is not None and all(x.key != w.key for x in windows):
        windows.append(w)


def parse_rate_limits(rl: object, line_time: datetime, source: str = "rollout") -> Windows:
    """Windows from one rollout `rate_limits` object: flat (oldest), `resets_in_seconds` (0.4x) or current."""
    d = as_dict(rl)
    scope = _scope(d.get("limit_id"), d.get("limit_name"))
    windows: list[QuotaWindow] = []
    if scope is None:
        return (), ()
    if "primary_used_percent" in d or "secondary_used_percent" in d:
        for slot in ("primary", "secondary"):
            w = _slot(d.get(f"{slot}_used_percent"), d.get(f"{slot}_window_minutes"), None, scope, line_time, source)
            _collect(windows, w)
    for slot in ("primary", "secondary"):
        s = as_dict(d.get(slot))
        resets = from_epoch(s.get("resets_at"))
        if resets is None:
            resets = after(line_time, s.get("resets_in_seconds"))
        _collect(windows, _slot(s.get("used_percent"), s.get("window_minutes"), resets, scope, line_time, source))
    return tuple(windows), tuple(_family_extra(d, scope, "plan_type", "rate_limit_reached_type", "credits"))


def _family_extra(
    d: dict[str, Any], scope: str, plan_key: str, reached_key: str, credits_key: str
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if scope == "*" and isinstance(d.get(plan_key), str):
        out.append(("plan", d[plan_key]))
    if isinstance(d.get(reached_key), str):
        out.append(("limit_reached" if scope == "*" else f"limit_reached@{scope}", d[reached_key]))
    credits = as_dict(d.get(credits_key))
    balance = credits.get("balance")
    if scope == "*" and isinstance(balance, str | int | float) and not isinstance(balance, bool):
        out.append(("credits_balance", str(balance)))
    return out


def parse_rollout_tail(data: bytes) -> dict[str, tuple[datetime, dict[str, Any]]]:
    """The newest `token_count` rate limits per `limit_id` in a chunk of rollout lines (JSONL).

    Lines are scanned newest first and only those mentioning `token_count` are decoded, so a tail full of
    huge tool-output lines costs a byte search, not a JSON parse. A partial or garbage line is skipped.
    """
    found: dict[str, tuple[datetime, dict[str, Any]]] = {}
    for line in reversed(data.split(b"\n")):
        if b'"token_count"' not in line or b'"rate_limits"' not in line:
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            continue
        payload = as_dict(as_dict(obj).get("payload"))
        rl = payload.get("rate_limits")
        when = parse_iso(as_dict(obj).get("timestamp"))
        if payload.get("type") != "token_count" or not isinstance(rl, dict) or when is None:
            continue
        lid = rl.get("limit_id")
        found.setdefault(lid if isinstance(lid, str) and lid else MAIN_FAMILY, (when, rl))
    return found


def _wham_windows(rate_limit: object, scope: str, now: datetime, windows: list[QuotaWindow]) -> None:
    rl = as_dict(rate_limit)
    for slot in ("primary_window", "secondary_window"):
        s = as_dict(rl.get(slot))
        secs = as_float(s.get("limit_window_seconds"))
        resets = from_epoch(s.get("reset_at"))
        if resets is None:
            resets = after(now, s.get("reset_after_seconds"))
        w = _slot(s.get("used_percent"), None if secs is None else secs / 60.0, resets, scope, now, "wham")
        _collect(windows, w)


def parse_wham(obj: object, now: datetime) -> Windows:
    """Windows from `GET …/wham/usage` (`limit_window_seconds` decides the name; nulls are skipped)."""
    d = as_dict(obj)
    windows: list[QuotaWindow] = []
    _wham_windows(d.get("rate_limit"), "*", now, windows)
    extras = d.get("additional_rate_limits")
    for item in extras if isinstance(extras, list) else []:
        a = as_dict(item)
        if (scope := _scope(a.get("metered_feature") or "other", a.get("limit_name"))) is not None:
            _wham_windows(a.get("rate_limit"), scope, now, windows)
    extra = _family_extra(d, "*", "plan_type", "rate_limit_reached_type", "credits")
    return tuple(windows), tuple(extra)


def _app_family(fam: object, now: datetime, windows: list[QuotaWindow], extra: list[tuple[str, str]]) -> None:
    f = as_dict(fam)
    scope = _scope(f.get("limitId"), f.get("limitName"))
    if scope is None:
        return
    for slot in ("primary", "secondary"):
        s = as_dict(f.get(slot))
        w = _slot(
            s.get("usedPercent"), s.get("windowDurationMins"), from_epoch(s.get("resetsAt")), scope, now, "app-server"
        )
        _collect(windows, w)
    for kv in _family_extra(f, scope, "planType", "rateLimitReachedType", "credits"):
        if kv not in extra:
            extra.append(kv)


def parse_app_server(result: object, now: datetime) -> Windows:
    """Windows from the `account/rateLimits/read` result (camelCase; every family in `rateLimitsByLimitId`)."""
    d = as_dict(result)
    windows: list[QuotaWindow] = []
    extra: list[tuple[str, str]] = []
    by_id = as_dict(d.get("rateLimitsByLimitId"))
    families = list(by_id.values()) if by_id else [d.get("rateLimits")]
    for fam in families:
        _app_family(fam, now, windows, extra)
    if not by_id:
        return tuple(windows), tuple(extra)
    _app_family(d.get("rateLimits"), now, windows, extra)  # duplicates are dropped by key
    return tuple(windows), tuple(extra)


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, decoded without verifying (only to read `exp` and the plan); {} on garbage."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        return as_dict(json.loads(raw))
    except (ValueError, RecursionError):
        return {}


@record
class CodexAuth:
    """The readable part of `auth.json`; tokens are excluded from repr so they never reach a log."""

    mode: str
    """"chatgpt", "apikey" or "unknown"."""
    access_token: str = field(default="", repr=False)
    account_id: str = ""
    plan: str = ""
    expires_at: datetime | None = None


def parse_codex_auth(data: bytes) -> CodexAuth | None:
    """`$CODEX_HOME/auth.json` (snake_case or the old camelCase token keys); None when not JSON."""
    try:
        d = as_dict(json.loads(data))
    except (ValueError, RecursionError):
        return None
    if not d:
        return None
    tokens = as_dict(d.get("tokens"))
    access = tokens.get("access_token") or tokens.get("accessToken")
    mode = d.get("auth_mode")
    if not isinstance(mode, str):
        mode = "chatgpt" if access else ("apikey" if d.get("OPENAI_API_KEY") else "unknown")
    if mode != "chatgpt" or not isinstance(access, str) or not access:
        return CodexAuth(mode="apikey" if mode.lower() in ("apikey", "api_key") else mode)
    claims = jwt_claims(access)
    auth_claims = as_dict(claims.get("https://api.openai.com/auth"))
    id_token = tokens.get("id_token") or tokens.get("idToken")
    if not auth_claims and isinstance(id_token, str):
        auth_claims = as_dict(jwt_claims(id_token).get("https://api.openai.com/auth"))
    account = tokens.get("account_id") or tokens.get("accountId") or auth_claims.get("chatgpt_account_id")
    return CodexAuth(
        mode="chatgpt",
        access_token=access,
        account_id=account if isinstance(account, str) else "",
        plan=str(auth_claims.get("chatgpt_plan_type") or ""),
        expires_at=from_epoch(claims.get("exp")),
    )
