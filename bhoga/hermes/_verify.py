"""Check an edit by re-parsing only the top-level entries it touched, and build the new file's tree from them.

A block-style top-level entry starts at a column-0 key line, so the text of untouched entries is the same
bytes at shifted positions and parses the same way; only the changed entries (a run of them, parsed together
as a standalone document) need the parser. The result must hold exactly the data the change was meant to
produce; when the shortcut cannot be used (a flow root, an alias across entries), the whole file is parsed.
"""

from __future__ import annotations

import bisect
import copy
import itertools
from collections.abc import Callable
from typing import Any

from bhoga._record import record
from bhoga.errors import HermesConfigError
from bhoga.hermes._render import DELETE, Spec, has_content
from bhoga.hermes._yamldoc import Alias, Doc, Mapping, Node, Scalar, Sequence, parse_doc, to_data

__all__ = ["Lazy", "expect", "shifted", "verified", "verified_lazy"]

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


def expect(data: Any, spec: Spec) -> Any:
    """The data a file holding `data` must hold after `spec`: the check that no other key moved."""
    out = dict(data) if isinstance(data, dict) else {}
    for key, want in spec.items():
        if want is DELETE:
            out.pop(key, None)
        elif isinstance(want, dict):
            if isinstance(out.get(key), dict) or has_content(want):
                out[key] = expect(out.get(key), want)
        else:
            out[key] = copy.deepcopy(want)
    return out


def _fail(doc: Doc) -> HermesConfigError:
    return HermesConfigError(f"{doc.path}: the edit could not be made without changing other keys; file left unchanged")


def _full(doc: Doc, new_raw: bytes, spec: Spec) -> Doc:
    after = parse_doc(new_raw, doc.path)
    # A key the edit gave twice would hide from the data compared (the last one wins).
    if to_data(after.root) != expect(to_data(doc.root), spec) or len(after.duplicates()) > len(doc.duplicates()):
        raise _fail(doc)
    return after


def _by_entries(
    doc: Doc, new_text: str, new_raw: bytes, edits: list[Edit], reparsed: dict[str, Any], nodes: dict[str, Node]
) -> tuple[list[str], Callable[[], Doc]] | None:
    """Parse again only the touched top-level entries (their data into `reparsed`): the new file's top-level
    keys in order, and a builder of its tree (untouched entries moved; built only when someone needs it)."""
    root = doc.root
    assert root is not None
    bounds = [doc.line_start(k.start) for k, _ in root.items] + [len(doc.text)]
    if any(s < bounds[0] for s, _, _ in edits):
        return None
    n = len(root.items)
    touched = [False] * n
    for s, e, _ in edits:
        lo = max(0, bisect.bisect_left(bounds, s) - 1)
        for i in range(lo, n):
            if bounds[i] > e:
                break
            if s <= bounds[i + 1] and e >= bounds[i]:
                touched[i] = True
    ordered = sorted(edits)
    starts = [s for s, _, _ in ordered]
    deltas = list(itertools.accumulate(len(r) - (e - s) for s, e, r in ordered))

    def moved(x: int) -> int:
        k = bisect.bisect_left(starts, x)
        return x + (deltas[k - 1] if k else 0)

    segments: list[tuple[int, int, list[tuple[Node, Node]]]] = []  # (first old index, shift, parsed items)
    keys: list[str] = []
    i = 0
    while i < n:
        if not touched[i]:
            segments.append((i, moved(bounds[i]) - bounds[i], []))
            k = root.items[i][0]
            if not isinstance(k, Scalar):
                return None
            keys.append(k.value)
            i += 1
            continue
        j = i
        while j < n and touched[j]:
            j += 1
        start = moved(bounds[i])
        end = moved(bounds[j]) if j < n else len(new_text)
        part = parse_doc(new_text[start:end].encode(), doc.path).root
        if part is not None:
            if part.flow or any(not isinstance(k, Scalar) for k, _ in part.items):
                return None
            for k, v in part.items:
                assert isinstance(k, Scalar)
                keys.append(k.value)
                reparsed[k.value] = to_data(v)
                nodes[k.value] = v
            segments.append((-1, start, part.items))
        i = j
    if not keys or len(set(keys)) != len(keys):
        return None

    def build() -> Doc:
        items: list[tuple[Node, Node]] = []
        for index, d, parsed in segments:
            if index >= 0:
                k, v = root.items[index]
                items.append((shifted(k, d), shifted(v, d)))
            else:
                items.extend((shifted(k, d), shifted(v, d)) for k, v in parsed)
        new_root = Mapping(items, False, items[0][0].start, moved(root.end), root.anchor)
        newline = "\r\n" if "\r\n" in new_text else "\n"  # as parse_doc decides it
        return Doc(doc.path, new_raw, new_text, doc.bom, newline, new_root)

    return keys, build


@record
class Lazy:
    """A verified new file: its tree on demand, and the top-level entries parsed during the check at once."""

    build: Callable[[], Doc]
    parsed: dict[str, Node]
    """Values of the top-level entries parsed again (positions not final; values exact)."""


def _done(after: Doc) -> Lazy:
    nodes = {} if after.root is None else {k.value: v for k, v in after.root.items if isinstance(k, Scalar)}
    return Lazy(lambda: after, nodes)


def verified_lazy(doc: Doc, new_text: str, new_raw: bytes, edits: list[Edit], spec: Spec) -> Lazy:
    """Like `verified`, but the new file's tree is built only when someone needs it."""
    root = doc.root
    if root is None or root.flow or not root.items or root.anchor is not None:
        return _done(_full(doc, new_raw, spec))
    reparsed: dict[str, Any] = {}
    nodes: dict[str, Node] = {}
    try:
        found = _by_entries(doc, new_text, new_raw, edits, reparsed, nodes)
    except HermesConfigError:
        found = None
    if found is None:
        return _done(_full(doc, new_raw, spec))
    keys, build = found
    names = set(reparsed) | set(spec)
    old = {k.value: to_data(v) for k, v in root.items if isinstance(k, Scalar) and k.value in names}
    want = {k: v for k, v in expect(old, spec).items() if k in names}
    old_rest = [k.value for k, _ in root.items if isinstance(k, Scalar) and k.value not in names]
    if reparsed != want or old_rest != [k for k in keys if k not in names]:
        return _done(_full(doc, new_raw, spec))
    return Lazy(build, nodes)


def verified(doc: Doc, new_text: str, new_raw: bytes, edits: list[Edit], spec: Spec) -> Doc:
    """The new file's parsed form; `HermesConfigError` unless it holds exactly the old data changed by `spec`.

    Entries the edits did not touch are the same bytes, moved, so only the entries parsed again (and every key
    `spec` names) are compared; the order and names of all other top-level keys must be unchanged too."""
    return verified_lazy(doc, new_text, new_raw, edits, spec).build()
