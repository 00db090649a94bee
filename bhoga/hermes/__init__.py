"""Hermes integration: route Hermes Agent 0.19 to the provider bhoga recommends, editing its config.yaml.

Edits are minimal text splices (every comment, quote and blank line of the file stays), idempotent (no write
when nothing changes), verified by re-parsing, and atomic (symlinks kept, hard links refused, a concurrent
writer detected right before the rename). The routes are the ones Hermes' own resolver was shown to use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from bhoga._model import RouterRecommendation
from bhoga.errors import HermesConfigBusyError, HermesConfigError
from bhoga.hermes._home import hermes_config_path, read_facts
from bhoga.hermes._routes import caveat, exclusions

# The writer (`_apply`: YAML parsing, hashing, diffs; ~20 ms) loads on first use: `bhoga status` asks only for
# `claude_code_caveat` when bhogad answers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from bhoga.hermes._apply import HermesRoute, Ranker, Target, config_problem, read_hermes_route
_WRITER = ("HermesRoute", "Ranker", "Target", "config_problem", "read_hermes_route")

__all__ = [
    "BUSY_TRIES",
    "SETTLE",
    "HermesConfigBusyError",
    "HermesConfigError",
    "HermesRoute",
    "apply_recommendation",
    "apply_to_hermes",
    "claude_code_caveat",
    "config_problem",
    "file_identity",
    "hermes_config_path",
    "hermes_diff",
    "hermes_exclusions",
    "read_hermes_route",
    "settle",
]

SETTLE = 0.5
"""Seconds Hermes' config must have been left alone before bhoga writes it: an editor's truncate-and-write takes
microseconds to milliseconds, and a write after a quiet file costs one stat."""

BUSY_TRIES = 4
"""How often `apply_to_hermes` tries a config that is being written, `SETTLE` apart, before giving up: a person's
command waits out a save (about 2 s at most) rather than fail on the first look."""


def hermes_exclusions(config_path: Path | str | None = None) -> dict[str, str]:
    """Provider id → one-line reason Hermes cannot use it now (e.g. openai-codex without a Hermes login)."""
    home = Path(config_path).expanduser().parent if config_path is not None else None
    return exclusions(read_facts(home))


def claude_code_caveat(config_path: Path | str | None = None) -> str | None:
    """The warning that Hermes bills ANTHROPIC_API_KEY instead of the Claude Code login, when that applies."""
    home = Path(config_path).expanduser().parent if config_path is not None else None
    return caveat(read_facts(home))


def settle(path: Path, quiet: float) -> tuple[int, int, int, int] | None:
    """Wait until the file at `path` has been left alone for `quiet` seconds (one stat when it has been already);
    its identity (inode, device, size, mtime_ns), None when it does not exist. Raises `HermesConfigBusyError` when it
    changed meanwhile: someone is writing it (an editor's truncate-and-write). An empty file is the caller's to
    refuse (`apply_recommendation`'s `settle` does)."""
    from bhoga.hermes import _atomic  # noqa: PLC0415

    return _atomic.settle(path, quiet)


def file_identity(path: Path) -> tuple[int, int, int, int] | None:
    """(inode, device, size, mtime_ns) of the file at `path`, None when it does not exist; any write changes it."""
    from bhoga.hermes import _atomic  # noqa: PLC0415

    return _atomic.identity(path)


def apply_recommendation(
    rec: RouterRecommendation,
    *,
    config_path: Path | str | None = None,
    write_auxiliary: bool = False,
    fallbacks: Sequence[RouterRecommendation] = (),
    settle: float | None = None,
) -> bool:
    """Route Hermes to `rec`; True when the file changed. `fallbacks` (runner-ups) set `fallback_providers`.

    `settle` (seconds): write only into a file left alone that long (waiting out the rest when it was written
    just now); an empty file, or one that changes meanwhile, is someone else's write in progress and raises
    `HermesConfigBusyError` (file untouched). Raises `HermesConfigError` (file untouched) for a file that cannot be
    edited safely or a provider Hermes cannot use.
    """
    from bhoga.hermes._apply import Target, write_change  # noqa: PLC0415

    target = Target.resolve(config_path)
    _intend(target, rec)
    try:
        changed = write_change(
            target,
            rec,
            write_auxiliary=write_auxiliary,
            fallbacks=fallbacks,
            write_fallbacks=bool(fallbacks),
            settle=settle,
        )
    except HermesConfigBusyError:
        # Nothing written, and what the file says now is someone else's write in progress: not recorded as ours.
        _abandon(target)
        raise
    except BaseException:
        _remember(target)
        raise
    _remember(target)
    return changed


def _intend(target: Target, rec: RouterRecommendation) -> None:
    """Note the provider about to be written, before writing (a kill between rename and record is no edit)."""
    from bhoga import _pin  # noqa: PLC0415
    from bhoga.hermes._routes import route_for  # noqa: PLC0415

    try:
        provider = route_for(rec.provider_id, rec.model_id, target.facts).provider
    except HermesConfigError:
        return  # the write refuses this route too
    _pin.record_pending(target.path, provider)


def _abandon(target: Target) -> None:
    """The write announced by `_intend` did not happen."""
    from bhoga import _pin  # noqa: PLC0415

    _pin.record_abandoned(target.path)


def _remember(target: Target) -> None:
    """Note the provider bhoga just wrote, so bhogad tells its own writes from a hand edit (pins, DESIGN §8.2)."""
    from bhoga import _pin  # noqa: PLC0415
    from bhoga.hermes._apply import read_hermes_route  # noqa: PLC0415

    try:
        route = read_hermes_route(target.path)
    except HermesConfigError:
        return
    _pin.record_written(target.path, route.provider if route else None)


def _choose(
    router: Ranker, model: str, target: Target, write_fallbacks: bool
) -> tuple[RouterRecommendation | None, tuple[RouterRecommendation, ...]]:
    ranked = router.ranked(model, exclude=tuple(exclusions(target.facts)))
    if not ranked:
        return None, ()
    return ranked[0], (ranked[1:] if write_fallbacks else ())


def apply_to_hermes(
    router: Ranker,
    model: str,
    *,
    config_path: Path | str | None = None,
    write_auxiliary: bool = False,
    write_fallbacks: bool = False,
    settle: float | None = SETTLE,
) -> bool:
    """Route Hermes to the router's best provider for `model` that Hermes can use; True when the file changed.

    False, without touching the file, when no provider is a candidate or the file already says the same.
    `settle` (seconds, as `apply_recommendation`'s): a config written just now is given the rest of that time; an
    empty one, or one that changes meanwhile, is tried again `settle` later, up to `BUSY_TRIES` times, and then
    raises `HermesConfigBusyError` with the file untouched. `settle=None` writes without waiting. Raises
    `HermesConfigError` (file untouched) for a file that cannot be edited safely.
    """
    from bhoga.hermes._apply import Target, write_change  # noqa: PLC0415

    target = Target.resolve(config_path)
    best, backups = _choose(router, model, target, write_fallbacks)
    if best is None:
        return False
    _intend(target, best)
    try:
        changed = _patiently(
            lambda: write_change(
                target,
                best,
                write_auxiliary=write_auxiliary,
                fallbacks=backups,
                write_fallbacks=write_fallbacks,
                settle=settle,
            ),
            settle,
        )
    except HermesConfigBusyError:
        _abandon(target)  # nothing written: what the file says now is someone else's save in progress
        raise
    except BaseException:
        _remember(target)
        raise
    _remember(target)
    return changed


def _patiently(write: Callable[[], bool], settle: float | None) -> bool:
    """`write()`, tried again `settle` seconds later while the config is being written, `BUSY_TRIES` times in all."""
    if settle is None:
        return write()
    import logging  # noqa: PLC0415 - `bhoga status` loads this package for its caveat, and never logging
    import time  # noqa: PLC0415

    log = logging.getLogger(__name__)
    for _ in range(BUSY_TRIES - 1):
        try:
            return write()
        except HermesConfigBusyError as exc:
            log.debug("hermes: %s; trying again in %gs", exc, settle)
            time.sleep(settle)
    try:
        return write()
    except HermesConfigBusyError as exc:
        raise HermesConfigBusyError(f"{exc}; still so after {BUSY_TRIES} tries: try again when it is saved") from None


def hermes_diff(
    source: RouterRecommendation | Ranker,
    model: str | None = None,
    *,
    config_path: Path | str | None = None,
    write_auxiliary: bool = False,
    write_fallbacks: bool = False,
    fallbacks: Sequence[RouterRecommendation] = (),
) -> str:
    """The unified diff that `apply_recommendation(source, ...)` or `apply_to_hermes(source, model, ...)`
    would make, without writing; "" when the file would not change."""
    from bhoga.hermes._apply import Target, diff_change  # noqa: PLC0415

    target = Target.resolve(config_path)
    if isinstance(source, RouterRecommendation):
        return diff_change(
            target, source, write_auxiliary=write_auxiliary, fallbacks=fallbacks, write_fallbacks=bool(fallbacks)
        )
    if model is None:
        raise TypeError("hermes_diff(router, model): model is required with a router")
    best, backups = _choose(source, model, target, write_fallbacks)
    if best is None:
        return ""
    return diff_change(
        target, best, write_auxiliary=write_auxiliary, fallbacks=backups, write_fallbacks=write_fallbacks
    )


def __getattr__(name: str) -> object:
    if name in _WRITER:
        from bhoga.hermes import _apply  # noqa: PLC0415

        return getattr(_apply, name)
    raise AttributeError(f"module 'bhoga.hermes' has no attribute {name!r}")
