"""Parse a YAML config into a small position-carrying tree, without losing a byte of the original text.

Edits are spliced into the original text at the positions this tree records (see `_splice`), so everything
the edit does not touch (comments, quotes, indentation, blank lines, CRLF, BOM, document markers) is kept by
construction. ruamel.yaml's pure-Python parser supplies the events; full-line comments are blanked before
scanning (they are most of a commented config and cost nothing to keep, since positions map back per line).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any

from bhoga.errors import HermesConfigError

__all__ = ["Alias", "Doc", "Duplicate", "Mapping", "Node", "Scalar", "Sequence", "parse_doc", "to_data"]

_FULL_LINE_COMMENT = re.compile(r"(?m)^[ \t]*#[^\r\n]*")
_TAB_INDENT = re.compile(r"(?m)^ *\t")
# Characters PyYAML (Hermes' reader) refuses, plus the line breaks YAML 1.1 knows beyond CR/LF: PyYAML ends a
# line (and so a comment) at NEL, U+2028 and U+2029, where other readers do not, so the readers would disagree
# on what the file says.
_UNREADABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029]")
_BRACKETS = re.compile(r"[\[\]{}]")
MAX_DEPTH = 256
"""Nesting deeper than this is refused before it is parsed: PyYAML, which Hermes loads with, fails near 500
levels, and a deep flow collection costs the pure-Python scanner quadratic time."""
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
BOM = "\ufeff"


@dataclass(slots=True, eq=False)
class Scalar:
    """A scalar with its text span [start, end) in the original text."""

    value: str
    style: str | None
    start: int
    end: int
    anchor: str | None = None

    @property
    def is_null(self) -> bool:
        return self.style is None and self.value in _NULLS


@dataclass(slots=True, eq=False)
class Mapping:
    """A mapping; `end` is where its closing token sits (block: the next token; flow: just past `}`)."""

    items: list[tuple[Node, Node]]
    flow: bool
    start: int
    end: int
    anchor: str | None = None

    def get(self, key: str) -> tuple[Scalar, Node] | None:
        for k, v in self.items:
            if isinstance(k, Scalar) and k.value == key:
                return k, v
        return None


@dataclass(slots=True, eq=False)
class Sequence:
    items: list[Node]
    flow: bool
    start: int
    end: int
    anchor: str | None = None


@dataclass(slots=True, eq=False)
class Alias:
    name: str
    start: int
    end: int
    anchor: None = None


Node = Scalar | Mapping | Sequence | Alias


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A key given twice in one mapping: `path` leads to that mapping (keys, and indexes into lists)."""

    path: tuple[str | int, ...]
    key: str
    first: Scalar
    first_value: Node
    last: Scalar


@dataclass(slots=True)
class Doc:
    """One config file: its decoded text and parse tree, plus what is needed to write it back identically."""

    path: str
    raw: bytes
    text: str
    """The file without its BOM; line endings exactly as in the file."""
    bom: bool
    newline: str
    root: Mapping | None
    line_starts: list[int] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    """Keys given twice in one mapping (PyYAML, like Hermes, keeps the last); refused only where bhoga edits."""

    def line_of(self, index: int) -> int:
        return bisect.bisect_right(self.line_starts, index) - 1

    def line_end(self, index: int) -> int:
        """Index just past the line break of the line holding `index` (len(text) on the last line)."""
        nl = self.text.find("\n", index)
        return len(self.text) if nl < 0 else nl + 1

    def line_start(self, index: int) -> int:
        return self.line_starts[self.line_of(index)]

    def encode(self, text: str) -> bytes:
        return ((BOM if self.bom else "") + text).encode("utf-8")


def _fail(path: str, problem: str) -> HermesConfigError:
    return HermesConfigError(f"{path}: {problem}; file left unchanged")


def parse_doc(raw: bytes, path: str) -> Doc:
    """Parse `raw`; `HermesConfigError` naming the file for anything that is not one plain YAML mapping."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _fail(path, f"not UTF-8 text (byte {e.start})") from None
    bom = text.startswith(BOM)
    if bom:
        text = text[1:]
    newline = "\r\n" if "\r\n" in text else "\n"
    if (m := _UNREADABLE.search(text)) is not None:
        what = "line separator" if m.group() in "\x85\u2028\u2029" else "control character"
        line = text.count("\n", 0, m.start()) + 1
        raise _fail(path, f"{what} U+{ord(m.group()):04X} at line {line}, which YAML readers disagree on")
    if (m := _TAB_INDENT.search(text)) is not None:
        raise _fail(path, f"tab in indentation at line {text.count(chr(10), 0, m.start()) + 1}")
    _check_flow_depth(text, path)
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    dups: list[Duplicate] = []
    root = _build(text, starts, path, dups)
    return Doc(path, raw, text, bom, newline, root, starts, dups)


def _check_flow_depth(text: str, path: str) -> None:
    """Refuse deep flow nesting before the scanner sees it (an upper bound: brackets in strings count too)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for m in _BRACKETS.finditer(text):
        depth += 1 if m.group() in "[{" else -1
        if depth > MAX_DEPTH:
            line = text.count("\n", 0, m.start()) + 1
            raise _fail(path, f"nested deeper than {MAX_DEPTH} levels at line {line}")


def _build(text: str, starts: list[int], path: str, dups: list[Duplicate]) -> Mapping | None:
    from ruamel.yaml import YAML  # noqa: PLC0415 - heavy import, only when a config is parsed
    from ruamel.yaml.error import MarkedYAMLError, YAMLError  # noqa: PLC0415

    blanked = _FULL_LINE_COMMENT.sub("", text)
    b_starts = [0] + [m.end() for m in re.finditer("\n", blanked)]

    def pos(mark: Any) -> int:
        # Only comment lines were shortened, so an index maps back through its line.
        line = bisect.bisect_right(b_starts, mark.index) - 1
        return int(starts[line] + mark.index - b_starts[line])

    stack: list[Mapping | Sequence] = []
    pending_key: list[Node | None] = []
    docs = 0
    root: Node | None = None

    def add(node: Node) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        parent = stack[-1]
        if isinstance(parent, Sequence):
            parent.items.append(node)
        elif pending_key[-1] is None:
            pending_key[-1] = node
        else:
            key = pending_key[-1]
            assert key is not None
            parent.items.append((key, node))
            pending_key[-1] = None

    try:
        for ev in YAML(typ="safe", pure=True).parse(blanked):
            name = type(ev).__name__
            if name == "DocumentStartEvent":
                docs += 1
                if docs > 1:
                    raise _fail(path, "more than one YAML document")
            elif name == "ScalarEvent":
                add(Scalar(ev.value, ev.style, pos(ev.start_mark), pos(ev.end_mark), ev.anchor))
            elif name == "AliasEvent":
                add(Alias(ev.anchor, pos(ev.start_mark), pos(ev.end_mark)))
            elif name in ("MappingStartEvent", "SequenceStartEvent"):
                cls = Mapping if name == "MappingStartEvent" else Sequence
                node: Mapping | Sequence = cls([], bool(ev.flow_style), pos(ev.start_mark), 0, ev.anchor)
                add(node)
                stack.append(node)
                pending_key.append(None)
                if len(stack) > MAX_DEPTH:
                    raise _fail(
                        path, f"nested deeper than {MAX_DEPTH} levels at line {text.count(chr(10), 0, node.start) + 1}"
                    )
            elif name in ("MappingEndEvent", "SequenceEndEvent"):
                done = stack.pop()
                pending_key.pop()
                done.end = pos(ev.end_mark if done.flow else ev.start_mark)
    except MarkedYAMLError as e:
        problem = " ".join(str(e.problem or e.context or "invalid YAML").split())
        line = "" if e.problem_mark is None else f" at line {e.problem_mark.line + 1}"
        raise _fail(path, f"invalid YAML{line}: {problem}") from None
    except YAMLError as e:
        raise _fail(path, f"invalid YAML: {' '.join(str(e).split())}") from None
    if root is None or (isinstance(root, Scalar) and root.is_null):
        return None
    if not isinstance(root, Mapping):
        raise _fail(path, "the top level is not a mapping")
    _find_duplicates(root, (), dups)
    return root


def _find_duplicates(node: Node, at: tuple[str | int, ...], out: list[Duplicate]) -> None:
    if isinstance(node, Mapping):
        seen: dict[str, tuple[Scalar, Node]] = {}
        for k, v in node.items:
            if isinstance(k, Scalar):
                if k.value in seen and k.value != "<<":
                    first, first_value = seen[k.value]
                    out.append(Duplicate(at, k.value, first, first_value, k))
                seen[k.value] = (k, v)
                _find_duplicates(v, (*at, k.value), out)
    elif isinstance(node, Sequence):
        for i, item in enumerate(node.items):
            _find_duplicates(item, (*at, i), out)


def to_data(node: Node | None) -> Any:
    """Plain data for comparing two parses: dicts, lists, scalar strings (None for null), aliases by name."""
    if node is None:
        return {}
    if isinstance(node, Scalar):
        return None if node.is_null else node.value
    if isinstance(node, Alias):
        return ("*", node.name)
    if isinstance(node, Sequence):
        return [to_data(i) for i in node.items]
    return {(k.value if isinstance(k, Scalar) else repr(to_data(k))): to_data(v) for k, v in node.items}
