"""``bench/experiments.py`` runs end to end on a small size (its figures are the README's)."""

from __future__ import annotations

from bench.experiments import run


def test_the_experiments_bench_runs_and_reports_every_figure() -> None:
    figures = run(experiments=100, seed=3, tau=0.1)
    assert set(figures) >= {"aa_sojourn", "aa_naive", "ab_right", "ab_median", "fixed_right"}
    # Peeking at a naive test finds more false winners than the always-valid test.
    assert figures["aa_naive"] > figures["aa_sojourn"]
    assert 0 < figures["ab_median"] <= 20_000
