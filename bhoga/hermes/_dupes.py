"""Duplicate keys: harmless where bhoga does not edit, refused where it does.

Hermes loads config.yaml with PyYAML, which keeps the last of two equal keys. A duplicate far from anything
bhoga writes changes nothing bhoga does, so it does not block. Inside `model:`, or on a key the edit writes or
descends through, bhoga would edit the first while Hermes reads the last, so the edit is refused with both line
numbers and the lines to delete (the first, which Hermes already ignores).
"""

from __future__ import annotations

from bhoga.errors import HermesConfigError
from bhoga.hermes._render import DELETE, Spec, SpecValue
from bhoga.hermes._yamldoc import Doc, Duplicate, Mapping, Node, Scalar, Sequence

__all__ = ["ROUTE_KEYS", "blocking_duplicate", "duplicate_error"]

ROUTE_KEYS: Spec = {"model": {}, "base_url": DELETE, "api_base": DELETE}
"""What every route edits whatever the provider: all of `model:` and the root endpoint keys."""


def _last_end(node: Node) -> int:
    if isinstance(node, Mapping | Sequence) and not node.flow and node.items:
        last = node.items[-1]
        return _last_end(last[1] if isinstance(last, tuple) else last)
    return node.end


def _name(dup: Duplicate) -> str:
    out = ""
    for p in (*dup.path, dup.key):
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _edited(dup: Duplicate, spec: Spec) -> bool:
    if dup.path[:1] == ("model",) or (not dup.path and dup.key == "model"):
        return True
    sub: SpecValue = spec
    for p in dup.path:
        if not isinstance(sub, dict) or not isinstance(p, str) or p not in sub:
            return False
        sub = sub[p]
    return isinstance(sub, dict) and dup.key in sub


def duplicate_error(doc: Doc, dup: Duplicate) -> HermesConfigError:
    """The one-line refusal for `dup`, naming both lines and what to delete."""
    first = doc.line_of(dup.first.start) + 1
    last = doc.line_of(dup.last.start) + 1
    value = dup.first_value
    end = _last_end(value) if not (isinstance(value, Scalar) and value.start == value.end) else dup.first.end
    stop = max(first, doc.line_of(max(end - 1, dup.first.start)) + 1)
    if first == last:
        what = f"the first {dup.key} entry on line {first}"
    else:
        what = f"line {first}" if stop == first else f"lines {first}-{stop}"
        what += f" (the first {dup.key}:)"
    return HermesConfigError(
        f"{doc.path}: duplicate key {_name(dup)} at lines {first} and {last}; Hermes reads only the last one, "
        f"so delete {what} and try again; file left unchanged"
    )


def blocking_duplicate(doc: Doc, spec: Spec) -> HermesConfigError | None:
    """The refusal for the first duplicate key inside what `spec` edits, None when there is none."""
    for dup in doc.duplicates(spec):
        if _edited(dup, spec):
            return duplicate_error(doc, dup)
    return None
