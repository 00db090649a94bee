"""Parse a YAML config into a small position-carrying tree, without losing a byte of the original text.

Edits are spliced into the original text at the positions this tree records (see `_splice`), so everything
the edit does not touch (comments, quotes, indentation, blank lines, CRLF, BOM, document markers) is kept by
construction. PyYAML's parser supplies the events: libyaml when PyYAML has it, its pure-Python parser
otherwise, exactly as Hermes loads the file (`utils.fast_safe_load`), so bhoga sees the structure Hermes sees.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable
from typing import Any

from bhoga._record import record
from bhoga.errors import HermesConfigError

__all__ = ["Alias", "Doc", "Duplicate", "Mapping", "Node", "Scalar", "Sequence", "parse_doc", "to_data"]

_TAB_INDENT = re.compile(r"(?m)^ *\t")
# Characters PyYAML (Hermes' reader) refuses, plus the line breaks YAML 1.1 knows beyond CR/LF: PyYAML ends a
# line (and so a comment) at NEL, U+2028 and U+2029, where other readers do not, so the readers would disagree
# on what the file says.
_UNREADABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029]")
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# UTF-8 of U+0080-U+00BF (C1 controls and NEL among them; the regex then decides), U+2028/9, U+FFFE/F.
_SUSPECT_UTF8 = (b"\xc2", b"\xe2\x80\xa8", b"\xe2\x80\xa9", b"\xef\xbf\xbe", b"\xef\xbf\xbf")
_BRACKETS = re.compile(r"[\[\]{}]")
MAX_DEPTH = 256
"""Nesting deeper than this is refused before it is parsed: PyYAML, which Hermes loads with, fails near 500
levels, and a deep flow collection costs the pure-Python scanner quadratic time."""
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
BOM = "\ufeff"
_LOOK_BACK = 4096


@record(frozen=False, eq=False)
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


@record(frozen=False, eq=False)
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


@record(frozen=False, eq=False)
class Sequence:
    """A sequence; `end` is where its closing token sits, like `Mapping`'s."""

    items: list[Node]
    flow: bool
    start: int
    end: int
    anchor: str | None = None


@record(frozen=False, eq=False)
class Alias:
    """An alias (`*name`) with its text span [start, end)."""

    name: str
    start: int
    end: int
    anchor: None = None


Node = Scalar | Mapping | Sequence | Alias


@record
class Duplicate:
    """A key given twice in one mapping: `path` leads to that mapping (keys, and indexes into lists)."""

    path: tuple[str | int, ...]
    key: str
    first: Scalar
    first_value: Node
    last: Scalar


@record(frozen=False)
class Doc:
    """One config file: its decoded text and parse tree, plus what is needed to write it back identically."""

    path: str
    raw: bytes
    text: str
    """The file without its BOM; line endings exactly as in the file."""
    bom: bool
    newline: str
    root: Mapping | None
    _starts: list[int] | None = None

    @property
    def line_starts(self) -> list[int]:
        """Index of the first character of each line (computed on first use: a check may never need it)."""
        if self._starts is None:
            self._starts = [0, *itertools.accumulate(map((1).__add__, map(len, self.text.split("\n"))))][:-1]
        return self._starts

    def duplicates(self, keys: Iterable[str] | None = None) -> list[Duplicate]:
        """Keys given twice in one mapping (PyYAML, like Hermes, keeps the last), at the top level and under
        the top-level `keys` (everywhere when None): found on demand, only where someone asks."""
        out: list[Duplicate] = []
        if self.root is not None:
            wanted = None if keys is None else set(keys)
            _find_duplicates(self.root, (), out, wanted)
        return out

    def line_of(self, index: int) -> int:
        return bisect.bisect_right(self.line_starts, index) - 1

    def line_end(self, index: int) -> int:
        """Index just past the line break of the line holding `index` (len(text) on the last line)."""
        nl = self.text.find("\n", index)
        return len(self.text) if nl < 0 else nl + 1

    def line_start(self, index: int) -> int:
        """Index of the first character of the line holding `index`."""
        if self._starts is None:
            # Most callers ask for a few lines of a big file: looking back beats a table of every line.
            nl = self.text.rfind("\n", max(0, index - _LOOK_BACK), index)
            if nl >= 0 or index <= _LOOK_BACK:
                return nl + 1
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
    if _suspicious(raw) and (m := _UNREADABLE.search(text)) is not None:
        what = "line separator" if m.group() in "\x85\u2028\u2029" else "control character"
        line = text.count("\n", 0, m.start()) + 1
        raise _fail(path, f"{what} U+{ord(m.group()):04X} at line {line}, which YAML readers disagree on")
    if "\t" in text and (m := _TAB_INDENT.search(text)) is not None:
        raise _fail(path, f"tab in indentation at line {text.count(chr(10), 0, m.start()) + 1}")
    _check_flow_depth(text, path)
    root = _build(text, path)
    return Doc(path, raw, text, bom, newline, root)


def _suspicious(raw: bytes) -> bool:
    """Whether `raw` may hold a character `_UNREADABLE` matches (C-speed byte checks; the regex is slow)."""
    return len(raw.translate(None, _CONTROL_BYTES)) != len(raw) or any(seq in raw for seq in _SUSPECT_UTF8)


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


def _loader() -> Any:
    """PyYAML's libyaml loader when built with it, else its pure-Python one: what Hermes reads the file with
    (`utils.fast_safe_load`), so bhoga sees exactly the structure Hermes sees."""
    import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - only when a config is parsed

    return getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader


def _build(text: str, path: str) -> Mapping | None:
    import yaml  # noqa: PLC0415

    # The hot loop of a big file's route change (~1 µs per event): one call per event, the tree built inline.
    stack: list[Mapping | Sequence] = []
    pending_key: list[Node | None] = []
    docs = 0
    root: Node | None = None
    node: Node

    scalar, alias = yaml.ScalarEvent, yaml.AliasEvent
    mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    mapping_end, sequence_end, stream_end = yaml.MappingEndEvent, yaml.SequenceEndEvent, yaml.StreamEndEvent
    document_start = yaml.DocumentStartEvent
    loader = _loader()(text)
    get_event = loader.get_event
    parent: Mapping | Sequence | None = None
    in_sequence = False
    try:
        while True:
            ev = get_event()
            cls = ev.__class__
            if cls is scalar:
                node = Scalar(ev.value, ev.style or None, ev.start_mark.index, ev.end_mark.index, ev.anchor)
            elif cls is mapping_start or cls is sequence_start:
                kind = Mapping if cls is mapping_start else Sequence
                node = kind([], bool(ev.flow_style), ev.start_mark.index, 0, ev.anchor)
            elif cls is mapping_end or cls is sequence_end:
                done = stack.pop()
                pending_key.pop()
                done.end = (ev.end_mark if done.flow else ev.start_mark).index
                parent = stack[-1] if stack else None
                in_sequence = parent.__class__ is Sequence
                continue
            elif cls is alias:
                node = Alias(ev.anchor, ev.start_mark.index, ev.end_mark.index)
            elif cls is document_start:
                docs += 1
                if docs > 1:
                    raise _fail(path, "more than one YAML document")
                continue
            elif cls is stream_end:
                break
            else:
                continue
            if parent is None:
                root = node
            elif in_sequence:
                parent.items.append(node)  # type: ignore[arg-type]
            elif (key := pending_key[-1]) is None:
                pending_key[-1] = node
            else:
                parent.items.append((key, node))  # type: ignore[arg-type]
                pending_key[-1] = None
            if node.__class__ is Mapping or node.__class__ is Sequence:
                stack.append(node)
                pending_key.append(None)
                parent = node
                in_sequence = node.__class__ is Sequence
                if len(stack) > MAX_DEPTH:
                    line = text.count("\n", 0, node.start) + 1
                    raise _fail(path, f"nested deeper than {MAX_DEPTH} levels at line {line}")
    except yaml.MarkedYAMLError as e:
        problem = " ".join(str(e.problem or e.context or "invalid YAML").split())
        where = "" if e.problem_mark is None else f" at line {e.problem_mark.line + 1}"
        raise _fail(path, f"invalid YAML{where}: {problem}") from None
    except yaml.YAMLError as e:
        raise _fail(path, f"invalid YAML: {' '.join(str(e).split())}") from None
    finally:
        loader.dispose()
    if root is None or (isinstance(root, Scalar) and root.is_null):
        return None
    if not isinstance(root, Mapping):
        raise _fail(path, "the top level is not a mapping")
    return root


def _find_duplicates(
    node: Node, at: tuple[str | int, ...], out: list[Duplicate], wanted: set[str] | None = None
) -> None:
    if isinstance(node, Mapping):
        seen: dict[str, tuple[Scalar, Node]] = {}
        for k, v in node.items:
            if isinstance(k, Scalar):
                if k.value in seen and k.value != "<<":
                    first, first_value = seen[k.value]
                    out.append(Duplicate(at, k.value, first, first_value, k))
                seen[k.value] = (k, v)
                if wanted is None or k.value in wanted:
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
