"""The test suite, grouped by area (one subdirectory and one conftest each); fixtures every area shares
live in tests/conftest.py, helpers and fakes beside it (`from tests.<module> import ...`)."""
