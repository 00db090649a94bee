"""Add or remove one name in Hermes' `plugins.enabled` list, touching only that entry's text.

Kept apart from route editing: the route spec (`_splice`) knows mappings and lists of mappings, while
`plugins.enabled` is a list of names. The edit is a text splice at the positions `_yamldoc` records (a new
`- name` line after the last item, a removed item line, a name added to or dropped from a flow list), checked
by parsing the result again: the data must equal the old data with exactly that one name added or removed.
The write goes through `_atomic` like every other edit of the file (lock, compare-before-rename, backup).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from bhoga.errors import HermesConfigError
from bhoga.hermes import _atomic
from bhoga.hermes._home import hermes_config_path
from bhoga.hermes._render import format_scalar, layout
from bhoga.hermes._yamldoc import Doc, Mapping, Scalar, Sequence, parse_doc, to_data

__all__ = ["plugin_enabled", "plugin_lists", "set_plugin_enabled"]

log = logging.getLogger(__name__)
_RETRIES = 5


def _refuse(doc: Doc, why: str) -> HermesConfigError:
    return HermesConfigError(f"{doc.path}: {why}; file left unchanged")


def _names(seq: Sequence) -> list[str]:
    return [item.value for item in seq.items if isinstance(item, Scalar)]


def _find(doc: Doc) -> tuple[Mapping | None, Scalar | None, Any]:
    """(plugins mapping, `enabled` key, its value node) as far as they exist."""
    root = doc.root
    if root is None:
        return None, None, None
    found = root.get("plugins")
    if found is None:
        return None, None, None
    plugins = found[1]
    if isinstance(plugins, Scalar) and plugins.is_null:
        raise _refuse(doc, "`plugins:` is empty; add `plugins: {}` or enable the plugin with `hermes plugins enable`")
    if not isinstance(plugins, Mapping) or plugins.anchor:
        raise _refuse(doc, "`plugins` is not a plain mapping")
    entry = plugins.get("enabled")
    if entry is None:
        return plugins, None, None
    return plugins, entry[0], entry[1]


def _line_indent(doc: Doc, index: int) -> int:
    return index - doc.line_start(index)


def _add(doc: Doc, name: str) -> str:
    text, nl = doc.text, doc.newline
    plugins, key, value = _find(doc)
    item = format_scalar(name)
    if plugins is None:
        mapping_indent, seq_offset = layout(doc)
        pad = " " * mapping_indent
        block = f"plugins:{nl}{pad}enabled:{nl}{pad}{' ' * seq_offset}- {item}{nl}"
        sep = "" if not text or text.endswith("\n") else nl
        return text + sep + block
    if key is None:
        if plugins.flow:
            raise _refuse(doc, "`plugins` is a flow mapping; add `enabled: [...]` to it by hand")
        first = plugins.items[0][0]
        col = _line_indent(doc, first.start)
        last_value = plugins.items[-1][1]
        at = doc.line_end(max(last_value.end - 1, plugins.items[-1][0].end))
        seq_offset = layout(doc)[1]
        lines = f"{' ' * col}enabled:{nl}{' ' * (col + seq_offset)}- {item}{nl}"
        if at == len(text) and not text.endswith("\n"):
            lines = nl + lines
        return text[:at] + lines + text[at:]
    if isinstance(value, Scalar) and value.is_null:
        # `enabled:` with nothing after it: write a flow list right there.
        colon = text.index(":", key.end)
        return text[: colon + 1] + f" [{item}]" + text[colon + 1 :]
    if not isinstance(value, Sequence) or value.anchor:
        raise _refuse(doc, "`plugins.enabled` is not a list")
    if value.flow:
        close = text.rindex("]", value.start, value.end)
        if not value.items:
            return text[: value.start] + f"[{item}]" + text[close + 1 :]
        last_end = value.items[-1].end
        return text[:last_end] + f", {item}" + text[last_end:]
    last = value.items[-1]
    dash_col = _line_indent(doc, value.start)
    at = doc.line_end(last.end - 1 if last.end > last.start else last.start)
    line = f"{' ' * dash_col}- {item}{nl}"
    if at == len(text) and not text.endswith("\n"):
        line = nl + line
    return text[:at] + line + text[at:]


def _remove(doc: Doc, name: str) -> str:
    text = doc.text
    _plugins, key, value = _find(doc)
    if key is None or not isinstance(value, Sequence):
        return text
    hits = [item for item in value.items if isinstance(item, Scalar) and item.value == name]
    if not hits:
        return text
    if value.flow:
        close = text.rindex("]", value.start, value.end)
        keep = [text[i.start : i.end] for i in value.items if i not in hits]
        return text[: value.start] + "[" + ", ".join(keep) + "]" + text[close + 1 :]
    if len(hits) == len(value.items):
        # The only entry: an empty flow list keeps `enabled` a list (Hermes reads a missing key differently).
        colon = text.index(":", key.end)
        end = doc.line_end(hits[-1].end - 1) if hits[-1].end > hits[-1].start else doc.line_end(hits[-1].start)
        trail = text[colon + 1 : doc.line_end(key.end)].rstrip("\r\n")
        comment = trail[trail.index("#") :] if "#" in trail else ""
        return text[: colon + 1] + " []" + (f"  {comment}" if comment else "") + doc.newline + text[end:]
    out = text
    for item in reversed(hits):
        start = doc.line_start(item.start)
        if text[start : item.start].strip() != "-":
            raise _refuse(doc, f"`plugins.enabled` entry {name!r} shares its line with other text")
        out = out[:start] + out[doc.line_end(item.start) :]
    return out


def _expected(data: dict[str, Any], name: str, enable: bool) -> dict[str, Any]:
    out = dict(data)
    plugins = dict(out.get("plugins") or {})
    current = list(plugins.get("enabled") or [])
    plugins["enabled"] = [*current, name] if enable else [n for n in current if n != name]
    out["plugins"] = plugins
    return out


def plan(raw: bytes, path: str, name: str, enable: bool) -> bytes | None:
    """The new file bytes, or None when `name` is already (not) in `plugins.enabled`."""
    doc = parse_doc(raw, path)
    data = to_data(doc.root) if doc.root is not None else {}
    _plugins, _key, value = _find(doc)
    present = isinstance(value, Sequence) and name in _names(value)
    if present == enable:
        return None
    text = _add(doc, name) if enable else _remove(doc, name)
    new = doc.encode(text)
    after = parse_doc(new, path)
    if (to_data(after.root) if after.root is not None else {}) != _expected(data, name, enable):
        raise _refuse(doc, "editing `plugins.enabled` would change other keys (unusual layout)")
    return new


def plugin_lists(name: str, config_path: Path | str | None = None) -> tuple[bool, bool]:
    """Whether `name` is in `plugins.enabled`, and whether it is in `plugins.disabled` (which wins in Hermes)."""
    path = Path(config_path).expanduser() if config_path is not None else hermes_config_path()
    current = _atomic.read_file(Path(os.path.realpath(path)))
    if current is None:
        return False, False
    doc = parse_doc(current[0], str(path))
    data = to_data(doc.root) if doc.root is not None else {}
    plugins = data.get("plugins") if isinstance(data, dict) else None
    if not isinstance(plugins, dict):
        return False, False
    enabled, disabled = plugins.get("enabled"), plugins.get("disabled")
    return isinstance(enabled, list) and name in enabled, isinstance(disabled, list) and name in disabled


def plugin_enabled(name: str, config_path: Path | str | None = None) -> bool:
    """Whether `name` is in `plugins.enabled` and not in `plugins.disabled` (what Hermes checks)."""
    enabled, disabled = plugin_lists(name, config_path)
    return enabled and not disabled


def set_plugin_enabled(name: str, enable: bool, config_path: Path | str | None = None) -> bool:
    """Add (or remove) `name` in `plugins.enabled` of Hermes' config; True when the file changed.

    A missing config file is created with just that entry when enabling. Everything else in the file keeps its
    bytes. Raises `HermesConfigError` (one line) for a file it will not edit.
    """
    path = Path(config_path).expanduser() if config_path is not None else hermes_config_path()
    real = Path(os.path.realpath(path))
    if not real.parent.is_dir():
        raise HermesConfigError(f"{path}: the Hermes home {path.parent} does not exist (is Hermes installed?)")
    for _ in range(_RETRIES):
        current = _atomic.read_file(real)
        raw, snap = current if current is not None else (b"", None)
        new = plan(raw, str(path), name, enable)
        if new is None:
            return False
        with _atomic.locked(path):
            again = _atomic.read_file(real)
            if (again[1] if again else None) != snap:
                continue
            _atomic.check_writable(real, snap)
            if current is not None and snap is not None:
                _atomic.write_backup(path, raw, snap)
            if not _atomic.replace_file(real, new, snap):
                continue
        log.info("hermes: %s plugin %r in %s", "enabled" if enable else "disabled", name, path)
        return True
    raise HermesConfigError(f"{path}: kept changing while bhoga tried to edit it; file left unchanged")
