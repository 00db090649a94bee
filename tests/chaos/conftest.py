"""Chaos tests: real bhogad processes killed with -9, full disks, socket abuse. They use the shared
temp HOME (tests/conftest.py); `start` collects the daemons a test launches and kills them at the end."""

from tests.fixtures_daemon import start

__all__ = ["start"]
