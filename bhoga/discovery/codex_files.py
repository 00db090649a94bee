"""Codex CLI's local files: finding the newest session rollout cheaply, reading only its tail, and the
model list (`get_codex_models`).

A heavy Codex user has tens of thousands of rollout files, so the search walks `sessions/YYYY/MM/DD`
from the newest year, month and day down, looks at only the newest two non-empty day directories (a session
started before midnight keeps writing into yesterday's directory) and stats only the newest few names in
each. Reading starts with the last 64 KiB and grows backwards only while no main-family event was found.

Listing a day directory of 100,000 sessions takes the kernel ~90 ms, so the newest names of a directory are
kept per process until its modification time changes (a new session file changes it; appending to one does
not). A listing taken within a second of the directory's last change is not kept: a file created in the same
clock tick would leave the time unchanged.
"""

from __future__ import annotations

import heapq
import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from bhoga import _files
from bhoga._paths import codex_home
from bhoga._values import as_dict, as_float
from bhoga.errors import NotRegularFileError

from ._common import Watched, read_bytes, read_json
from .codex_parse import MAIN_FAMILY, parse_rollout_tail

__all__ = [
    "DEFAULT_CODEX_MODELS",
    "ROLLOUT",
    "get_codex_models",
    "newest_day_dir",
    "newest_rollouts",
    "read_rollout_families",
    "watched",
]

log = logging.getLogger(__name__)

DEFAULT_CODEX_MODELS = ("gpt-5.4", "gpt-5-codex")
"""Used only when neither `models_cache.json` nor `config.toml` names a model."""
TAIL_START = 64 * 1024
TAIL_MAX = 4 * 1024 * 1024
_RACY_NS = 1_000_000_000
_listings: dict[Path, tuple[tuple[int, int, int], list[str]]] = {}
"""Day directory → ((st_dev, st_ino, st_mtime_ns), its newest rollout names, newest first)."""


def _numbered(path: Path, width: int) -> list[Path]:
    """Subdirectories named by `width` digits, newest (largest) first; [] when unreadable."""
    try:
        with os.scandir(path) as it:
            names = [e.name for e in it if len(e.name) == width and e.name.isdigit() and e.is_dir()]
    except OSError:
        return []
    return [path / n for n in sorted(names, reverse=True)]


def _day_dirs(sessions: Path) -> Iterator[Path]:
    for year in _numbered(sessions, 4):
        for month in _numbered(year, 2):
            yield from _numbered(month, 2)


def _newest_names(day: Path, count: int) -> list[str] | None:
    """The `count` largest rollout file names in `day`, newest first; None when it cannot be listed."""
    try:
        st = os.stat(day)
    except OSError:
        return None
    key = (st.st_dev, st.st_ino, st.st_mtime_ns)
    hit = _listings.get(day)
    if hit is not None and hit[0] == key:
        return hit[1]
    started = time.time_ns()
    try:
        names = os.listdir(day)
    except OSError:
        return None
    newest = heapq.nlargest(count, (n for n in names if n.startswith("rollout-") and n.endswith(".jsonl")))
    if started - st.st_mtime_ns > _RACY_NS:
        if len(_listings) >= 16:
            _listings.clear()
        _listings[day] = (key, newest)
    return newest


ROLLOUT = "codex-rollout"
"""Watch tag: a Codex session file was written (it carries the rate-limit windows)."""
_CODEX_FILES = frozenset({"auth.json", "models_cache.json", "config.toml"})


def _newest_child(directory: Path, digits: int) -> Path | None:
    try:
        names = [e.name for e in directory.iterdir() if e.is_dir() and len(e.name) == digits and e.name.isdigit()]
    except OSError:
        return None
    return directory / max(names) if names else None


def newest_day_dir(sessions: Path) -> list[Path]:
    """`sessions`, then its newest YYYY, YYYY/MM and YYYY/MM/DD directories, as far as they exist."""
    chain = [sessions]
    for digits in (4, 2, 2):
        child = _newest_child(chain[-1], digits)
        if child is None:
            break
        chain.append(child)
    return chain


def watched() -> tuple[Watched, ...]:
    """Codex's login, model cache and config, and the newest day directory of its sessions.

    Not a recursive watch of the whole sessions tree (one inotify watch per day directory ever made): the
    newest day directory for rollout writes, and each level above it for the next day, month or year.
    """
    codex = codex_home()
    out = [Watched("codex", codex, _CODEX_FILES)]
    chain = newest_day_dir(codex / "sessions")
    out.extend(Watched(ROLLOUT, level, frozenset(), new_dirs=True) for level in chain[:3])
    if len(chain) == 4:
        out.append(Watched(ROLLOUT, chain[3], None, modified=True))
    return tuple(out)


def newest_rollouts(sessions: Path, *, days: int = 2, per_day: int = 16) -> list[Path]:
    """Rollout files of the newest `days` non-empty day directories, newest modification first.

    Only the newest `per_day` names (they start with the session's start time) of a day are stat'ed.
    """
    candidates: list[tuple[int, Path]] = []
    seen = 0
    for day in _day_dirs(sessions):
        names = _newest_names(day, per_day)
        if not names:
            continue
        for name in names:
            try:
                candidates.append((os.stat(day / name).st_mtime_ns, day / name))
            except OSError:
                continue
        seen += 1
        if seen >= days:
            break
    candidates.sort(key=lambda c: c[0], reverse=True)
    return [p for _, p in candidates]


def read_rollout_families(
    path: Path, *, start: int = TAIL_START, cap: int = TAIL_MAX
) -> dict[str, tuple[datetime, dict[str, Any]]]:
    """The newest `rate_limits` per `limit_id` from the end of one rollout file ({} when none or unreadable).

    Reads backwards in growing chunks until the main family ("codex") is found, the file starts, or `cap`
    bytes were read; a line split across chunks is carried to the next (earlier) chunk.
    """
    found: dict[str, tuple[datetime, dict[str, Any]]] = {}
    try:
        with _files.open_regular(path) as f:
            size = f.seek(0, os.SEEK_END)
            end, chunk, carry = size, start, b""
            while end > 0:
                begin = max(0, end - chunk, size - cap)
                f.seek(begin)
                data = f.read(end - begin) + carry
                if begin > 0:
                    cut = data.find(b"\n")
                    carry, data = (data, b"") if cut < 0 else (data[:cut], data[cut + 1 :])
                else:
                    carry = b""
                for family, value in parse_rollout_tail(data).items():
                    found.setdefault(family, value)  # later chunks are older: keep the newest
                if MAIN_FAMILY in found or begin == 0 or size - begin >= cap:
                    break
                end, chunk = begin, chunk * 4
    except NotRegularFileError as e:
        _files.warn_once(log, e)
    except OSError as e:
        log.debug("rollout %s unreadable: %s", path.name, e.strerror)
    return found


def get_codex_models() -> list[str]:
    """Codex model slugs: `models_cache.json` (listed ones, by priority) → `config.toml` `model` → defaults."""
    home = codex_home()
    cache = read_json(home / "models_cache.json")
    raw = as_dict(cache).get("models")
    entries = [as_dict(m) for m in raw] if isinstance(raw, list) else []
    listed = [m for m in entries if isinstance(m.get("slug"), str) and m["slug"] and m.get("visibility") != "hide"]
    listed.sort(key=lambda m: as_float(m.get("priority")) or 1e9)
    slugs = list(dict.fromkeys(m["slug"] for m in listed))
    if slugs:
        return slugs
    data = read_bytes(home / "config.toml", limit=1024 * 1024)
    if data:
        import tomllib  # noqa: PLC0415 - rarely needed

        try:
            model = tomllib.loads(data.decode("utf-8", "replace")).get("model")
        except tomllib.TOMLDecodeError:
            log.warning("Codex config %s is not valid TOML; using the default models", home / "config.toml")
            model = None
        if isinstance(model, str) and model.strip():
            return [model.strip()]
    return list(DEFAULT_CODEX_MODELS)
