"""Benchmarks: `python -m benchmarks` runs them all and prints one table with the targets beside the results."""
