"""Apply a nested change spec to a parsed config by splicing text at node positions.

Only the bytes of the values that change, the lines of keys that are added or removed, are touched; every
other byte of the file stays as it was. Comments on a deleted key's lines stay where they were. A node that
carries an anchor, is an alias or merges one (`<<`) is never edited: the edit would change other places too.
"""

from __future__ import annotations

import re

from bhoga.errors import HermesConfigError
from bhoga.hermes._render import (
    DELETE,
    Renderer,
    Spec,
    SpecValue,
    _Delete,
    format_scalar,
    has_content,
    layout,
    seq_data,
)
from bhoga.hermes._yamldoc import Alias, Doc, Mapping, Node, Scalar, Sequence

__all__ = ["DELETE", "Spec", "SpecValue", "apply_spec", "format_scalar", "splice"]

_Edit = tuple[int, int, str]


class _Splicer:
    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.text = doc.text
        self.nl = doc.newline
        self.edits: list[_Edit] = []
        self.r = Renderer(*layout(doc))

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
                line = self.block_last_line(node)
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

    def block_last_line(self, node: Scalar) -> int:
        """The last line with text of a `|`/`>` scalar, read from the original text: lines indented at least
        as deep as its first line are content even when they start with "#" (the parser saw them blanked)."""
        header = self.doc.line_of(node.start)
        last, depth = header, -1
        for n in range(header + 1, len(self.doc.line_starts)):
            line = self._line(n).rstrip("\r\n")
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip(" "))
            if depth < 0:
                head = self._line(header)
                if indent <= len(head) - len(head.lstrip(" ")):
                    break  # an empty block scalar: the next line already belongs to the parent
                depth = indent
            if indent < depth:
                break
            last = n
        return last

    def block_lines(self, node: Node) -> set[int]:
        """Lines holding block-scalar content under `node`: a "#" there is text, not a comment."""
        if isinstance(node, Scalar):
            if node.style not in ("|", ">"):
                return set()
            return set(range(self.doc.line_of(node.start) + 1, self.block_last_line(node) + 1))
        if isinstance(node, Mapping):
            return set().union(*(self.block_lines(v) for _, v in node.items))
        if isinstance(node, Sequence):
            return set().union(*(self.block_lines(i) for i in node.items))
        return set()

    def refuse(self, where: str, problem: str) -> HermesConfigError:
        return HermesConfigError(f"{self.doc.path}: {where} {problem}; edit it by hand (file left unchanged)")

    def block_text(self, lines: list[str], at: int) -> str:
        text = "".join(line + self.nl for line in lines)
        if at == len(self.text) and self.text and not self.text.endswith("\n"):
            text = self.nl + text
        return text

    # -- edits --------------------------------------------------------------------------------------
    def mapping(self, m: Mapping, spec: Spec, path: str, owner: Scalar | None = None) -> None:
        if m.anchor is not None:
            raise self.refuse(path or "the top level", f"carries the anchor &{m.anchor}")
        if m.get("<<") is not None:
            raise self.refuse(path, "merges another mapping with <<")
        new: Spec = {}
        deleted = 0
        doomed: list[tuple[Scalar, Node]] = []
        for key, want in spec.items():
            where = f"{path}.{key}" if path else key
            found = m.get(key)
            if found is None:
                if not isinstance(want, _Delete) and (not isinstance(want, dict) or has_content(want)):
                    new[key] = want
                continue
            k, v = found
            if isinstance(v, Alias) or v.anchor is not None:
                raise self.refuse(where, "is an anchor or alias")
            if isinstance(want, _Delete):
                if m.flow:
                    doomed.append((k, v))
                else:
                    self.delete(m, k, v, where)
                deleted += 1
            elif isinstance(want, str):
                self.scalar(k, v, want, where)
            elif isinstance(want, dict):
                if isinstance(v, Mapping):
                    self.mapping(v, want, where, k)
                elif not isinstance(v, Scalar):
                    raise self.refuse(where, "is a list, not a mapping")
                elif has_content(want):
                    self.replace_value(m, k, v, want, where)
            elif isinstance(v, Sequence | Scalar):
                self.sequence(m, k, v, want, where)
        if doomed:
            self.delete_flow(m, doomed)
        if new:
            self.insert(m, new, doomed)
        elif deleted == len(m.items) and owner is not None and not m.flow:
            at = self.after_colon(owner)
            self.edits.append((at, at, " {}"))  # an emptied block mapping would read as null

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
            self.edits.append(
                (v.start, v.end, self.r.render_flow(want))
                if v.start != v.end
                else (self.after_colon(k), self.after_colon(k), " " + self.r.render_flow(want))
            )
            return
        colon = self.after_colon(k)
        if v.start != v.end:
            if self.doc.line_of(v.start) != self.doc.line_of(k.start) or v.style in ("|", ">"):
                raise self.refuse(where, "is a multi-line value")
            self.edits.append((colon, v.end, ""))
        at = self.doc.line_end(colon)
        col = self.col(k.start)
        if isinstance(want, dict):
            lines = self.r.render_block(want, col + self.r.mapping_indent)
        else:
            assert isinstance(want, list)
            lines = self.r.render_seq(want, col + self.r.seq_offset)
        self.edits.append((at, at, self.block_text(lines, at)))

    def sequence(self, m: Mapping, k: Scalar, v: Sequence | Scalar, want: list[dict[str, str]], where: str) -> None:
        if isinstance(v, Sequence) and seq_data(v) == want:
            return
        if isinstance(v, Scalar) or (not want and not v.flow):
            if isinstance(v, Sequence):
                self.drop_lines(v, k)
            elif not v.is_null:
                raise self.refuse(where, "is not a list")
            if want:
                assert isinstance(v, Scalar)
                self.replace_value(m, k, v, want, where)
            else:
                colon = self.after_colon(k)
                end = v.end if isinstance(v, Scalar) and v.start != v.end else colon
                self.edits.append((colon, end, " []"))
            return
        if v.flow or m.flow:
            self.edits.append((v.start, v.end, self.r.render_flow(want)))
            return
        first = self.doc.line_start(v.start)
        lines = self.r.render_seq(want, self.col(v.start))
        kept = self.drop_lines(v, k, replace_from=first)
        self.edits.append((first, first, self.block_text(kept + lines, first)))

    def drop_lines(self, v: Sequence, k: Scalar, replace_from: int | None = None) -> list[str]:
        """Remove a block sequence's lines; its full-line comments are returned (kept) or re-inserted."""
        first = self.doc.line_start(v.start)
        end = self.doc.line_end(self.content_end(v, k))
        inside = self.block_lines(v)
        line0 = self.doc.line_of(first)
        kept = [
            ln.rstrip("\r\n")
            for n, ln in enumerate(self.text[first:end].splitlines(), line0)
            if ln.strip().startswith("#") and n not in inside
        ]
        if replace_from is None:
            self.edits.append((first, end, self.block_text(kept, first) if kept else ""))
            return []
        self.edits.append((first, end, ""))
        return kept

    def delete_flow(self, m: Mapping, doomed: list[tuple[Scalar, Node]]) -> None:
        """Remove entries of a flow mapping as runs: each run of adjacent removed entries is one edit, so two
        removals never overlap (a run takes the separator after it, or before it when it ends the mapping)."""
        gone = {id(k) for k, _ in doomed}
        items = m.items
        i = 0
        while i < len(items):
            if id(items[i][0]) not in gone:
                i += 1
                continue
            j = i
            while j + 1 < len(items) and id(items[j + 1][0]) in gone:
                j += 1
            first, (last_k, last_v) = items[i][0], items[j]
            if j + 1 < len(items):
                self.edits.append((first.start, items[j + 1][0].start, ""))
            else:
                end = self.content_end(last_v, last_k if isinstance(last_k, Scalar) else None)
                tail = re.match(r"[ \t]*,", self.text[end:])
                end += tail.end() if tail else 0
                if i > 0:
                    pk, pv = items[i - 1]
                    start = self.content_end(pv, pk if isinstance(pk, Scalar) else None)
                else:
                    start = first.start
                self.edits.append((start, end, ""))
            i = j + 1

    def delete(self, m: Mapping, k: Scalar, v: Node, where: str) -> None:
        end = self.content_end(v, k)
        start = self.doc.line_start(k.start)
        if self.text[start : k.start].strip():
            raise self.refuse(where, "shares its line with another entry")
        stop = self.doc.line_end(end)
        keep: list[str] = []
        pad = self.text[start : k.start]
        key_line, last_line = self.doc.line_of(k.start), self.doc.line_of(end)
        inside = self.block_lines(v)
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
            elif body.startswith("#") and n not in inside:
                # At the key's own column, so a block scalar just above cannot take the comment as its text.
                keep.append(pad + body + ending)
        self.edits.append((start, stop, "".join(keep)))

    def insert(self, m: Mapping, new: Spec, doomed: list[tuple[Scalar, Node]]) -> None:
        if m.flow:
            gone = {id(k) for k, _ in doomed}
            kept = [(k, v) for k, v in m.items if id(k) not in gone]
            if kept:
                # Right after the last entry that stays: before its comma or comment, never inside a removal.
                lk, lv = kept[-1]
                at, sep = self.content_end(lv, lk if isinstance(lk, Scalar) else None), ", "
            else:  # where the first removed entry was, or just inside `}`
                at, sep = (m.items[0][0].start if m.items else m.end - 1), ""
            body = ", ".join(f"{format_scalar(k)}: {self.r.render_flow(v)}" for k, v in new.items())
            self.edits.append((at, at, sep + body))
            return
        k, v = m.items[-1]
        at = self.doc.line_end(self.content_end(v, k if isinstance(k, Scalar) else None))
        col = self.col(m.items[0][0].start)
        self.edits.append((at, at, self.block_text(self.r.render_block(new, col), at)))

    def result(self) -> str:
        text = self.text
        # Later positions first, so earlier positions stay valid. Inserts at one point: the one planned last is
        # applied first and so ends up last (a nested mapping's new key before its parent's next new key).
        ordered = sorted(enumerate(self.edits), key=lambda e: (e[1][0], e[1][1], e[0]), reverse=True)
        for _, (start, end, new) in ordered:
            text = text[:start] + new + text[end:]
        return text


def splice(doc: Doc, spec: Spec) -> tuple[str, list[tuple[int, int, str]]]:
    """The file's text with `spec` applied, and the edits made as (start, end, replacement) in old positions."""
    s = _Splicer(doc)
    if doc.root is None:
        lines = s.r.render_block(spec, 0)
        if lines:
            s.edits.append((len(doc.text), len(doc.text), s.block_text(lines, len(doc.text))))
    else:
        s.mapping(doc.root, spec, "")
    return s.result(), s.edits


def apply_spec(doc: Doc, spec: Spec) -> str:
    """The file's text with `spec` applied; the same text when nothing changes."""
    return splice(doc, spec)[0]
