"""Benchmarks: `python -m tools.bench delivery [--json]`."""
