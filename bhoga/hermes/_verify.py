"""Check an edit by re-parsing only the top-level entries it touched, and build the new file's tree from them.

A block-style top-level entry starts at a column-0 key line, so the text of untouched entries is the same
bytes at shifted positions and parses the same way; only the changed entries (a run of them, parsed together
as a standalone document) need the parser. The result must hold exactly the data the change was meant to
produce; when the shortcut cannot be used (a flow root, an alias across entries), the whole file is parsed.
"""

from __future__ import annotations

import re
from typing import Any

from bhoga.errors import HermesConfigError
from bhoga.hermes._yamldoc import Alias, Doc, Mapping, Node, Scalar, Sequence, parse_doc, to_data

__all__ = ["shifted", "verified"]

Edit = tuple[int, int, str]


def shifted(node: Node, d: int) -> Node:
    """`node` with every position moved by `d` (the same object when `d` is 0; nodes are never mutated)."""
    if d == 0:
        return node
    if isinstance(node, Scalar):
        return Scalar(node.value, node.style, node.start + d, node.end + d, node.anchor)
    if isinstance(node, Alias):
        return Alias(node.name, node.start + d, node.end + d)
    if isinstance(node, Sequence):
        return Sequence([shifted(i, d) for i in node.items], node.flow, node.start + d, node.end + d, node.anchor)
    items = [(shifted(k, d), shifted(v, d)) for k, v in node.items]
    return Mapping(items, node.flow, node.start + d, node.end + d, node.anchor)


def _full(doc: Doc, new_raw: bytes, expected: Any) -> Doc:
    after = parse_doc(new_raw, doc.path)
    # A key the edit gave twice would hide from the data compared (the last one wins).
    if to_data(after.root) != expected or len(after.duplicates) > len(doc.duplicates):
        raise HermesConfigError(
            f"{doc.path}: the edit could not be made without changing other keys; file left unchanged"
        )
    return after


def _by_entries(doc: Doc, new_text: str, new_raw: bytes, edits: list[Edit]) -> Doc | None:
    root = doc.root
    assert root is not None
    if doc.duplicates:
        return None  # the new tree must carry them too; a full parse finds them
    bounds = [doc.line_start(k.start) for k, _ in root.items] + [len(doc.text)]
    if any(s < bounds[0] for s, _, _ in edits):
        return None
    n = len(root.items)
    touched = [any(s <= bounds[i + 1] and e >= bounds[i] for s, e, _ in edits) for i in range(n)]

    def moved(x: int) -> int:
        return x + sum(len(r) - (e - s) for s, e, r in edits if s < x)

    items: list[tuple[Node, Node]] = []
    i = 0
    while i < n:
        if not touched[i]:
            d = moved(bounds[i]) - bounds[i]
            k, v = root.items[i]
            items.append((shifted(k, d), shifted(v, d)))
            i += 1
            continue
        j = i
        while j < n and touched[j]:
            j += 1
        start = moved(bounds[i])
        end = moved(bounds[j]) if j < n else len(new_text)
        parsed = parse_doc(new_text[start:end].encode(), doc.path)
        part = parsed.root
        if parsed.duplicates:
            return None
        if part is not None:
            if part.flow:
                return None
            items.extend((shifted(k, start), shifted(v, start)) for k, v in part.items)
        i = j
    keys = [k.value for k, _ in items if isinstance(k, Scalar)]
    if not items or len(set(keys)) != len(keys) or any(not isinstance(k, Scalar) for k, _ in items):
        return None
    new_root = Mapping(items, False, items[0][0].start, moved(root.end), root.anchor)
    starts = [0] + [m.end() for m in re.finditer("\n", new_text)]
    newline = "\r\n" if "\r\n" in new_text else "\n"  # as parse_doc decides it
    return Doc(doc.path, new_raw, new_text, doc.bom, newline, new_root, starts)


def verified(doc: Doc, new_text: str, new_raw: bytes, edits: list[Edit], expected: Any) -> Doc:
    """The new file's parsed form; `HermesConfigError` unless its data is exactly `expected`."""
    root = doc.root
    if root is None or root.flow or not root.items or root.anchor is not None:
        return _full(doc, new_raw, expected)
    try:
        built = _by_entries(doc, new_text, new_raw, edits)
    except HermesConfigError:
        built = None
    if built is None or to_data(built.root) != expected:
        return _full(doc, new_raw, expected)
    return built
