"""Text a person reads at a glance: the `bhoga status` screen and the `bhoga best` answer.

Everything here is pure: it takes the JSON-shaped `status` answer (the daemon's, or one built locally when no
daemon runs) and a `Style`, so both paths, the live view and the tests print the same thing. Lines fit the
style's width (80 columns by default): one line per provider with the window that binds it, a bar of what is
left, the reset countdown and the pace; a reading too old to trust says "stale" instead of its old status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bhoga._model import RouterRecommendation
from bhoga._provider_entry import Kind
from bhoga._providers import PROVIDERS
from bhoga._values import human_duration, window_label
from bhoga.cli._term import Style

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["STALE_AFTER", "fit", "render_best", "render_status", "until"]

STALE_AFTER = 45 * 60
"""Seconds after which a subscription reading is shown as stale: three missed polls of the slowest endpoint
(Copilot's 15 minutes), so a daemon that keeps up never shows it, and a three-hour-old number never says "ok"."""

_BAR = 10
_NAME, _STATUS, _WIN, _RESET = 14, 10, 9, 7
_STATUS_COLOUR = {
    "metered": "cyan",
    "ok": "green",
    "low": "yellow",
    "throttled": "red",
    "exhausted": "red",
    "rejected": "red",
}
_ORDER = {pid: i for i, pid in enumerate(PROVIDERS)}


def until(when: datetime | None, now: datetime) -> str:
    """Time to `when` the way a person says it: "2h 13m", "3d 4h", "45s"; "-" when unknown, "now" when past."""
    if when is None:
        return "-"
    s = (when - now).total_seconds()
    return "now" if s < 1 else human_duration(s)


def fit(text: str, width: int) -> str:
    """`text` cut to `width` columns with an ellipsis (a 100 KB model name must not flood the screen)."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _dt(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _pct(fraction: float) -> str:
    """The same rounding the routing reasons use, so "1%" never sits beside "0%" for one number."""
    return "?" if fraction < 0 else f"{round(fraction * 100)}%"


def _label(w: Mapping[str, Any]) -> str:
    return window_label(str(w.get("name")), str(w.get("scope") or "*"))


def _left(w: Mapping[str, Any]) -> float:
    return max(0.0, min(1.0, 1.0 - float(w.get("pct_used") or 0.0) / 100.0))


def _binding(windows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The window that limits every model of the provider most: the least left among the account-wide ones."""
    pool = [w for w in windows if (w.get("scope") or "*") == "*"] or list(windows)
    return min(pool, key=_left) if pool else None


def _pace(w: Mapping[str, Any], now: datetime, style: Style) -> str:
    pace = w.get("pace")
    if not isinstance(pace, Mapping):
        return ""
    out = _dt(pace.get("runs_out_at"))
    if out is not None and out > now:
        soon = (out - now).total_seconds() < 3600
        return style.paint(f"out in {until(out, now)}", "red" if soon else "yellow")
    rate = pace.get("pct_per_hour")
    if isinstance(rate, int | float):
        return style.paint("idle" if rate < 0.05 else f"{rate:.0f}%/h, lasts", "grey" if rate < 0.05 else "green")
    return ""


def _absent(q: Mapping[str, Any]) -> bool:
    """Nothing known and no credential: a provider this user has not set up, listed once at the bottom."""
    if q.get("windows") or q.get("throttled_until") or q.get("credential"):
        return False
    return q.get("credential_state") in (None, "absent")


def _cells(q: Mapping[str, Any], w: Mapping[str, Any] | None, now: datetime, style: Style) -> tuple[str, str, str]:
    """(status, the window/bar/left/resets/pace part, the status colour) of provider `q` shown by window `w`."""
    pid = str(q.get("provider_id"))
    prov = PROVIDERS.get(pid)
    status = str(q.get("status") or "unknown")
    cred = q.get("credential_state")
    reset_text, pace_text = "", ""
    throttled = _dt(q.get("throttled_until"))
    if cred == "rejected":
        status = "rejected"
    elif throttled is not None and throttled > now:
        status, pace_text = "throttled", style.paint(f"wait {until(throttled, now)}", "red")
    stale = False
    if w is not None:
        resets, seen = _dt(w.get("resets_at")), _dt(w.get("observed_at"))
        passed = resets is not None and resets <= now
        old = seen is not None and (now - seen).total_seconds() > STALE_AFTER and w.get("source") != "set_quota"
        if (passed or old) and status not in ("throttled", "rejected"):
            stale = True
            status = f"stale {human_duration((now - seen).total_seconds())}" if seen else "stale"
        left = _left(w)
        colour = "grey" if stale else "green" if left >= 0.5 else "yellow" if left >= 0.2 else "red"
        gauge = style.bar(0.0 if passed else left, _BAR, colour)
        reset_text = "passed" if passed else until(resets, now)
        if not pace_text and not stale:
            pace_text = _pace(w, now, style)
        middle = f"{fit(_label(w), _WIN):<{_WIN}} {gauge} {'?' if passed else _pct(left):>4}"
    else:
        metered = prov is not None and prov.kind is Kind.METERED
        text = "pay per use, no budget set" if metered else "no reading yet"
        if metered and status == "unknown":
            status = "metered"  # a key and no budget: usable, billed per request; "unknown" would alarm
        middle = style.paint(f"{'-':<{_WIN}} {text:<{_BAR + 5}}", "grey")
    if status == "ok" and cred == "unverified":
        status = "unverified"
    status_colour = "yellow" if stale else _STATUS_COLOUR.get(status, "grey")
    return status, f"{middle}  {reset_text:>{_RESET}}  {pace_text}".rstrip(), status_colour


def _row(q: Mapping[str, Any], now: datetime, style: Style, *, all_windows: bool) -> list[str]:
    windows = [w for w in q.get("windows") or () if isinstance(w, Mapping)]
    first = _binding(windows)
    status, rest, colour = _cells(q, first, now, style)
    name = fit(str(q.get("provider_id")), _NAME).ljust(_NAME)
    lines = [f"{style.paint(name, 'bold')} {style.paint(status.ljust(_STATUS), colour)} {rest}"]
    if all_windows:
        for w in sorted(windows, key=lambda w: (w.get("scope", "*") != "*", int(w.get("window_min") or 10**9))):
            if w is not first:
                lines.append(" " * (_NAME + _STATUS + 2) + _cells(q, w, now, style)[1])
    note = " ".join(str(q.get("note") or "").split())
    if note:
        lines.append(style.paint(fit(f"{'':<{_NAME}} ↳ {note}", style.width), "grey"))
    return lines


def _home_short(path: str) -> str:
    home = str(Path.home())
    return "~" + path[len(home) :] if home not in ("", "/") and path.startswith(home + "/") else path


def _wrap(text: str, width: int, indent: int) -> list[str]:
    width = max(width - indent, 20)
    # A short line without tabs, newlines or trailing blanks is textwrap's one line as it is: the usual reason
    # needs no textwrap (~1 ms of `bhoga status`).
    if len(text) <= width and text.isprintable() and not text.endswith(" "):
        return [text]
    import textwrap  # noqa: PLC0415

    return textwrap.wrap(text, width=width, break_on_hyphens=False) or [""]


def _daemon_line(daemon: Mapping[str, Any] | None, policy: object, now: datetime, style: Style) -> str:
    # The policy the answer was ranked under: since round six "value" is the default, and bhogad.toml may say
    # otherwise, so the screen says which (a bhogad older than the field sends none).
    ranked = f" · policy {policy}" if isinstance(policy, str) else ""
    if daemon is None:
        return style.paint("bhogad not running", "yellow") + " · local view: saved state + discovery" + ranked
    facts = [f"bhogad {daemon.get('version') or '?'}", f"pid {daemon.get('pid') or '?'}"]
    started = _dt(daemon.get("started_at"))
    if started is not None:
        facts.append(f"up {human_duration((now - started).total_seconds())}")
    return style.paint(facts[0], "bold") + " · " + " · ".join(facts[1:]) + ranked


def render_status(
    answer: Mapping[str, Any],
    *,
    from_daemon: bool,
    style: Style | None = None,
    now: datetime | None = None,
    all_windows: bool = False,
) -> str:
    """The whole `bhoga status` screen for a `status` answer (`from_daemon` False: built locally)."""
    style = style or Style()
    now = now or datetime.now(UTC)
    width = style.width
    daemon = answer.get("daemon") if from_daemon else None
    daemon = daemon if isinstance(daemon, Mapping) else ({} if from_daemon else None)
    out = [_daemon_line(daemon, answer.get("policy"), now, style)]
    if answer.get("paused"):
        out.append(style.paint("PAUSED", "yellow", "bold") + ": the Hermes config is left alone until `bhoga resume`")
    out.append("")
    quotas = [q for q in answer.get("quotas") or () if isinstance(q, Mapping)]
    shown = [q for q in quotas if q.get("model", "*") == "*"] or quotas
    if not shown:
        out.append("No provider found yet: run `bhoga doctor` to see what is missing.")
    else:
        head = f"{'PROVIDER':<{_NAME}} {'STATUS':<{_STATUS}} {'WINDOW':<{_WIN}} {'LEFT':<{_BAR + 5}}"
        out.append(style.paint(f"{head}  {'RESETS':>{_RESET}}  PACE", "grey"))
    missing = []
    for q in sorted(shown, key=lambda q: _ORDER.get(str(q.get("provider_id")), 99)):
        if _absent(q):
            missing.append(str(q.get("provider_id")))
        else:
            out.extend(_row(q, now, style, all_windows=all_windows))
    if missing:
        out.append(style.paint(fit(f"not set up: {', '.join(missing)} (`bhoga doctor` says how)", width), "grey"))
    out.append("")
    out.extend(_hermes_lines(answer, width, style))
    return "\n".join(out).rstrip() + "\n"


def _hermes_lines(answer: Mapping[str, Any], width: int, style: Style) -> list[str]:
    out: list[str] = []
    hermes = answer.get("hermes")
    if isinstance(hermes, Mapping) and hermes.get("path"):
        provider, model = hermes.get("provider"), hermes.get("model")
        route = f"{provider or '?'} / {fit(str(model), 40)}" if provider or model else "no model set up yet"
        out.append(fit(f"Hermes   {route}   ({_home_short(str(hermes['path']))})", width))
        if hermes.get("pinned"):
            since = _dt(hermes.get("pinned_since"))
            when = f" since {since:%Y-%m-%d %H:%M}" if since else ""
            out.append(
                "         " + style.paint(f"pinned{when}", "magenta") + ": bhoga will not change it until `bhoga unpin`"
            )
        last = hermes.get("last_pass")
        problem = hermes.get("problem")
        if problem and not (isinstance(last, Mapping) and last.get("outcome") == "error"):
            # Never a bare "? / ?": say why the route is not known.
            out.extend(" " * 9 + style.paint(part, "red") for part in _wrap(f"route unknown: {problem}", width, 9))
        if isinstance(last, Mapping) and last.get("outcome") == "error":
            text = f"last pass failed: {last.get('message')}"
            out.extend(" " * 9 + style.paint(part, "red") for part in _wrap(text, width, 9))
    for r in answer.get("routes") or ():
        if not isinstance(r, Mapping):
            continue
        model = fit(str(r.get("model")), 40)
        rec = r.get("recommendation")
        if not isinstance(rec, Mapping):
            out.append(f"Choice   {model}: " + style.paint("none — no provider can serve it", "red"))
            continue
        out.append(f"Choice   {model} → " + style.paint(str(rec.get("provider_id")), "bold"))
        out.extend(" " * 9 + style.paint(part, "grey") for part in _wrap(str(rec.get("reason") or ""), width, 9))
    return out


def render_best(
    model: str, rec: RouterRecommendation | None, ranked: Sequence[RouterRecommendation], *, unknown: bool = False
) -> str:
    """The `bhoga best` answer: the pick with its reason, then the ranked alternatives."""
    shown = fit(model, 60)
    if rec is None:
        if unknown:
            return (
                f"unknown model {shown!r}: not a Claude, GPT/Codex or Gemini model name, and no provider that "
                "serves other models (github-copilot) is available.\n"
            )
        return f"No provider can serve {shown} now (run `bhoga doctor` to see what is missing).\n"
    left = "quota unknown" if rec.quota_pct < 0 else f"{_pct(rec.quota_pct)} left"
    lines = [
        f"{rec.provider_id}  →  Hermes model {fit(rec.hermes_model, 50)}   ({left}, {rec.status.value})",
        f"  why: {rec.reason}",
    ]
    others = [r for r in ranked if r.provider_id != rec.provider_id]
    if others:
        lines.append("alternatives, best first:")
        for i, r in enumerate(others, 2):
            pct = "?" if r.quota_pct < 0 else _pct(r.quota_pct)
            lines.append(f"  {i}. {r.provider_id:<15} {pct:>4} left  {r.status.value:<9} {r.reason}")
    return "\n".join(lines) + "\n"
