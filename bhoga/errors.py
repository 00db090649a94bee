"""The exceptions bhoga raises on purpose.

Every error a user can cause is a `BhogaError`; its message is one line that names the file, value or
provider involved, so a CLI can print it as it is.
"""

from __future__ import annotations

__all__ = [
    "BhogaError",
    "ConfigError",
    "DiscoveryError",
    "HermesConfigError",
    "ProtocolError",
    "StateError",
]


class BhogaError(Exception):
    """Base class of every error bhoga raises for a reason a person can act on."""


class ConfigError(BhogaError):
    """A bhoga setting (bhogad.toml, an environment variable, an argument) is invalid."""


class StateError(BhogaError):
    """The state file cannot be read or written."""


class DiscoveryError(BhogaError):
    """A quota source could not be read; discovery itself catches these and logs one line."""


class HermesConfigError(BhogaError):
    """Hermes' config.yaml cannot be edited safely; the file was left untouched."""


class ProtocolError(BhogaError):
    """A socket request or response does not follow protocol v1."""
