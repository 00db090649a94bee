"""Policy "value": what a turn of each model saves, per unit of a subscription window (pure: no I/O, no clock).

A subscription window that will run out before its reset cannot serve every model asked of it; the plan that
pays least keeps it for the models that save the most metered money per unit of it, and sends the others to a
subscription with room or to a metered API. One Opus turn costs Claude Code about three Sonnet turns but Copilot
ten, so when both run short Opus belongs on Claude Code and Sonnet on Copilot (comparative advantage); a model
with no metered route at all (Gemini, reachable only through Copilot in some setups) saves without bound, so a
window that is its only route is kept for it (sole-route protection).

What the policy knows is what the live Router knows, no oracle:

- `costs`: percent of each window one turn of a model uses, as `bhoga._turncount.TurnCount` learns it from
  consecutive readings (`{(pid, window key): {model: percent}}`).
- `prices`: the relative price of one turn of a model family on a metered API (`PRICES`, list prices; users may
  override them in bhogad.toml). Only ratios matter: densities are compared within one window.
- `models`: the models in use (asked about, or routed), so that a window is kept only for demand that exists.

`rival` answers, for one model on one window, the model in use the window would rather serve (None when this
model is as good a use of it as any, within `_CLOSE`); the routing core (`bhoga._routing`, policy "value") then
ranks the window after the other subscriptions for this model when the window is forecast to run out, and after
the metered APIs when it is the rival's only route and below `SOLE_KEEP`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from bhoga._hierarchy import serving
from bhoga._model import QuotaWindow
from bhoga._record import field, record

__all__ = ["PRICES", "SOLE_KEEP", "Economics", "cycle_projection", "density", "lookup", "price_of", "rival"]

PRICES: tuple[tuple[str, float], ...] = (
    ("opus-4-0", 75.0),
    ("opus-4-1", 75.0),
    ("opus-4-2025", 75.0),
    ("opus", 25.0),
    ("sonnet", 15.0),
    ("haiku", 5.0),
    ("gpt", 10.0),
    ("o3", 8.0),
    ("o4", 4.4),
    ("gemini", 10.0),
    ("*", 10.0),
)
"""List price of a model family's output, USD per million tokens (Anthropic, OpenAI and Google pricing pages,
November 2025: Opus 4.5 and later $25, Opus 4/4.1 $75, Sonnet $15, Haiku 4.5 $5, GPT-5 $10, o3 $8, o4-mini $4.40,
Gemini 2.5 Pro $10). A proxy for the price of a turn: input prices keep nearly the same ratios. The longest key
that is a substring of the model name wins."""

SOLE_KEEP = 0.35
"""Headroom a window keeps for a model in use it is the only route of, or that saves at least twice as much per
unit of it (others pay for theirs below it)."""
_MIN_ELAPSED = 0.1
"""A cycle's average is not trusted before this share of it has passed."""
_CLOSE = 0.8
"""A model whose density on a window is within this factor of the best one's is as good a use of it."""
_DOMINATED = 0.55
"""A model whose density on a window is at most this factor of another's (about half: learned costs are fits, so
exactly half must not hinge on the last digit) leaves it the last `SOLE_KEEP` of it."""
_FAR = 0.35
"""A model whose density on a window is at most this factor of another's (about a third) leaves all of it to that
model while more than `_LATE` of the window's cycle is left: at today's list prices an Opus turn saves 5/3 of what
a Sonnet turn saves and costs Copilot ten premium requests, a sixth as much per request."""
_LATE = 0.25
"""The share of a window's cycle, at its end, in which `_FAR` stands aside: what is left then would be lost."""


@record
class Economics:
    """What policy "value" knows beyond the windows themselves (see the module docstring)."""

    costs: Mapping[tuple[str, str], Mapping[str, float]] = field(default_factory=dict)
    prices: tuple[tuple[str, float], ...] = PRICES
    models: frozenset[str] = frozenset()
    metered: frozenset[str] = frozenset()
    """Metered providers that can take a request (a credential, not rejected): a model with none is priceless."""
    memo: dict[object, object] = field(default_factory=dict, compare=False, repr=False)
    """`price_of`'s answers and what each window's models in use ask of it (`rival`), which depend on nothing else:
    a Router keeps one `Economics` while its state does not change, so that ranking a model again does not redo
    them (make a new one to change a field)."""


def lookup(table: tuple[tuple[str, float], ...], model: str, default: float) -> float:
    """The value of the longest key that is a substring of `model` ("*" matches all)."""
    best: tuple[int, float] = (-1, default)
    low = model.lower()
    for key, value in table:
        n = 0 if key == "*" else len(key) if key in low else -1
        if n > best[0]:
            best = (n, value)
    return best[1]


def price_of(model: str, econ: Economics) -> float:
    """What serving `model` elsewhere would cost: its metered price, or infinity with no metered route."""
    hit = econ.memo.get(model)
    if hit is None:
        routed = not econ.metered.isdisjoint(serving(model))
        hit = econ.memo[model] = lookup(econ.prices, model, 10.0) if routed else math.inf
    return hit  # type: ignore[return-value]


def density(pid: str, window: QuotaWindow, model: str, econ: Economics) -> float | None:
    """Metered money one percent of `window` saves when it serves `model`; None when the cost is not learned."""
    value = price_of(model, econ)
    if value == math.inf:
        return value
    cost = econ.costs.get((pid, window.key), {}).get(model)
    if cost is None or cost <= 0:
        return None
    return value / cost


def cycle_projection(window: QuotaWindow, now: datetime) -> float | None:
    """Percent used at the reset if the window goes on at its average rate since its last reset (None: unknown).

    The long view: a whole cycle's average, not the last hour's burst."""
    if window.resets_at is None or window.window_min <= 0 or window.resets_at <= now:
        return None
    length = window.window_min * 60.0
    left = (window.resets_at - now).total_seconds()
    elapsed = length - left
    if elapsed < length * _MIN_ELAPSED:
        return None
    return window.pct_used * length / elapsed


def rival(
    pid: str, window: QuotaWindow, model: str, econ: Economics, headroom: float, now: datetime
) -> tuple[str, bool] | None:
    """The model in use that `window` of `pid` would rather serve than `model`, and whether the window is kept
    for it whatever its pace; None when `model` is as good a use as any.

    A model with no metered route is never refused; a window that is the only route of another model in use keeps
    `SOLE_KEEP` of itself for it; otherwise the model that saves most per percent of the window is the rival, when
    `model` saves less than `_CLOSE` times as much; the window keeps `SOLE_KEEP` of itself for the rival when
    `model` saves at most `_DOMINATED` times as much, and all of itself until the last `_LATE` of its cycle when
    `model` saves at most `_FAR` times as much.
    """
    if price_of(model, econ) == math.inf:
        return None  # nothing else can serve it
    key = (pid, window.key)
    uses: tuple[str | None, tuple[float, str] | None] | None = econ.memo.get(key)  # type: ignore[assignment]
    if uses is None:
        uses = econ.memo[key] = _uses(pid, window, econ)
    # `model` is neither of them when they count: it has a metered route, and if it saved the most it would
    # have no rival.
    sole, top = uses
    if sole is not None and headroom < SOLE_KEEP:
        return sole, True  # its only route: the last of the window is its own
    mine = density(pid, window, model, econ)
    if mine is None or top is None or mine >= _CLOSE * top[0]:
        return None
    if mine <= _FAR * top[0] and _contested(window, now):
        # A turn that takes several times its worth from a window another model will want: paying for it costs
        # less, unless the window is bound to reset with some of it unused (use it or lose it).
        return top[1], True
    # Saving at most half as much (Opus on Copilot: 10 premium requests for the price of 5 Sonnet turns), it leaves
    # the last of the window to the rival as it would to a model with no other route: whatever the pace says, for
    # Copilot is read only every 15 minutes and its spill-over comes in bursts no pace sees coming.
    return top[1], headroom < SOLE_KEEP and mine <= _DOMINATED * top[0]


def _contested(window: QuotaWindow, now: datetime) -> bool:
    """Whether `window` may well be used up by its reset: more than `_LATE` of its cycle is ahead, and its average
    since its last reset does not leave `_LATE` of it unused (True when its reset or length is unknown)."""
    if window.resets_at is None or window.window_min <= 0:
        return True
    if (window.resets_at - now).total_seconds() <= _LATE * window.window_min * 60:
        return False
    projected = cycle_projection(window, now)
    return projected is None or projected >= 100.0 * (1.0 - _LATE)


def _uses(pid: str, window: QuotaWindow, econ: Economics) -> tuple[str | None, tuple[float, str] | None]:
    """What the models in use that `window` of `pid` can serve ask of it, worked out once for every model ranked
    on it: the first with no metered route, and the one that saves the most per percent of it."""
    sole: str | None = None
    top: tuple[float, str] | None = None
    for other in sorted(econ.models):
        if pid not in serving(other) or not window.applies_to(other):
            continue
        if price_of(other, econ) == math.inf:
            sole = sole or other
            continue
        d = density(pid, window, other, econ)
        if d is not None and (top is None or d > top[0]):
            top = (d, other)
    return sole, top
