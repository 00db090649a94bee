"""`bhoga` command tests. `server` is a real protocol server in its own process on the default socket
path (defined beside the tests that began with it)."""

from tests.cli.test_cli import server

__all__ = ["server"]
