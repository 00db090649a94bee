"""Pausing: while paused, bhoga changes nothing in Hermes' config on its own (DESIGN §5).

Paused means bhogad.toml says `paused = true`, or the marker file exists (`bhoga pause`, the `pause` op). The CLI
and the daemon both ask here, so `status` with and without a daemon agree.
"""

from __future__ import annotations

from bhoga._paths import daemon_config_path, paused_marker_path
from bhoga.errors import ConfigError

__all__ = ["is_paused", "set_paused"]


def _configured() -> bool:
    """bhogad.toml's `paused`, read the way the daemon reads it (a broken file is reported elsewhere)."""
    from bhoga._settings import read_toml  # noqa: PLC0415 - only callers without a loaded config pay for it

    try:
        data = read_toml(daemon_config_path())
    except ConfigError:
        return False
    return data is not None and data.get("paused") is True


def is_paused(configured: bool | None = None) -> bool:
    """Whether writes are paused: `configured` is bhogad.toml's `paused` (None: read the file), or the marker."""
    if configured is None:
        configured = _configured()
    return configured or paused_marker_path().exists()


def set_paused(paused: bool) -> None:
    """Create or remove the marker file (bhogad.toml's `paused` is the user's to edit)."""
    marker = paused_marker_path()
    if paused:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    else:
        marker.unlink(missing_ok=True)
