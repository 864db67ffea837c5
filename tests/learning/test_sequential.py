"""The always-valid sequential test: its formula, decisions and guarantees by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from activities.sequential import (
    Tally,
    evaluate,
    fixed_horizon_size,
    half_width,
    log_mixture_lr,
    two_proportions,
)


def test_mixture_likelihood_ratio_matches_the_closed_form() -> None:
    diff, var, pooled, tau = 0.02, 2e-5, 0.09, 0.1
    tau2 = tau**2 * pooled
    expected = math.sqrt(var / (var + tau2)) * math.exp(diff**2 * tau2 / (2 * var * (var + tau2)))
    assert float(log_mixture_lr(diff, var, pooled, tau)) == pytest.approx(math.log(expected))
    # The interval's edge is exactly where the test starts rejecting.
    edge = float(half_width(var, pooled, 0.05, tau))
    assert float(log_mixture_lr(edge, var, pooled, tau)) == pytest.approx(math.log(20))


def test_nothing_is_decided_before_the_minimum_sample() -> None:
    arms = {"a": Tally(n=400, total=20), "b": Tally(n=400, total=120)}
    decision = evaluate(arms, min_sample=500)
    assert decision.status == "running" and decision.winner is None
    assert "500" in decision.reason


def test_a_clear_winner_is_decided_with_its_effect_and_interval() -> None:
    arms = {"a": Tally(n=5000, total=500), "b": Tally(n=5000, total=700)}
    decision = evaluate(arms)
    assert decision.status == "decided"
    assert decision.winner == "b" and decision.runner_up == "a"
    assert decision.effect == pytest.approx(0.4)
    assert decision.difference == pytest.approx(0.04)
    assert decision.low is not None and decision.high is not None
    assert 0 < decision.low < 0.04 < decision.high


def test_equal_arms_end_as_no_difference_at_the_horizon() -> None:
    arms = {"a": Tally(n=10_000, total=1000), "b": Tally(n=10_000, total=1010)}
    assert evaluate(arms, horizon=30_000).status == "running"
    decision = evaluate(arms, horizon=20_000)
    assert decision.status == "no_difference" and decision.winner is None
    assert decision.low is not None and decision.high is not None
    assert decision.low < 0 < decision.high


def test_with_three_arms_the_leader_must_beat_every_other() -> None:
    close = {
        "a": Tally(n=5000, total=500),
        "b": Tally(n=5000, total=700),
        "c": Tally(n=5000, total=690),
    }
    assert evaluate(close).status == "running"
    apart = {**close, "c": Tally(n=5000, total=520)}
    decision = evaluate(apart)
    assert decision.status == "decided" and decision.winner == "b"
    # Bonferroni over pairs: what wins with two arms at the margin may not with three.
    margin = {"a": Tally(n=3000, total=300), "b": Tally(n=3000, total=378)}
    assert evaluate(margin).status == "decided"
    assert evaluate({**margin, "c": Tally(n=3000, total=300)}).status == "running"


def test_revenue_per_recipient_uses_the_outcomes_own_variance() -> None:
    # 10 % buy for 50 in both arms, but b's buyers spend 80: revenue per recipient 5 vs 8.
    a = Tally(n=4000, total=400 * 50.0, total_sq=400 * 50.0**2)
    b = Tally(n=4000, total=400 * 80.0, total_sq=400 * 80.0**2)
    assert a.variance == pytest.approx(0.1 * 2500 - 25)
    decision = evaluate({"a": a, "b": b})
    assert decision.status == "decided" and decision.winner == "b"
    assert decision.difference == pytest.approx(3.0)


def test_fixed_horizon_size_is_the_textbook_figure() -> None:
    # 10 % vs 12 %, α = 0.05 two-sided, 80 % power: about 3,840 an arm.
    assert 3800 <= fixed_horizon_size(0.10, 0.20) <= 3900


def _peeking(rng: np.random.Generator, p_a: float, p_b: float, experiments: int = 400) -> tuple:
    looks = 200
    x_a = rng.binomial(25, p_a, size=(experiments, looks)).cumsum(axis=1)
    x_b = rng.binomial(25, p_b, size=(experiments, looks)).cumsum(axis=1)
    n = 25.0 * np.arange(1, looks + 1)
    return n, x_a, x_b


def test_looking_at_every_step_keeps_the_false_winner_rate_under_alpha() -> None:
    n, x_a, x_b = _peeking(np.random.default_rng(5), 0.1, 0.1)
    diff, var, pooled = two_proportions(n, x_a, n, x_b)
    ever = ((log_mixture_lr(diff, var, pooled) >= math.log(20)) & (n >= 500)).any(axis=1)
    naive = ((np.abs(diff) / np.sqrt(pooled * 2 / n) >= 1.96) & (n >= 500)).any(axis=1)
    # The naive test checked at every look is well over α; the mixture test is not.
    assert naive.mean() > 0.12
    assert ever.mean() <= 0.06


def test_the_confidence_sequence_covers_the_truth_at_every_look_at_once() -> None:
    n, x_a, x_b = _peeking(np.random.default_rng(7), 0.10, 0.12)
    diff, var, pooled = two_proportions(n, x_a, n, x_b)
    width = half_width(var, pooled)
    covered = (np.abs(diff - 0.02) <= width)[:, n >= 500].all(axis=1)
    assert covered.mean() >= 0.94
