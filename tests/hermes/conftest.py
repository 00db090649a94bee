"""Hermes writer and resolver tests. `hermes` is a Hermes home in the temp HOME; `hermes_python` and
`hermes_version` are the cached real hermes-agent interpreters."""

from tests.fixtures_hermes import hermes
from tests.fixtures_resolver import hermes_python, hermes_version

__all__ = ["hermes", "hermes_python", "hermes_version"]
