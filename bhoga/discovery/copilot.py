"""GitHub Copilot (`github-copilot`) quota discovery: the monthly premium-request allowance from
`GET {BHOGA_GITHUB_API_URL}/copilot_internal/user` (FORMATS §3).

The token comes from `COPILOT_GITHUB_TOKEN` → `GH_TOKEN` → `GITHUB_TOKEN` → `gh auth token`, the order
Hermes uses, so both agree on the account. A classic `ghp_` token is refused by Copilot: it is skipped with
a clear note and never sent anywhere.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any

from bhoga._model import Observation, QuotaWindow
from bhoga._paths import github_api_url
from bhoga._values import as_dict, as_float, parse_iso, retry_after_seconds

from ._common import CredentialFact, Reading, log_failure
from ._gate import AUTH_BLOCKED, DEFAULT_INTERVAL, Gate
from ._hermes_view import fingerprint, hermes_auth_logins, hermes_env
from ._http import http_get
from ._proc import run_capture, which

__all__ = [
    "COPILOT_INTERVAL",
    "CopilotToken",
    "credential_fact",
    "discover",
    "find_token",
    "parse_copilot_user",
]

log = logging.getLogger(__name__)

PID = "github-copilot"
COPILOT_INTERVAL = 900.0
"""A monthly allowance moves slowly: poll it at most every 15 minutes."""
_ENV_ORDER = ("COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN")
_KEY = "copilot_user"


class CopilotToken:
    """A usable token and where it came from; `repr` never shows the token."""

    __slots__ = ("origin", "source", "value")

    def __init__(self, value: str, origin: str, source: str = "env") -> None:
        self.value = value
        self.origin = origin
        self.source = source
        """Evidence source: "env", "hermes_env" or "gh_cli"."""

    @property
    def marker(self) -> str:
        return fingerprint(self.value)

    def __repr__(self) -> str:
        return f"CopilotToken(origin={self.origin!r})"


def find_token(*, use_gh: bool = True) -> tuple[CopilotToken | None, list[str]]:
    """The first usable token in Hermes' order, plus notes about refused `ghp_` tokens."""
    notes: list[str] = []
    # Hermes loads its .env over the shell's environment, so a token there is the one Hermes sends.
    dotenv = hermes_env()
    for name in _ENV_ORDER:
        in_file = dotenv.get(name, "").strip()
        value = in_file or os.environ.get(name, "").strip()
        if not value:
            continue
        if value.startswith("ghp_"):
            notes.append(
                f"{name} holds a classic ghp_ token, which Copilot does not accept; "
                "use a gho_/github_pat_ token (e.g. `gh auth token`) in COPILOT_GITHUB_TOKEN"
            )
            continue
        return CopilotToken(value, name, "hermes_env" if in_file else "env"), notes
    if use_gh and (exe := which("gh")):
        res = run_capture([exe, "auth", "token"], timeout=5.0, max_bytes=4096)
        value = res[1].decode("utf-8", "replace").strip() if res and res[0] == 0 else ""
        if value.startswith("ghp_"):
            notes.append(
                "`gh auth token` returned a classic ghp_ token, which Copilot does not accept; "
                "run `gh auth login` with the web flow"
            )
        elif value and " " not in value:
            return CopilotToken(value, "gh auth token", "gh_cli"), notes
    return None, notes


def parse_copilot_user(obj: object, now: datetime) -> tuple[QuotaWindow | None, tuple[tuple[str, str], ...], str]:
    """The monthly window from `copilot_internal/user`, extra facts, and a note ("" when none).

    `percent_remaining` is remaining, so used = 100 − it. Unlimited quotas and the zero-entitlement
    placeholders of token-billed business seats are not headroom: no window, a note instead.
    """
    d = as_dict(obj)
    extra: list[tuple[str, str]] = []
    if isinstance(d.get("copilot_plan"), str):
        extra.append(("plan", d["copilot_plan"]))
    prem: dict[str, Any] = as_dict(as_dict(d.get("quota_snapshots")).get("premium_interactions"))
    if not prem:
        return None, tuple(extra), "no premium_interactions quota in the answer"
    if prem.get("unlimited") is True:
        return None, (*extra, ("premium", "unlimited")), ""
    if d.get("token_based_billing") is True or as_float(prem.get("entitlement")) == 0:
        return None, tuple(extra), "premium requests are billed per token on this seat: headroom unknown"
    remaining = as_float(prem.get("percent_remaining"))
    if remaining is None:
        return None, tuple(extra), "premium_interactions has no percent_remaining"
    resets = parse_iso(d.get("quota_reset_date_utc")) or parse_iso(d.get("quota_reset_date"))
    minutes = 30 * 1440
    if resets is not None:
        prev = (resets.replace(day=1) - timedelta(days=1)).replace(day=1)
        minutes = int((resets.replace(day=1) - prev).total_seconds() // 60) if resets.day == 1 else minutes
    used = min(100.0, max(0.0, 100.0 - remaining))
    return QuotaWindow("monthly", used, resets, minutes, "*", now, "copilot"), tuple(extra), ""


def discover(gate: Gate, now: datetime, *, force: bool = False, network: bool = True) -> Observation:
    """One observation of the Copilot premium-request allowance; never raises."""
    token, notes = find_token()
    hermes_login = PID in hermes_auth_logins()
    sources = (*((token.source,) if token else ()), *(("hermes_auth",) if hermes_login else ()))
    seen = Reading(PID, now, token is not None or hermes_login, sources, token.marker if token else "", notes=notes)

    def last_good() -> Observation:
        return seen.observation(*_last_good(gate, now, notes), "last-good")

    if token is None or not network:
        return last_good() if token else seen.observation()
    why = gate.claim(_KEY, now, force=force, interval=COPILOT_INTERVAL, marker=token.marker)
    if why is not None:
        log.debug("copilot_internal/user not called: %s", why)
        if why == AUTH_BLOCKED:
            seen.verdict = "rejected"
            notes.append(f"Copilot rejected the token from {token.origin}")
        return last_good()
    r = http_get(
        f"{github_api_url()}/copilot_internal/user",
        {
            "Authorization": f"token {token.value}",
            "Accept": "application/json",
            "Editor-Version": "vscode/1.96.2",
            "Editor-Plugin-Version": "copilot-chat/0.26.7",
            "User-Agent": "GitHubCopilotChat/0.26.7",
            "X-Github-Api-Version": "2025-04-01",
        },
    )
    obj = r.json() if r.status == 200 else None
    if obj is not None:
        window, extra, note = parse_copilot_user(obj, now)
        if note:
            notes.append(note)
        windows = (window,) if window else ()
        gate.good(PID, now, windows, extra)
        seen.verdict = "verified"
        return seen.observation(windows, extra, "copilot")
    if r.status in (429, 503) or (r.status == 403 and r.header("retry-after")):
        wait = retry_after_seconds(r.header("retry-after"), now)
        stored = gate.retry_after(_KEY, now, DEFAULT_INTERVAL if wait is None else wait)
        log_failure(log, "Copilot copilot_internal/user", f"HTTP {r.status}; waiting {stored}s")
    elif r.status in (401, 403, 404):
        gate.auth_failed(_KEY, now, token.marker)
        seen.verdict = "rejected"
        log_failure(log, "Copilot copilot_internal/user", f"HTTP {r.status}: token from {token.origin} not accepted")
        notes.append(f"Copilot rejected the token from {token.origin} (no Copilot seat, or wrong token kind)")
    else:
        log_failure(
            log,
            "Copilot copilot_internal/user",
            r.error or ("not JSON" if r.status == 200 else f"HTTP {r.status}"),
            token.value,
        )
    return last_good()


def _last_good(
    gate: Gate, now: datetime, notes: list[str]
) -> tuple[tuple[QuotaWindow, ...], tuple[tuple[str, str], ...]]:
    lg = gate.last_good(PID)
    if lg is None:
        return (), ()
    from bhoga._values import human_duration  # noqa: PLC0415

    notes.append(f"last good answer is {human_duration(now - lg.at)} old")
    return lg.windows, lg.extra


def credential_fact(now: datetime) -> CredentialFact:
    """What `bhoga doctor` says about the Copilot token (its origin and kind, never its value); `now` is unused
    (every discovery module's `credential_fact` takes it)."""
    token, notes = find_token()
    if token is None:
        summary = (
            notes[0] if notes else "no Copilot token in COPILOT_GITHUB_TOKEN, GH_TOKEN, GITHUB_TOKEN or `gh auth token`"
        )
        return CredentialFact(
            PID, False, summary, "export COPILOT_GITHUB_TOKEN=$(gh auth token)  # after `gh auth login`"
        )
    kind = next(
        (
            k
            for p, k in (("gho_", "OAuth app"), ("github_pat_", "fine-grained PAT"), ("ghu_", "GitHub App user"))
            if token.value.startswith(p)
        ),
        "unrecognised kind",
    )
    return CredentialFact(PID, True, f"Copilot token from {token.origin} ({kind})")
