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
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from bhoga._paths import paused_marker_path
from bhoga._router import Router
from bhoga._routing import should_switch
from bhoga.errors import HermesConfigError

from .config import DaemonConfig

__all__ = ["FlipResult", "Flipper", "Outcome", "hermes_provider_to_pid"]

log = logging.getLogger(__name__)

# Hermes `model.provider` values and the bhoga provider each one means. "auto" and an empty provider are
# unclaimed: bhogad may set them. Anything else is somebody else's choice.
_HERMES_TO_PID = {
    "anthropic": "claude_code",
    "claude": "claude_code",
    "claude-code": "claude_code",
    "anthropic-api": "anthropic_api",
    "custom:anthropic-api": "anthropic_api",
    "openai-codex": "openai-codex",
    "codex": "openai-codex",
    "openai-api": "openai_api",
    "openrouter": "openai_api",
    "copilot": "github-copilot",
    "github": "github-copilot",
    "github-copilot": "github-copilot",
}
_UNCLAIMED = ("", "auto")


def hermes_provider_to_pid(provider: str | None) -> tuple[str | None, bool]:
    """(bhoga provider id or None, whether bhoga may manage it) for a Hermes `model.provider` value."""
    p = (provider or "").strip().lower()
    if p in _UNCLAIMED:
        return None, True
    pid = _HERMES_TO_PID.get(p)
    return pid, pid is not None


class Outcome(StrEnum):
    """What a pass did."""

    WROTE = "wrote"
    KEPT = "kept"
    PAUSED = "paused"
    SKIPPED = "skipped"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
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


def is_paused(config: DaemonConfig) -> bool:
    """bhogad.toml says paused, or the marker file exists."""
    return config.paused or paused_marker_path().exists()


class Flipper:
    """Holds what bhogad last wrote, so its own names are recognised when read back."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._written: tuple[str, str] | None = None
        """(Hermes model.default written, model that was routed)."""

    def routed_model(self, config: DaemonConfig, file_model: str | None) -> str | None:
        """The model to route: bhogad.toml's first, else what Hermes says (or what bhogad routed to get it)."""
        if config.models:
            return config.models[0]
        if not file_model:
            return None
        if self._written is not None and self._written[0] == file_model:
            return self._written[1]
        return file_model.rsplit("/", 1)[-1]

    def run(self, config: DaemonConfig) -> FlipResult:
        """One pass; never raises for a Hermes problem (the result says what went wrong)."""
        from bhoga import hermes  # noqa: PLC0415 - ruamel.yaml is heavy; the daemon loads it on first pass

        try:
            path = hermes.hermes_config_path()
            route = hermes.read_hermes_route(path)
        except HermesConfigError as exc:
            return FlipResult(Outcome.ERROR, str(exc))
        file_provider = route.provider if route is not None else None
        file_model = route.model if route is not None else None
        model = self.routed_model(config, file_model)

        def result(outcome: Outcome, message: str) -> FlipResult:
            return FlipResult(outcome, message, model, path, file_provider, file_model)

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
        switch, reason = should_switch(
            current,
            self.router.snapshot(),
            model,
            now,
            margin=config.margin,
            reserve=config.reserve,
            policy=config.policy,
            exclude=exclusions,
            paces=self.router.paces() if config.policy == "pace" else None,
        )
        if not switch:
            return result(Outcome.KEPT, reason)
        if is_paused(config):
            return result(Outcome.PAUSED, f"paused; would switch: {reason}")
        ranked = self.router.ranked(model, exclude=exclusions)
        if not ranked:
            return result(Outcome.KEPT, f"no candidate for {model}")
        rec = ranked[0]
        try:
            changed = hermes.apply_recommendation(
                rec,
                config_path=path,
                write_auxiliary=config.write_auxiliary,
                fallbacks=ranked[1:] if config.write_fallbacks else (),
            )
        except HermesConfigError as exc:
            return result(Outcome.ERROR, str(exc))
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
