"""One Hermes pass: read what Hermes is set to, ask the anti-flap rule, and rewrite the config only when it says so.

A pass blocks (it reads and may write `config.yaml`), so the daemon runs it off the loop thread, one at a time.

Never fighting the user:

* The model routed is the one in Hermes' own `model.default` (unless bhogad.toml lists models). When the file
  still holds the name bhogad wrote, the original name keeps being routed; when someone changed it (`hermes
  model`, an editor), the new one is routed from then on.
* The current provider is read from the file every pass, so a hand edit or Hermes' own rewrite is the starting
  point of the anti-flap rule, not something to overwrite.
* A provider bhoga does not route (a local model, `nous`, a custom endpoint) is left alone.
* Paused (bhogad.toml `paused = true` or the marker file) means no write at all; the check is made right
  before writing.
* A file being written by someone else is neither read as a choice nor written: an editor that truncates
  config.yaml and writes it anew (vim with backupcopy, `>` redirection) keeps its descriptor on the file, so a
  replacement renamed in between would send the rest of its bytes to an unlinked inode. A file written less than
  `SETTLE` ago is given the rest of that time, one that changes meanwhile (or is empty) is skipped with a debug
  line, and its next change (or the retry the daemon schedules) runs the pass again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from bhoga import _pin
from bhoga._model import ProviderStatus, RouterRecommendation
from bhoga._pause import is_paused
from bhoga._providers import hermes_to_pid
from bhoga._record import record
from bhoga._router import Router
from bhoga._routing import PACED, decide
from bhoga._values import human_duration
from bhoga.errors import HermesConfigBusyError, HermesConfigError
from bhoga.hermes import SETTLE

from .config import DaemonConfig
from .userword import pin_check

__all__ = ["SETTLE", "FlipResult", "Flipper", "Outcome", "hermes_provider_to_pid"]

log = logging.getLogger(__name__)

# "auto" and an empty provider are unclaimed: bhogad may set them. Any provider the registry does not map to a
# bhoga provider is somebody else's choice.
_UNCLAIMED = ("", "auto")


def hermes_provider_to_pid(provider: str | None) -> tuple[str | None, bool]:
    """(bhoga provider id or None, whether bhoga may manage it) for a Hermes `model.provider` value."""
    p = (provider or "").strip().lower()
    if p in _UNCLAIMED:
        return None, True
    pid = hermes_to_pid(p)
    return pid, pid is not None


class Outcome(StrEnum):
    """What a pass did."""

    WROTE = "wrote"
    KEPT = "kept"
    PAUSED = "paused"
    PINNED = "pinned"
    SKIPPED = "skipped"
    ERROR = "error"


@record
class FlipResult:
    """The result of one pass, for logs, `--once` output and `status`."""

    outcome: Outcome
    message: str
    model: str | None = None
    path: Path | None = None
    provider: str | None = None
    """Hermes' `model.provider` after the pass."""
    hermes_model: str | None = None
    """Hermes' `model.default` after the pass."""
    busy: bool = False
    """Skipped because someone else was writing the file: worth a debug line and a retry, not a log line."""


class Flipper:
    """Holds what bhogad last wrote, so its own names are recognised when read back."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._written: tuple[str, str] | None = None
        """(Hermes model.default written, model that was routed)."""
        self._applied: tuple[str, str] | None = None
        """(Hermes model.default written by an `apply`, model applied): routed while the file still says so."""
        self._lock = threading.Lock()
        """One Hermes write at a time: a pass in its worker thread, or an `apply` from the socket."""
        self._reported: str | None = None
        """The last "stuck on a throttled provider" line logged, so it is logged once, not every pass."""
        self._own: tuple[int, int, int, int] | None = None
        """The config's identity (`hermes.file_identity`) right after bhogad's last write of it: a file still so
        is bhogad's own, not an editor's half-written one, and is not waited for."""

    def routed_model(self, config: DaemonConfig, file_model: str | None) -> str | None:
        """The model to route: the one `bhoga apply` asked for while Hermes still uses it, else bhogad.toml's
        first, else what Hermes says (or what bhogad routed to get it)."""
        if self._applied is not None and file_model == self._applied[0]:
            return self._applied[1]
        if config.models:
            return config.models[0]
        if not file_model:
            return None
        if self._written is not None and self._written[0] == file_model:
            return self._written[1]
        return file_model.rsplit("/", 1)[-1]

    def run(self, config: DaemonConfig) -> FlipResult:
        """One pass; never raises for a Hermes problem (the result says what went wrong)."""
        with self._lock:
            return self._run(config)

    def _report_stuck(
        self, current: str | None, ranked: Sequence[RouterRecommendation], model: str, path: Path, *, pinned: bool
    ) -> None:
        """One log line when Hermes stays on a throttled or exhausted provider (nothing better, or pinned)."""
        now = datetime.now(UTC)
        mine = next((r for r in ranked if r.provider_id == current), None)
        if mine is None or mine.status not in (ProviderStatus.THROTTLED, ProviderStatus.EXHAUSTED):
            self._reported = None
            return
        until = mine.resets_at.isoformat(timespec="seconds") if mine.resets_at else "unknown"
        key = f"{current}|{mine.status}|{until}|{pinned}"
        if key == self._reported:
            return
        self._reported = key
        left = f" for {human_duration((mine.resets_at - now).total_seconds())}" if mine.resets_at else ""
        if pinned:
            better = next((r.provider_id for r in ranked if r.provider_id != current), None)
            hint = f"; {better} could serve it (run `bhoga unpin`)" if better else ""
            log.warning(
                "pinned provider %s is %s%s for %s; not changing it (pinned)%s", current, mine.status, left, model, hint
            )
        else:
            log.warning(
                "%s is %s%s for %s and nothing better is usable; Hermes stays on it (%s)",
                current,
                mine.status,
                left,
                model,
                path,
            )

    def _run(self, config: DaemonConfig) -> FlipResult:
        from bhoga import hermes  # noqa: PLC0415 - ruamel.yaml is heavy; the daemon loads it on first pass

        path: Path | None = None
        seen: tuple[int, int, int, int] | None = None
        try:
            path = hermes.hermes_config_path()
            seen = hermes.file_identity(path)
            if seen is None or seen != self._own:
                seen = hermes.settle(path, SETTLE)
            route = hermes.read_hermes_route(path)
            if hermes.file_identity(path) != seen:
                raise HermesConfigBusyError(f"{path} changed while bhogad read it (being written?); nothing written")
        except HermesConfigBusyError as exc:
            return _busy(exc, path)
        except HermesConfigError as exc:
            if seen is not None and path is not None and _moved(path, seen):  # half a file, still being written
                return _busy(HermesConfigBusyError(f"{path} changed while bhogad read it (being written?)"), path)
            return FlipResult(Outcome.ERROR, str(exc))
        file_provider = route.provider if route is not None else None
        file_model = route.model if route is not None else None
        model = self.routed_model(config, file_model)

        def result(outcome: Outcome, message: str) -> FlipResult:
            return FlipResult(outcome, message, model, path, file_provider, file_model)

        if seen is not None and seen[2] == 0:
            # An editor's truncate before its write, most likely (or a Hermes not set up): no choice of route to
            # read, and nothing is written into it. Its write is a change, which runs the next pass.
            return result(Outcome.SKIPPED, f"{path} is empty (being written?); bhogad writes nothing into it")
        if route is None:
            record = _pin.RouteRecord()
        elif route == hermes.HermesRoute(None, None, None, None):
            # No model section at all is no choice of route: taking it as an edit would pin the route to nothing.
            record = _pin.load().for_config(path)
        else:
            record = pin_check(path, file_provider)
        if record.pinned:
            since = record.pinned_since.isoformat(timespec="seconds") if record.pinned_since else "?"
            if model is not None:
                ranked = self.router.ranked(model)
                self._report_stuck(hermes_provider_to_pid(file_provider)[0], ranked, model, path, pinned=True)
            return result(
                Outcome.PINNED,
                f"route pinned to {file_provider or '(none)'} since {since}; bhogad changes nothing "
                "until `bhoga unpin`",
            )
        if model is None:
            if route is None:
                return result(Outcome.SKIPPED, f"{path} does not exist (is Hermes set up?); nothing to route yet")
            return result(
                Outcome.SKIPPED, f"nothing to route: {path} has no model.default and bhogad.toml lists no models"
            )
        current, managed = hermes_provider_to_pid(file_provider)
        if not managed:
            return result(
                Outcome.SKIPPED, f"Hermes uses provider {file_provider!r}, which bhoga does not route; leaving it"
            )
        exclusions = hermes.hermes_exclusions(path)
        now = datetime.now(UTC)
        # One ranking serves the decision, the write and the report.
        switch, reason, ranked = decide(
            current,
            self.router.snapshot(),
            model,
            now,
            margin=config.margin,
            reserve=config.reserve,
            policy=config.policy,
            exclude=exclusions,
            paces=self.router.paces() if config.policy in PACED else None,
            econ=self.router.economics(model, *config.models) if config.policy == "value" else None,
        )
        if not switch:
            self._report_stuck(current, ranked, model, path, pinned=False)
            return result(Outcome.KEPT, reason)
        if is_paused(config.paused):
            return result(Outcome.PAUSED, f"paused; would switch: {reason}")
        if not ranked:
            return result(Outcome.KEPT, f"no candidate for {model}")
        rec = ranked[0]
        try:
            changed = hermes.apply_recommendation(
                rec,
                config_path=path,
                write_auxiliary=config.write_auxiliary,
                fallbacks=ranked[1:] if config.write_fallbacks else (),
                settle=None if seen is not None and seen == self._own else SETTLE,
            )
        except HermesConfigBusyError as exc:
            return _busy(exc, path)
        except HermesConfigError as exc:
            return result(Outcome.ERROR, str(exc))
        if changed:
            self._own = hermes.file_identity(path)
        self._written = (rec.hermes_model, model)
        try:
            after = hermes.read_hermes_route(path)
        except HermesConfigError:
            after = None
        if after is not None and after.model:
            self._written = (after.model, model)
        if changed:
            log.info(
                "flip %s: %s → %s in %s (%s)", model, current or file_provider or "none", rec.provider_id, path, reason
            )
        return FlipResult(
            Outcome.WROTE if changed else Outcome.KEPT,
            reason if changed else f"{path} already routes {model} to {rec.provider_id}",
            model,
            path,
            after.provider if after else None,
            after.model if after else None,
        )


def _moved(path: Path, seen: tuple[int, int, int, int]) -> bool:
    """Whether the file changed since it was seen (an error while looking is no news)."""
    from bhoga.hermes import file_identity  # noqa: PLC0415 - loaded by the pass already

    try:
        return file_identity(path) != seen
    except HermesConfigError:
        return False


def _busy(exc: HermesConfigBusyError, path: Path | None) -> FlipResult:
    log.debug("Hermes pass skipped: %s", exc)
    return FlipResult(Outcome.SKIPPED, f"{exc}; the next pass tries again", path=path, busy=True)
