"""Apply a nested change spec to a parsed config by splicing text at node positions.

Only the bytes of the values that change, the lines of keys that are added or removed, are touched; every
other byte of the file stays as it was. Comments on a deleted key's lines stay where they were. A node that
carries an anchor, is an alias or merges one (`<<`) is never edited: the edit would change other places too.
"""

from __future__ import annotations

import json
import re
from typing import Final, Union

from bhoga.errors import HermesConfigError
from bhoga.hermes._yamldoc import Alias, Doc, Mapping, Node, Scalar, Sequence

__all__ = ["DELETE", "Spec", "SpecValue", "apply_spec", "format_scalar"]


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


DELETE: Final = _Delete()
SpecValue = Union[str, _Delete, "Spec", list[dict[str, str]]]
Spec = dict[str, SpecValue]
_Edit = tuple[int, int, str]

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


class _Splicer:
    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.text = doc.text
        self.nl = doc.newline
        self.edits: list[_Edit] = []
        self.mapping_indent, self.seq_offset = _layout(doc)

    # -- positions ----------------------------------------------------------------------------------
    def col(self, index: int) -> int:
        return index - self.doc.line_start(index)

    def after_colon(self, key: Scalar) -> int:
        i = key.end
        while i < len(self.text) and self.text[i] in " \t":
            i += 1
        if i >= len(self.text) or self.text[i] != ":":
            raise self.refuse(key.value, "has an unusual key layout")
        return i + 1

    def content_end(self, node: Node, key: Scalar | None) -> int:
        """Index just past the last character that belongs to `node` (comments after it excluded)."""
        if isinstance(node, Scalar):
            if node.start == node.end and key is not None:
                return self.after_colon(key)
            if node.style in ("|", ">"):
                line = self.doc.line_of(max(node.end - 1, node.start))
                first = self.doc.line_of(node.start)
                while line > first:
                    body = self._line(line).strip()
                    if body and not body.startswith("#"):
                        break
                    line -= 1
                return self.doc.line_starts[line] + len(self._line(line).rstrip("\r\n"))
            return node.end
        if isinstance(node, Alias) or node.flow or not node.items:
            return node.end
        if isinstance(node, Mapping):
            k, v = node.items[-1]
            return self.content_end(v, k if isinstance(k, Scalar) else None)
        return self.content_end(node.items[-1], None)

    def _line(self, line: int) -> str:
        starts = self.doc.line_starts
        end = starts[line + 1] if line + 1 < len(starts) else len(self.text)
        return self.text[starts[line] : end]

    def refuse(self, where: str, problem: str) -> HermesConfigError:
        return HermesConfigError(f"{self.doc.path}: {where} {problem}; edit it by hand (file left unchanged)")

    # -- rendering ----------------------------------------------------------------------------------
    def render_block(self, spec: Spec, indent: int) -> list[str]:
        lines: list[str] = []
        pad = " " * indent
        for key, want in spec.items():
            if isinstance(want, _Delete) or (isinstance(want, dict) and not _has_content(want)):
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
            parts = [f"{format_scalar(k)}: {self.render_flow(v)}" for k, v in want.items() if not isinstance(v, _Delete)]
            return "{" + ", ".join(parts) + "}"
        if isinstance(want, list):
            return "[" + ", ".join(self.render_flow(dict(i)) for i in want) + "]"
        raise AssertionError(want)

    def block_text(self, lines: list[str], at: int) -> str:
        text = "".join(line + self.nl for line in lines)
        if at == len(self.text) and self.text and not self.text.endswith("\n"):
            text = self.nl + text
        return text

    # -- edits --------------------------------------------------------------------------------------
    def mapping(self, m: Mapping, spec: Spec, path: str) -> None:
        if m.anchor is not None:
            raise self.refuse(path or "the top level", f"carries the anchor &{m.anchor}")
        if m.get("<<") is not None:
            raise self.refuse(path, "merges another mapping with <<")
        new: Spec = {}
        deleted = 0
        for key, want in spec.items():
            where = f"{path}.{key}" if path else key
            found = m.get(key)
            if found is None:
                if not isinstance(want, _Delete) and (not isinstance(want, dict) or _has_content(want)):
                    new[key] = want
                continue
            k, v = found
            if isinstance(v, Alias) or v.anchor is not None:
                raise self.refuse(where, "is an anchor or alias")
            if isinstance(want, _Delete):
                self.delete(m, k, v, where)
                deleted += 1
            elif isinstance(want, str):
                self.scalar(k, v, want, where)
            elif isinstance(want, dict):
                if isinstance(v, Mapping):
                    self.mapping(v, want, where)
                elif isinstance(v, Scalar) and _has_content(want):
                    self.replace_value(m, k, v, want, where)
            elif isinstance(v, Sequence | Scalar):
                self.sequence(m, k, v, want, where)
        if new:
            self.insert(m, new, empty=deleted == len(m.items))

    def scalar(self, k: Scalar, v: Node, want: str, where: str) -> None:
        if not isinstance(v, Scalar):
            raise self.refuse(where, "is not a single value")
        if not v.is_null and v.value == want:
            return
        if v.start == v.end:
            self.edits.append((self.after_colon(k), self.after_colon(k), " " + format_scalar(want)))
        else:
            style = v.style if v.style in ('"', "'") else None
            self.edits.append((v.start, self.content_end(v, k), format_scalar(want, style)))

    def replace_value(self, m: Mapping, k: Scalar, v: Scalar, want: SpecValue, where: str) -> None:
        """Replace a scalar (`model: gpt-5` or an empty `model:`) by a collection."""
        if m.flow:
            self.edits.append((v.start, v.end, self.render_flow(want)) if v.start != v.end else
                              (self.after_colon(k), self.after_colon(k), " " + self.render_flow(want)))
            return
        colon = self.after_colon(k)
        if v.start != v.end:
            if self.doc.line_of(v.start) != self.doc.line_of(k.start) or v.style in ("|", ">"):
                raise self.refuse(where, "is a multi-line value")
            self.edits.append((colon, v.end, ""))
        at = self.doc.line_end(colon)
        col = self.col(k.start)
        if isinstance(want, dict):
            lines = self.render_block(want, col + self.mapping_indent)
        else:
            assert isinstance(want, list)
            lines = self.render_seq(want, col + self.seq_offset)
        self.edits.append((at, at, self.block_text(lines, at)))

    def sequence(self, m: Mapping, k: Scalar, v: Sequence | Scalar, want: list[dict[str, str]], where: str) -> None:
        if isinstance(v, Sequence) and _seq_data(v) == want:
            return
        if isinstance(v, Scalar) or (not want and not v.flow):
            if isinstance(v, Sequence):
                self.drop_lines(v, k)
            elif not v.is_null:
                raise self.refuse(where, "is not a list")
            if want:
                self.replace_value(m, k, v, want, where)
            else:
                colon = self.after_colon(k)
                end = v.end if isinstance(v, Scalar) and v.start != v.end else colon
                self.edits.append((colon, end, " []"))
            return
        if v.flow or m.flow:
            self.edits.append((v.start, v.end, self.render_flow(want)))
            return
        first = self.doc.line_start(v.start)
        lines = self.render_seq(want, self.col(v.start))
        kept = self.drop_lines(v, k, replace_from=first)
        self.edits.append((first, first, self.block_text(kept + lines, first)))

    def drop_lines(self, v: Sequence, k: Scalar, replace_from: int | None = None) -> list[str]:
        """Remove a block sequence's lines; its full-line comments are returned (kept) or re-inserted."""
        first = self.doc.line_start(v.start)
        end = self.doc.line_end(self.content_end(v, k))
        kept = [ln.rstrip("\r\n") for ln in self.text[first:end].splitlines() if ln.strip().startswith("#")]
        if replace_from is None:
            self.edits.append((first, end, self.block_text(kept, first) if kept else ""))
            return []
        self.edits.append((first, end, ""))
        return kept

    def delete(self, m: Mapping, k: Scalar, v: Node, where: str) -> None:
        end = self.content_end(v, k)
        if m.flow:
            tail = re.match(r"\s*,\s*", self.text[end:])
            if tail:
                self.edits.append((k.start, end + tail.end(), ""))
            else:
                head = re.search(r",\s*$", self.text[: k.start])
                self.edits.append((head.start() if head else k.start, end, ""))
            return
        start = self.doc.line_start(k.start)
        if self.text[start : k.start].strip():
            raise self.refuse(where, "shares its line with another entry")
        stop = self.doc.line_end(end)
        keep: list[str] = []
        pad = self.text[start : k.start]
        key_line, last_line = self.doc.line_of(k.start), self.doc.line_of(end)
        for n in range(key_line, last_line + 1):
            line = self._line(n)
            body = line.strip()
            ending = line[len(line.rstrip("\r\n")) :] or self.nl
            if n == last_line:
                rest = self.text[end : self.doc.line_starts[n] + len(line)].strip()
                if rest.startswith("#"):
                    keep.append(pad + rest + ending)
            elif n == key_line:
                rest = self.text[self.after_colon(k) : self.doc.line_starts[n] + len(line)].strip()
                if rest.startswith("#"):
                    keep.append(pad + rest + ending)
            elif body.startswith("#"):
                keep.append(line)
        self.edits.append((start, stop, "".join(keep)))

    def insert(self, m: Mapping, new: Spec, *, empty: bool) -> None:
        if m.flow:
            close = m.end - 1
            before = self.text[m.start + 1 : close].rstrip()
            sep = "" if empty or before.endswith(",") else ", "
            body = ", ".join(f"{format_scalar(k)}: {self.render_flow(v)}" for k, v in new.items())
            self.edits.append((close, close, sep + body))
            return
        k, v = m.items[-1]
        at = self.doc.line_end(self.content_end(v, k if isinstance(k, Scalar) else None))
        col = self.col(m.items[0][0].start)
        self.edits.append((at, at, self.block_text(self.render_block(new, col), at)))

    def result(self) -> str:
        text = self.text
        # Later edits first so earlier positions stay valid; inserts at a point keep their order.
        for start, end, new in sorted(self.edits, key=lambda e: (e[0], e[1]), reverse=True):
            text = text[:start] + new + text[end:]
        return text


def _has_content(spec: Spec) -> bool:
    return any(not isinstance(v, _Delete) and (not isinstance(v, dict) or _has_content(v)) for v in spec.values())


def _seq_data(v: Sequence) -> list[dict[str, str]] | None:
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


def _layout(doc: Doc) -> tuple[int, int]:
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
                if d > 0 and doc.line_of(v.start) != doc.line_of(k.start):
                    mapping_indent = d
            elif isinstance(v, Sequence) and not v.flow and v.items and seq_offset < 0:
                seq_offset = max(0, v.start - doc.line_start(v.start) - kc)
            todo.append(v)
    mapping_indent = mapping_indent if mapping_indent > 0 else 2
    return mapping_indent, seq_offset if seq_offset >= 0 else mapping_indent


def apply_spec(doc: Doc, spec: Spec) -> str:
    """The file's text with `spec` applied; the same text when nothing changes."""
    s = _Splicer(doc)
    if doc.root is None:
        lines = s.render_block(spec, 0)
        return doc.text + s.block_text(lines, len(doc.text)) if lines else doc.text
    s.mapping(doc.root, spec, "")
    return s.result()
