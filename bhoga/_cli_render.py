"""Text a person reads at a glance: the `bhoga status` table and the `bhoga best` answer.

Everything here is pure: it takes the same JSON-shaped data the daemon's `status` answer carries (built
locally when no daemon runs), so both paths print the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bhoga._model import ProviderQuota, RouterRecommendation
from bhoga._providers import PROVIDERS

__all__ = ["bar", "render_best", "render_status", "until"]

_BAR_WIDTH = 10
_WINDOW_LABEL = {"burst": "5h", "weekly": "7d", "monthly": "month", "budget": "budget", "budget_weekly": "budget 7d"}


def bar(pct_used: float, width: int = _BAR_WIDTH) -> str:
    """A bar of the part still left: `[######----]` at 40 % used."""
    left = max(0.0, min(100.0, 100.0 - pct_used))
    filled = round(left / 100 * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def until(when: datetime | None, now: datetime) -> str:
    """Time to `when` the way a person says it: "2h 13m", "3d 4h", "45s"; "-" when unknown, "now" when past."""
    if when is None:
        return "-"
    s = int((when - now).total_seconds())
    if s <= 0:
        return "now"
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def _window_label(name: str, scope: str) -> str:
    label = _WINDOW_LABEL.get(name, name)
    return label if scope == "*" else f"{label} {scope}"


def _pct(x: float) -> str:
    return "?" if x < 0 else f"{x * 100:.0f}%"


def _provider_block(q: ProviderQuota, now: datetime) -> list[str]:
    label = PROVIDERS[q.provider_id].label if q.provider_id in PROVIDERS else q.provider_id
    head = f"{q.provider_id:<15} {q.status.value:<9} headroom {_pct(q.quota_pct):>4}   {label}"
    if q.throttled_until is not None and q.throttled_until > now:
        head += f"   throttled for {until(q.throttled_until, now)}"
    lines = [head]
    for w in sorted(q.windows, key=lambda w: (w.scope != "*", w.window_min or 10**9, w.name)):
        left = 100.0 - w.pct_used
        expired = w.resets_at is not None and w.resets_at <= now
        shown = "reset, waiting for fresh data" if expired else f"resets in {until(w.resets_at, now)}"
        lines.append(
            f"  {_window_label(w.name, w.scope):<14} {bar(w.pct_used)} {left:3.0f}% left   {shown}"
            + (f"   ({w.source})" if w.source else "")
        )
    if not q.windows:
        lines.append("  no window known yet" + ("" if q.credential else " (no credential found)"))
    if q.note:
        lines.append(f"  note: {q.note}")
    return lines


def render_status(
    quotas: Sequence[ProviderQuota],
    routes: Sequence[Mapping[str, Any]],
    hermes: Mapping[str, Any] | None,
    *,
    paused: bool,
    daemon: Mapping[str, Any] | None,
    now: datetime | None = None,
) -> str:
    """The whole `bhoga status` screen; `daemon` is the answer's "daemon" object, None for a local view."""
    now = now or datetime.now(UTC)
    out: list[str] = []
    if daemon is not None:
        facts = ", ".join(f"{k} {daemon[k]}" for k in ("pid", "version") if daemon.get(k) is not None)
        out.append(f"bhogad running ({facts})" if facts else "bhogad running")
    else:
        out.append("bhogad not running: showing this machine's saved state and local discovery")
    if paused:
        out.append("PAUSED: the Hermes config is left alone until `bhoga resume`")
    out.append("")
    shown = [q for q in quotas if q.model == "*"] or list(quotas)
    if not shown:
        out.append("No provider found yet: run `bhoga doctor` to see what is missing.")
    for q in sorted(shown, key=lambda q: list(PROVIDERS).index(q.provider_id) if q.provider_id in PROVIDERS else 99):
        out.extend(_provider_block(q, now))
    out.append("")
    if hermes and hermes.get("path"):
        route = f"{hermes.get('provider') or '?'} / {hermes.get('model') or '?'}"
        out.append(f"Hermes now uses: {route}   ({hermes['path']})")
    for r in routes:
        rec = r.get("recommendation")
        if rec is None:
            out.append(f"Choice for {r.get('model')}: none — no provider can serve it")
        else:
            out.append(f"Choice for {r.get('model')}: {rec['provider_id']} ({rec['hermes_model']}) — {rec['reason']}")
    return "\n".join(out).rstrip() + "\n"


def render_best(model: str, rec: RouterRecommendation | None, ranked: Sequence[RouterRecommendation]) -> str:
    """The `bhoga best` answer: the pick with its reason, then the ranked alternatives."""
    if rec is None:
        return f"No provider can serve {model} now (run `bhoga doctor` to see what is missing).\n"
    lines = [
        f"{rec.provider_id}  →  Hermes model {rec.hermes_model}   headroom {_pct(rec.quota_pct)}, {rec.status.value}",
        f"  why: {rec.reason}",
    ]
    others = [r for r in ranked if r.provider_id != rec.provider_id]
    if others:
        lines.append("alternatives, best first:")
        for i, r in enumerate(others, 2):
            lines.append(f"  {i}. {r.provider_id:<15} headroom {_pct(r.quota_pct):>4}  {r.status.value:<9} {r.reason}")
    return "\n".join(lines) + "\n"
