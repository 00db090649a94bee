"""bhogad tests against real daemon subprocesses. `start` collects the daemons a test launches and
kills them at the end."""

from tests.fixtures_daemon import start

__all__ = ["start"]
