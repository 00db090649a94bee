"""Core tests: the pure routing core, calibration, values, state, history, pace and the file module.
They need only the shared temp HOME (tests/conftest.py)."""
