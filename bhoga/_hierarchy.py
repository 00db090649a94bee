"""Which providers serve a model (DESIGN §2), memoised, and the registry changes that must forget what was memoised.

`hierarchy` and `serving` are on the path of every routing answer, so each is worked out once per model family
from `bhoga._providers.PROVIDERS`; `register` and `unregister` change the registry and clear those answers (and
tell the modules that asked with `on_change`). Pure: no I/O.
"""

from __future__ import annotations

from bhoga._providers import FAMILIES, FAMILY_HEAD, PROVIDERS, model_family

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from bhoga._provider_entry import Provider

__all__ = ["hierarchy", "on_change", "register", "serving", "unregister"]

_hierarchies: dict[str, tuple[str, ...]] = {}
_serving: dict[str, frozenset[str]] = {}
_serving_by_head: dict[str, frozenset[str]] = {}
"""`serving`'s answers by the first `FAMILY_HEAD` characters of a name (`bhoga._quickrank` reads it inline)."""
_SERVING_MAX = 4096
_listeners: list[Callable[[], None]] = []


def on_change(fn: Callable[[], None]) -> None:
    """Call `fn` whenever the registry changes (modules that memoise what they derived from it)."""
    _listeners.append(fn)


def _changed() -> None:
    _hierarchies.clear()
    _serving.clear()
    _serving_by_head.clear()
    for fn in _listeners:
        fn()


def register(p: Provider) -> None:
    """Add a provider (or replace the entry of the same id); every reader sees it from now on."""
    if p.family not in (*FAMILIES, "any"):
        raise ValueError(f"provider {p.id!r}: unknown family {p.family!r}")
    PROVIDERS[p.id] = p
    _changed()


def unregister(pid: str) -> None:
    """Remove a provider added by `register`."""
    PROVIDERS.pop(pid, None)
    _changed()


def hierarchy(model: str) -> tuple[str, ...]:
    """The providers that can serve `model`, in priority order (registry order among equals)."""
    family = model_family(model)
    hit = _hierarchies.get(family)
    if hit is None:
        members = [p for p in PROVIDERS.values() if p.family in (family, "any")]
        hit = _hierarchies[family] = tuple(p.id for p in sorted(members, key=lambda p: p.priority))
    return hit


def serving(model: str) -> frozenset[str]:
    """The providers that may serve `model` (`hierarchy` as a set); one set per family.

    A model never seen before is mostly a sibling of one that was (`claude-sonnet-5` after `claude-sonnet-4-6`):
    its family is found by its first characters (`FAMILY_HEAD`), one lookup."""
    if "/" not in model:
        head = model.lstrip()[:FAMILY_HEAD]
        hit = _serving_by_head.get(head)
        if hit is None:
            if len(_serving_by_head) >= _SERVING_MAX:  # a caller inventing names must not grow it without end
                _serving_by_head.clear()
            hit = _serving_by_head[head] = _serving_of(head)
        return hit
    return _serving_of(model)


def _serving_of(model: str) -> frozenset[str]:
    family = model_family(model)
    hit = _serving.get(family)
    if hit is None:
        hit = _serving[family] = frozenset(hierarchy(model))
    return hit
