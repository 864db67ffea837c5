"""Benchmarks: run by hand or in CI with small sizes; they print ratios, never assert time."""
