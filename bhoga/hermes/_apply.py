"""Write a recommendation into Hermes' config.yaml: plan, verify, then replace atomically.

The file is parsed (`_yamldoc`), the route's change spec (`_routes`) is spliced into its text (`_splice`), the
result is parsed again and must equal the old data with exactly the intended changes, and only then is it
written (`_atomic`). When the same file bytes and the same inputs were already found to need no change, the
call returns before parsing anything.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from bhoga._model import RouterRecommendation
from bhoga._record import record
from bhoga.errors import HermesConfigBusyError, HermesConfigError
from bhoga.hermes import _atomic
from bhoga.hermes._dupes import ROUTE_KEYS, blocking_duplicate
from bhoga.hermes._home import HermesFacts, hermes_config_path, read_facts
from bhoga.hermes._routes import Route, bills, build_spec, route_for
from bhoga.hermes._splice import splice
from bhoga.hermes._verify import Lazy, expect, verified_lazy
from bhoga.hermes._yamldoc import Doc, Mapping, Scalar, parse_doc, to_data

__all__ = ["HermesRoute", "Ranker", "Target", "config_problem", "plan_change", "read_hermes_route", "write_change"]

log = logging.getLogger(__name__)
_RETRIES = 5
_cache_lock = threading.Lock()
_docs: dict[bytes, Doc | Lazy] = {}
_up_to_date: set[tuple[str, bytes, Any]] = set()
# The top-level entries `build_spec` reads to decide the change.
_SPEC_INPUTS = frozenset({"model", "auxiliary", "compression", "providers"})


class Ranker(Protocol):
    """What apply_to_hermes needs of a Router."""

    def ranked(self, model: str, *, exclude: Sequence[str] = ()) -> tuple[RouterRecommendation, ...]: ...


@record
class HermesRoute:
    """What Hermes' config says now (None for a key that is not there)."""

    provider: str | None
    model: str | None
    base_url: str | None
    api_mode: str | None


@record
class Target:
    """The file to edit: the path given, its real target, and the facts of its Hermes home."""

    path: Path
    real: Path
    facts: HermesFacts

    @classmethod
    def resolve(cls, config_path: Path | str | None) -> Target:
        path = Path(config_path).expanduser() if config_path is not None else hermes_config_path()
        real = Path(os.path.realpath(path))
        if not real.parent.is_dir():
            raise HermesConfigError(
                f"{path}: the Hermes home {path.parent} does not exist (is Hermes installed and set up?)"
            )
        return cls(path, real, read_facts(path.parent))


def _remember(digest: bytes, entry: Doc | Lazy) -> None:
    with _cache_lock:
        _docs.pop(digest, None)
        _docs[digest] = entry
        while len(_docs) > 4:  # the oldest first: a big file's tree is freed one at a time
            _docs.pop(next(iter(_docs)))


def _parse(raw: bytes, digest: bytes, path: Path) -> Doc:
    with _cache_lock:
        entry = _docs.get(digest)
    doc = entry.build() if isinstance(entry, Lazy) else entry
    if doc is None or doc.path != str(path):
        doc = parse_doc(raw, str(path))
    if doc is not entry:
        _remember(digest, doc)
    return doc


_expect = expect  # the name tests and older callers use


def _top_data(doc: Doc, keys: frozenset[str]) -> dict[str, Any]:
    """`to_data` of only the top-level entries named `keys` (the rest of a large file is never converted)."""
    if doc.root is None:
        return {}
    return {k.value: to_data(v) for k, v in doc.root.items if isinstance(k, Scalar) and k.value in keys}


def plan_change(
    target: Target,
    raw: bytes | None,
    rec: RouterRecommendation,
    *,
    write_auxiliary: bool,
    fallbacks: Sequence[RouterRecommendation],
    write_fallbacks: bool,
) -> bytes | None:
    """The new file bytes, or None when the file already says what `rec` needs."""
    raw = raw if raw is not None else b""
    digest = hashlib.sha256(raw).digest()
    key = (
        str(target.real),
        digest,
        (
            rec.provider_id,
            rec.model_id,
            write_auxiliary,
            write_fallbacks,
            tuple((f.provider_id, f.model_id) for f in fallbacks),
            target.facts,
        ),
    )
    with _cache_lock:
        if key in _up_to_date:
            return None
    route = route_for(rec.provider_id, rec.model_id, target.facts)
    backups: list[Route] = []
    for f in fallbacks:
        try:
            r = route_for(f.provider_id, f.model_id, target.facts)
        except HermesConfigError as e:
            log.debug("hermes: no fallback entry for %s: %s", f.provider_id, e)
            continue
        billed = {bills(b, target.facts) for b in (route, *backups)}
        if bills(r, target.facts) in billed:
            # Two entries billing one key (e.g. `anthropic` while ANTHROPIC_API_KEY is visible, and the API
            # route): the second is no fallback at all, and would claim to be the subscription.
            log.debug(
                "hermes: no fallback entry for %s: it bills %s like an earlier entry",
                f.provider_id,
                bills(r, target.facts),
            )
            continue
        if r.provider != route.provider and all(r.provider != b.provider for b in backups):
            backups.append(r)
    doc = _parse(raw, digest, target.path)
    data = _top_data(doc, _SPEC_INPUTS)
    if isinstance(data.get("model"), str):
        data = {**data, "model": {"default": data["model"]}}
    spec = build_spec(route, data, write_auxiliary=write_auxiliary, fallbacks=backups, write_fallbacks=write_fallbacks)
    if (refusal := blocking_duplicate(doc, spec)) is not None:
        raise refusal
    text, edits = splice(doc, spec)
    if text == doc.text:
        with _cache_lock:
            if len(_up_to_date) > 256:
                _up_to_date.clear()
            _up_to_date.add(key)
        return None
    new = doc.encode(text)
    # The new file's tree is built only if bhoga reads this very file again (often someone else writes first).
    _remember(hashlib.sha256(new).digest(), verified_lazy(doc, text, new, edits, spec))
    return new


def write_change(
    target: Target,
    rec: RouterRecommendation,
    *,
    write_auxiliary: bool,
    fallbacks: Sequence[RouterRecommendation],
    write_fallbacks: bool,
    settle: float | None = None,
) -> bool:
    """Apply `rec` to the file; True when the file changed. Re-plans when someone else wrote meanwhile.

    With `settle` (seconds), a file written less than that ago is first given the rest of that time, and one that
    changed meanwhile or is empty is left alone (`HermesConfigBusyError`, see `_atomic.settle`).
    """
    real = target.real
    for _ in range(_RETRIES):
        current = _atomic.read_file(real)
        raw, snap = current if current is not None else (None, None)
        if settle is not None and raw is not None and snap is not None:
            if not raw.strip():  # an editor's truncate before its write, most likely: never written into
                raise HermesConfigBusyError(f"{target.path} is empty (being written?); nothing written into it")
            _atomic.settle(target.path, settle, (snap.ino, snap.dev, snap.size, snap.mtime_ns))
        new = plan_change(
            target, raw, rec, write_auxiliary=write_auxiliary, fallbacks=fallbacks, write_fallbacks=write_fallbacks
        )
        if new is None:
            return False
        with _atomic.locked(target.path):
            again = _atomic.read_file(real)
            if (again[1] if again else None) != snap:
                continue
            _atomic.check_writable(real, snap)
            if raw is not None and snap is not None:
                _atomic.write_backup(target.path, raw, snap)
            if not _atomic.replace_file(real, new, snap):
                log.info("hermes: %s changed while being edited; applying again", target.path)
                continue
        log.info("hermes: %s now routes %s to %s (%s)", target.path, rec.model_id, rec.provider_id, rec.reason)
        return True
    raise HermesConfigError(f"{target.path}: kept changing while bhoga tried to edit it; file left unchanged")


def diff_change(
    target: Target,
    rec: RouterRecommendation,
    *,
    write_auxiliary: bool,
    fallbacks: Sequence[RouterRecommendation],
    write_fallbacks: bool,
) -> str:
    """The unified diff `write_change` would make, "" when none."""
    current = _atomic.read_file(target.real)
    raw = current[0] if current is not None else None
    new = plan_change(
        target, raw, rec, write_auxiliary=write_auxiliary, fallbacks=fallbacks, write_fallbacks=write_fallbacks
    )
    if new is None:
        return ""
    old_text = (raw or b"").decode("utf-8").removeprefix("\ufeff")
    new_text = new.decode("utf-8").removeprefix("\ufeff")
    name = target.path.name
    lines = difflib.unified_diff(
        old_text.splitlines(keepends=True), new_text.splitlines(keepends=True), f"a/{name}", f"b/{name}"
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def read_hermes_route(path: Path | str | None = None) -> HermesRoute | None:
    """What the config says now: provider, model, base_url, api_mode; None when the file does not exist."""
    target_path = Path(path).expanduser() if path is not None else hermes_config_path()
    current = _atomic.read_file(Path(os.path.realpath(target_path)))
    if current is None:
        return None
    raw, digest = current[0], current[1].sha256
    with _cache_lock:
        entry = _docs.get(digest)
    if isinstance(entry, Lazy) and "model" in entry.parsed:
        value: Any = entry.parsed["model"]  # the file bhoga just wrote: no need to build its whole tree
    else:
        doc = _parse(raw, digest, target_path)
        found = doc.root.get("model") if doc.root is not None else None
        value = found[1] if found else None
    if isinstance(value, Scalar):
        return HermesRoute(None, None if value.is_null else value.value, None, None)
    if not isinstance(value, Mapping):
        return HermesRoute(None, None, None, None)
    model = to_data(value)

    def s(key: str) -> str | None:
        v = model.get(key)
        return v if isinstance(v, str) else None

    return HermesRoute(s("provider"), s("default") or s("model") or s("name"), s("base_url"), s("api_mode"))


def config_problem(path: Path | str | None = None) -> str | None:
    """Why bhoga would refuse to route in this config whatever the provider (the writer's own one-line error),
    None when it can edit it or the file does not exist. For `bhoga doctor`."""
    target_path = Path(path).expanduser() if path is not None else hermes_config_path()
    try:
        current = _atomic.read_file(Path(os.path.realpath(target_path)))
        if current is None:
            return None
        doc = _parse(current[0], current[1].sha256, target_path)
        refusal = blocking_duplicate(doc, ROUTE_KEYS)
    except HermesConfigError as e:
        return str(e)
    return None if refusal is None else str(refusal)
