"""Benchmarks: suites, runner, statistics, history (no Qt)."""
