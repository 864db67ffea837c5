"""``bench/experiments.py`` runs end to end on a small size (its figures are the README's)."""

from __future__ import annotations

from bench.experiments import run


def test_the_experiments_bench_runs_and_reports_every_figure() -> None:
    figures = run(experiments=100, seed=3, tau=0.1)
    assert set(figures) >= {"aa_sojourn", "aa_naive", "ab_right", "ab_median", "fixed_right"}
    # Peeking at a naive test finds more false winners than the always-valid test.
    assert figures["aa_naive"] > figures["aa_sojourn"]
    assert 0 < figures["ab_median"] <= 20_000


def test_the_send_time_bench_runs_and_best_time_beats_the_fixed_hour() -> None:
    from bench.send_time import run as run_send_time

    f = run_send_time(contacts=2000, seed=1)
    assert f["fixed"] < f["best"] <= f["oracle"]
