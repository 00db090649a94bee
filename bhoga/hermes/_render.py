"""Spec types, the layout a file already uses (indents), and YAML text for the new values `_splice` inserts.

Plain scalars are written only when YAML 1.1 (PyYAML, which Hermes reads with) reads them back as the same
string; anything else is double-quoted.
"""

from __future__ import annotations

import json
import re
from typing import Final, Union

from bhoga.hermes._yamldoc import Doc, Mapping, Node, Scalar, Sequence

__all__ = ["DELETE", "Renderer", "Spec", "SpecValue", "format_scalar", "has_content", "layout", "seq_data"]


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


DELETE: Final = _Delete()
SpecValue = Union[str, _Delete, "Spec", list[dict[str, str]]]
Spec = dict[str, SpecValue]

_PLAIN = re.compile(r"[A-Za-z0-9_./@~+-][A-Za-z0-9_./:@~+-]*")
# YAML 1.1 (PyYAML, which Hermes reads with) resolves these plain scalars to non-strings.
_NOT_STR = re.compile(
    r"(?i)(y|n|yes|no|true|false|on|off|null|~|[-+]?(0x[0-9a-f_]+|0o?[0-7_]+|[0-9][0-9_]*(\.[0-9_]*)?(e[-+]?[0-9]+)?"
    r"|\.[0-9_]+|\.inf|\.nan|[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?)|\d{4}-\d\d?-\d\d?.*)"
)


def format_scalar(value: str, style: str | None = None) -> str:
    """`value` as YAML text in `style` ('"', "'" or plain when it reads back as the same string)."""
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style != '"' and _PLAIN.fullmatch(value) and not _NOT_STR.fullmatch(value) and not value.endswith(":"):
        return value
    return json.dumps(value, ensure_ascii=False)


def has_content(spec: Spec) -> bool:
    """Whether applying `spec` would write anything (a spec of deletions only creates nothing)."""
    return any(not isinstance(v, _Delete) and (not isinstance(v, dict) or has_content(v)) for v in spec.values())


class Renderer:
    """Renders new keys with the file's mapping indent and sequence dash offset."""

    def __init__(self, mapping_indent: int, seq_offset: int) -> None:
        self.mapping_indent = mapping_indent
        self.seq_offset = seq_offset

    def render_block(self, spec: Spec, indent: int) -> list[str]:
        lines: list[str] = []
        pad = " " * indent
        for key, want in spec.items():
            if isinstance(want, _Delete) or (isinstance(want, dict) and not has_content(want)):
                continue
            if isinstance(want, str):
                lines.append(f"{pad}{format_scalar(key)}: {format_scalar(want)}")
            elif isinstance(want, dict):
                lines.append(f"{pad}{format_scalar(key)}:")
                lines.extend(self.render_block(want, indent + self.mapping_indent))
            elif not want:
                lines.append(f"{pad}{format_scalar(key)}: []")
            else:
                lines.append(f"{pad}{format_scalar(key)}:")
                lines.extend(self.render_seq(want, indent + self.seq_offset))
        return lines

    def render_seq(self, items: list[dict[str, str]], indent: int) -> list[str]:
        lines: list[str] = []
        for item in items:
            body = self.render_block(dict(item), indent + 2)
            if body:
                lines.append(" " * indent + "- " + body[0][indent + 2 :])
                lines.extend(body[1:])
        return lines

    def render_flow(self, want: SpecValue) -> str:
        if isinstance(want, str):
            return format_scalar(want)
        if isinstance(want, dict):
            parts = [
                f"{format_scalar(k)}: {self.render_flow(v)}" for k, v in want.items() if not isinstance(v, _Delete)
            ]
            return "{" + ", ".join(parts) + "}"
        if isinstance(want, list):
            return "[" + ", ".join(self.render_flow(dict(i)) for i in want) + "]"
        raise AssertionError(want)


def seq_data(v: Sequence) -> list[dict[str, str]] | None:
    out: list[dict[str, str]] = []
    for item in v.items:
        if not isinstance(item, Mapping):
            return None
        entry = {}
        for k, val in item.items:
            if not isinstance(k, Scalar) or not isinstance(val, Scalar):
                return None
            entry[k.value] = val.value
        out.append(entry)
    return out


def layout(doc: Doc) -> tuple[int, int]:
    """(mapping indent, sequence dash offset) as the file already uses them; (2, 2) when it has neither."""
    mapping_indent = seq_offset = -1
    todo: list[Node] = [doc.root] if doc.root is not None else []
    while todo and (mapping_indent < 0 or seq_offset < 0):
        node = todo.pop(0)
        if not isinstance(node, Mapping) or node.flow:
            continue
        for k, v in node.items:
            kc = k.start - doc.line_start(k.start)
            if isinstance(v, Mapping) and not v.flow and v.items and mapping_indent < 0:
                d = v.items[0][0].start - doc.line_start(v.items[0][0].start) - kc
                if d > 0 and doc.text.find("\n", k.start, v.start) >= 0:  # the value starts on a later line
                    mapping_indent = d
            elif isinstance(v, Sequence) and not v.flow and v.items and seq_offset < 0:
                seq_offset = max(0, v.start - doc.line_start(v.start) - kc)
            todo.append(v)
    mapping_indent = mapping_indent if mapping_indent > 0 else 2
    return mapping_indent, seq_offset if seq_offset >= 0 else mapping_indent
