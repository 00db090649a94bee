"""Chaos tests: real bhogad processes killed with -9, full disks, socket abuse. They use the shared
temp HOME (tests/conftest.py) and start their own daemons."""
