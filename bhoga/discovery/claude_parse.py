"""Pure parsers for Claude Code's quota sources (FORMATS §1): the credentials JSON, the Keychain item name,
the OAuth usage object (also cached in `.claude.json`), and the text of `claude -p "/usage"`.

No I/O here: every function takes bytes, text or parsed JSON and returns records or None.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bhoga._model import QuotaWindow
from bhoga._record import field, record
from bhoga._values import as_dict, as_float, from_epoch, parse_iso

__all__ = [
    "CACHE_MAX_AGE",
    "CachedUsage",
    "ClaudeCredentials",
    "keychain_account",
    "keychain_service_names",
    "parse_cached_usage",
    "parse_cached_usage_bytes",
    "parse_credentials",
    "parse_usage",
    "parse_usage_text",
]

CACHE_MAX_AGE = timedelta(hours=1)
"""Claude Code 2.1.332 uses `cachedUsageUtilization` while 0 ≤ now − fetchedAtMs ≤ 1 h."""

_FLAT = (
    ("five_hour", "burst", 300, "*"),
    ("seven_day", "weekly", 10080, "*"),
    ("seven_day_opus", "weekly", 10080, "opus"),
    ("seven_day_sonnet", "weekly", 10080, "sonnet"),
)
_ACCOUNT_RE = re.compile(r"^[A-Za-z0-9._-]+$")


@record
class ClaudeCredentials:
    """The readable part of a Claude Code login. The token is excluded from repr so it never reaches a log."""

    access_token: str = field(repr=False)
    expires_at: datetime | None
    scopes: tuple[str, ...] | None
    subscription_type: str = ""
    rate_limit_tier: str = ""
    origin: str = "file"

    def expired(self, now: datetime) -> bool:
        """A missing expiry counts as expired (CodexBar's rule)."""
        return self.expires_at is None or self.expires_at <= now

    @property
    def can_read_usage(self) -> bool:
        """The usage endpoint needs the `user:profile` scope; unknown scopes are given the benefit of doubt."""
        return self.scopes is None or "user:profile" in self.scopes

    @property
    def marker(self) -> str:
        """Identifies this token generation without containing it: the expiry changes on every refresh."""
        return f"{self.origin}:{self.expires_at.timestamp() if self.expires_at else 0:.0f}"


def parse_credentials(data: bytes | str, origin: str = "file") -> ClaudeCredentials | None:
    """The `claudeAiOauth` login from `.credentials.json` / the Keychain item; None when absent or garbage.

    An item holding only `mcpOAuth` (seen on 2.1.x Keychains) is "not logged in".
    """
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError, TypeError):
        return None
    oauth = as_dict(as_dict(obj).get("claudeAiOauth"))
    token = oauth.get("accessToken")
    if not isinstance(token, str) or not token.strip():
        return None
    raw_scopes = oauth.get("scopes")
    scopes = tuple(s for s in raw_scopes if isinstance(s, str)) if isinstance(raw_scopes, list) else None
    return ClaudeCredentials(
        access_token=token.strip(),
        expires_at=from_epoch(oauth.get("expiresAt"), millis=True),
        scopes=scopes,
        subscription_type=str(oauth.get("subscriptionType") or ""),
        rate_limit_tier=str(oauth.get("rateLimitTier") or ""),
        origin=origin,
    )


def _hash_suffix(value: str) -> str:
    import hashlib  # noqa: PLC0415 - only for the Keychain name on macOS

    digest = hashlib.sha256(unicodedata.normalize("NFC", value).encode()).hexdigest()
    return "-" + digest[:8]


def keychain_service_names(env: Mapping[str, str]) -> list[str]:
    """Keychain service names to try, best first (FORMATS §1.2).

    `CLAUDE_SECURESTORAGE_CONFIG_DIR` (when defined) or else a non-empty `CLAUDE_CONFIG_DIR` adds `-` + the
    first 8 hex digits of sha256 of the value exactly as found; whether Claude normalises the path first is
    unverified, so the unsuffixed name is tried after it.
    """
    base = "Claude Code-credentials"
    if "CLAUDE_SECURESTORAGE_CONFIG_DIR" in env:
        value = env["CLAUDE_SECURESTORAGE_CONFIG_DIR"]
    else:
        value = env.get("CLAUDE_CONFIG_DIR", "")
    return [base + _hash_suffix(value), base] if value else [base]


def keychain_account(env: Mapping[str, str], fallback_user: str = "") -> str:
    """The Keychain account Claude Code uses: `$USER` when it is a plain name, else `claude-code-user`."""
    user = env.get("USER") or fallback_user
    return user if user and _ACCOUNT_RE.match(user) else "claude-code-user"


def _window(
    name: str, pct: object, resets: object, minutes: int, scope: str, at: datetime, src: str
) -> QuotaWindow | None:
    f = as_float(pct)
    if f is None:
        return None
    return QuotaWindow(name, min(100.0, max(0.0, f)), parse_iso(resets), minutes, scope, at, src)


def _scope_of(limit: dict[str, Any]) -> str | None:
    model = as_dict(as_dict(limit.get("scope")).get("model"))
    name = model.get("display_name")
    if isinstance(name, str) and (m := re.search(r"[a-z]+", name.lower())):
        # "Sonnet 4.6" → "sonnet": the family word is what model ids contain ("claude-sonnet-4-6").
        return m.group(0)
    mid = model.get("id")
    return mid.strip().lower() if isinstance(mid, str) and mid.strip() else None


def parse_usage(
    obj: object, observed_at: datetime, source: str = "oauth"
) -> tuple[tuple[QuotaWindow, ...], tuple[tuple[str, str], ...]]:
    """Windows and extra facts from an `/api/oauth/usage` object (percent 0–100).

    `limits[]` (2026) is preferred where present; the flat `five_hour` / `seven_day*` keys fill the rest.
    Nulls, unknown keys and codename windows are ignored.
    """
    d = as_dict(obj)
    found: dict[str, QuotaWindow] = {}
    limits = d.get("limits")
    for item in limits if isinstance(limits, list) else []:
        lim = as_dict(item)
        kind = lim.get("kind")
        if kind == "session":
            w = _window("burst", lim.get("percent"), lim.get("resets_at"), 300, "*", observed_at, source)
        elif kind == "weekly_all":
            w = _window("weekly", lim.get("percent"), lim.get("resets_at"), 10080, "*", observed_at, source)
        elif kind == "weekly_scoped" and (scope := _scope_of(lim)):
            w = _window("weekly", lim.get("percent"), lim.get("resets_at"), 10080, scope, observed_at, source)
        else:
            w = None
        if w is not None:
            found.setdefault(w.key, w)
    for key, name, minutes, scope in _FLAT:
        win = as_dict(d.get(key))
        w = _window(name, win.get("utilization"), win.get("resets_at"), minutes, scope, observed_at, source)
        if w is not None:
            found.setdefault(w.key, w)
    extra: list[tuple[str, str]] = []
    eu = as_dict(d.get("extra_usage"))
    if isinstance(eu.get("is_enabled"), bool):
        extra.append(("extra_usage", "enabled" if eu["is_enabled"] else "disabled"))
        for k in ("utilization", "monthly_limit", "used_credits", "currency"):
            if eu.get(k) is not None and not isinstance(eu.get(k), dict | list):
                extra.append((f"extra_usage_{k}", str(eu[k])))
    return tuple(found.values()), tuple(extra)


@record
class CachedUsage:
    """Claude Code's own cached copy of the usage object, with when it was fetched."""

    fetched_at: datetime
    usage: dict[str, Any]

    def age(self, now: datetime) -> timedelta:
        """How old the cached copy is at `now`."""
        return now - self.fetched_at

    def fresh(self, now: datetime) -> bool:
        """Claude Code's rule: 0 ≤ age ≤ 1 h (a future-dated entry is not fresh)."""
        return timedelta(0) <= self.age(now) <= CACHE_MAX_AGE


def parse_cached_usage(claude_json: object) -> CachedUsage | None:
    """`cachedUsageUtilization` from a parsed `.claude.json`, if it belongs to the current account.

    Claude compares the entry's `accountUuid` with `oauthAccount.accountUuid` and discards it on mismatch;
    both absent compares equal, as in Claude's own (JavaScript) check.
    """
    d = as_dict(claude_json)
    cache = as_dict(d.get("cachedUsageUtilization"))
    if cache.get("accountUuid") != as_dict(d.get("oauthAccount")).get("accountUuid"):
        return None
    fetched = from_epoch(cache.get("fetchedAtMs"), millis=True)
    usage = cache.get("utilization")
    if fetched is None or not isinstance(usage, dict):
        return None
    return CachedUsage(fetched, usage)


_DECODER = json.JSONDecoder()
_TOP_KEYS = ("cachedUsageUtilization", "oauthAccount")
_PRETTY = '{\n  "'
"""How Claude Code writes the file (`JSON.stringify(config, null, 2)`): top-level keys start a line, two spaces in."""


def parse_cached_usage_bytes(data: bytes | None) -> CachedUsage | None:
    """`parse_cached_usage` of a raw `.claude.json`, decoding only the two keys it needs when it safely can.

    Real files are megabytes of project history around two small top-level keys, and a full parse of every
    rewrite costs milliseconds. In a file laid out as Claude Code writes it, a key that occurs once and starts
    a line two spaces in is a top-level key (a newline never occurs inside a JSON string, and deeper keys are
    indented further), so its value is decoded where it stands. Any other layout, a repeated name or a value
    that does not decode falls back to the full parse: the answer is the full parse's for every well-formed
    file; a file broken elsewhere still yields these keys.
    """
    if not data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.startswith(_PRETTY):
        return _full_parse(text)
    found: dict[str, object] = {}
    for key in _TOP_KEYS:
        quoted = f'"{key}"'
        at = text.find(f"\n  {quoted}: ")
        if at < 0:
            if quoted in text:
                return _full_parse(text)  # present, but not where a top-level key would be
            continue
        if text.count(quoted) > 1:
            return _full_parse(text)
        try:
            found[key], _ = _DECODER.raw_decode(text, at + len(quoted) + 5)
        except (ValueError, RecursionError):
            return _full_parse(text)
    return parse_cached_usage(found)


def _full_parse(text: str) -> CachedUsage | None:
    try:
        return parse_cached_usage(json.loads(text))
    except (ValueError, RecursionError):
        return None


_LINE_RE = re.compile(
    r"^\s*(Current session|Current week \(([^)]*)\))\s*:\s*(\d+(?:\.\d+)?)% (used|remaining)"
    r"(?:\s*·\s*resets\s+(.+))?\s*$"
)
_LABEL_RE = re.compile(r"^\s*(Current session|Current week \(([^)]*)\))\s*$")
_PCT_RE = re.compile(r"(\d+(?:\.\d+)?)% (used|remaining)")
_UTC_RESET_RE = re.compile(r"^(?P<when>[A-Z][a-z]{2} \d{1,2}, \d{1,2}(?::\d{2})?[ap]m) \(UTC\)$")


def _text_reset(text: str | None, now: datetime) -> datetime | None:
    """Only "Nov 25, 10:20pm (UTC)" is parsed: other zones are local and structured sources beat them."""
    m = _UTC_RESET_RE.match(text.strip()) if text else None
    if not m:
        return None
    for fmt in ("%b %d, %I:%M%p %Y", "%b %d, %I%p %Y"):
        for year in (now.year, now.year + 1):
            try:
                dt = datetime.strptime(f"{m['when']} {year}", fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
            if dt >= now - timedelta(days=1):
                return dt
    return None


def _text_window(
    label: str, which: str | None, pct: str, kind: str, reset: str | None, now: datetime
) -> QuotaWindow | None:
    value = float(pct)
    used = value if kind == "used" else 100.0 - value
    if label == "Current session":
        return QuotaWindow("burst", min(100.0, used), _text_reset(reset, now), 300, "*", now, "cli")
    scope_text = (which or "").lower()
    if "all models" in scope_text:
        scope = "*"
    elif m := re.search(r"[a-z]+", scope_text):
        scope = m.group(0)  # "Sonnet only" → "sonnet", "Opus" → "opus"
    else:
        return None
    return QuotaWindow("weekly", min(100.0, used), _text_reset(reset, now), 10080, scope, now, "cli")


def parse_usage_text(text: str, now: datetime) -> tuple[QuotaWindow, ...]:
    """Windows from `claude -p "/usage"` output or the ANSI-stripped `/usage` panel; () when none are shown."""
    found: dict[str, QuotaWindow] = {}
    pending: tuple[str, str | None] | None = None
    for line in text.splitlines():
        if m := _LINE_RE.match(line):
            w = _text_window(m[1], m[2], m[3], m[4], m[5], now)
        elif m := _LABEL_RE.match(line):
            pending, w = (m[1], m[2]), None
        elif pending and (m := _PCT_RE.search(line)):
            w, pending = _text_window(pending[0], pending[1], m[1], m[2], None, now), None
        else:
            w = None
        if w is not None:
            found.setdefault(w.key, w)
    return tuple(found.values())
