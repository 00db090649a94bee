"""Core tests: the pure routing core, calibration, values, state, history, pace and the file module.
They need only the shared temp HOME (tests/conftest.py). test_registry.py registers a provider (registry_acme.py
is its discovery module) and follows it through every reader of the registry."""
