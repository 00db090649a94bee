"""The exceptions bhoga raises on purpose.

Every error a user can cause is a `BhogaError`; its message is one line that names the file, value or
provider involved, so a CLI can print it as it is.
"""

from __future__ import annotations

import errno

__all__ = [
    "BhogaError",
    "ConfigError",
    "DiscoveryError",
    "HermesConfigBusyError",
    "HermesConfigError",
    "NotRegularFileError",
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


class HermesConfigBusyError(HermesConfigError):
    """Hermes' config.yaml is being written by someone else right now (an editor's truncate-and-write): nothing
    was written; the next pass tries again."""


class ProtocolError(BhogaError):
    """A socket request or response does not follow protocol v1."""


class NotRegularFileError(BhogaError, OSError):
    """A path bhoga would read, write, lock or move is not a regular file (or is too large to be ours).

    Also an `OSError`, so every "cannot read this file" path handles it; the file was left exactly as it was.
    """

    def __init__(self, path: object, what: str) -> None:
        super().__init__(errno.EINVAL, f"is {what}, not a regular file" if what.startswith("a ") else f"is {what}")
        self.filename = str(path)

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}; left unchanged"
