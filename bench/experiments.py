"""Experiments under continuous monitoring: Sojourn's always-valid test against peeking.

A simulation of the statistics alone (``activities/sequential.py``), seeded and vectorised:

- **A/A**: 2,000 experiments whose two arms share a 10 % rate, looked at after every 50
  recipients (25 an arm) up to 20,000. The share that ever declares a winner is the
  false-winner rate: Sojourn's mSPRT, and in the same run a naive fixed-horizon z-test
  (two-sided, α = 0.05) checked at every look. Both wait for the same minimum sample, so the
  difference between them is the peeking alone. Bar (DESIGN.md): Sojourn ≤ 5 %.
- **A/B**: 2,000 experiments with a true +20 % relative lift on a 10 % base rate, looked at the
  same way: the share decided for the right arm (and for the wrong one) by the horizon, and the
  median sample at decision, beside a fixed-horizon test sized for 80 % power and evaluated once
  at its size.

Not a test: nothing asserts. Prints the figures, the ratios and whether each bar is met.

    python -m bench.experiments [--experiments 2000] [--seed 11]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numpy.typing import NDArray

from activities.sequential import (
    ALPHA,
    HORIZON,
    MIN_SAMPLE,
    TAU,
    fixed_horizon_size,
    log_mixture_lr,
    two_proportions,
)

LOOK_EVERY = 50  # recipients over both arms between two looks
BASE = 0.10
LIFT = 0.20
Z_CRIT = 1.959963984540054  # two-sided 5 %
BAR_FALSE_WINNERS = 0.05


def simulate(
    rng: np.random.Generator, experiments: int, p_a: float, p_b: float, horizon: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Cumulative successes of both arms at every look: ``(n per arm, x_a, x_b)``."""
    per_arm = LOOK_EVERY // 2
    looks = horizon // LOOK_EVERY
    x_a = rng.binomial(per_arm, p_a, size=(experiments, looks)).cumsum(axis=1)
    x_b = rng.binomial(per_arm, p_b, size=(experiments, looks)).cumsum(axis=1)
    n = per_arm * np.arange(1, looks + 1, dtype=float)
    return n, x_a.astype(float), x_b.astype(float)


def first_crossing(crossed: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Index of each row's first True, or -1."""
    first = crossed.argmax(axis=1)
    return np.where(crossed.any(axis=1), first, -1)


def sojourn_test(
    n: NDArray[np.float64], x_a: NDArray[np.float64], x_b: NDArray[np.float64], tau: float
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Look index of Sojourn's decision (-1: none by the horizon) and the difference then."""
    diff, var, pooled = two_proportions(n, x_a, n, x_b)
    crossed = log_mixture_lr(diff, var, pooled, tau) >= np.log(1 / ALPHA)
    crossed &= n >= MIN_SAMPLE
    return first_crossing(crossed), diff


def naive_test(
    n: NDArray[np.float64], x_a: NDArray[np.float64], x_b: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The pooled two-proportion z-test at every look, as if each look were the last."""
    diff, _, pooled = two_proportions(n, x_a, n, x_b)
    se = np.sqrt(np.maximum(pooled * 2 / n, 1e-12))
    crossed = (np.abs(diff / se) >= Z_CRIT) & (n >= MIN_SAMPLE)
    return first_crossing(crossed), diff


def decided_share(
    first: NDArray[np.int64], diff: NDArray[np.float64], sign: int
) -> tuple[float, float]:
    """Shares decided for the arm with the given sign of ``b - a`` (1: b), and for the other."""
    rows = np.arange(first.size)
    at = diff[rows, np.maximum(first, 0)]
    decided = first >= 0
    right = decided & (np.sign(at) == sign)
    return float(right.mean()), float((decided & ~right).mean())


def run(experiments: int, seed: int, tau: float) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    figures: dict[str, float] = {}
    n, x_a, x_b = simulate(rng, experiments, BASE, BASE, HORIZON)
    first, diff = sojourn_test(n, x_a, x_b, tau)
    figures["aa_sojourn"] = float((first >= 0).mean())
    first, diff = naive_test(n, x_a, x_b)
    figures["aa_naive"] = float((first >= 0).mean())

    n, x_a, x_b = simulate(rng, experiments, BASE, BASE * (1 + LIFT), HORIZON)
    first, diff = sojourn_test(n, x_a, x_b, tau)
    figures["ab_right"], figures["ab_wrong"] = decided_share(first, diff, 1)
    decided = first[first >= 0]
    figures["ab_median"] = float(np.median(2 * n[decided])) if decided.size else float("nan")
    size = fixed_horizon_size(BASE, LIFT)
    a = rng.binomial(size, BASE, experiments).astype(float)
    b = rng.binomial(size, BASE * (1 + LIFT), experiments).astype(float)
    d, _, pooled = two_proportions(size, a, size, b)
    z = d / np.sqrt(pooled * 2 / size)
    figures["fixed_right"] = float((z >= Z_CRIT).mean())
    figures["fixed_wrong"] = float((z <= -Z_CRIT).mean())
    figures["fixed_size"] = 2.0 * size
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--tau", type=float, default=TAU, help="mSPRT mixing sd, in sd units")
    args = parser.parse_args()
    started = time.perf_counter()
    f = run(args.experiments, args.seed, args.tau)
    took = time.perf_counter() - started
    looks = HORIZON // LOOK_EVERY
    print(
        f"{args.experiments} experiments each, looked at every {LOOK_EVERY} recipients up to "
        f"{HORIZON} ({looks} looks), min {MIN_SAMPLE} an arm, α = {ALPHA}, τ = {args.tau}, "
        f"seed {args.seed}"
    )
    verdict = "within" if f["aa_sojourn"] <= BAR_FALSE_WINNERS else "over"
    ratio = f["aa_naive"] / f["aa_sojourn"] if f["aa_sojourn"] else float("inf")
    print(f"\nA/A (both arms {BASE:.0%}): false-winner rate")
    print(
        f"  {'sojourn (mSPRT)':<28}{f['aa_sojourn']:>8.1%}   bar ≤ {BAR_FALSE_WINNERS:.0%}"
        f"  ({verdict} the bar)"
    )
    print(f"  {'naive z-test at every look':<28}{f['aa_naive']:>8.1%}   {ratio:.1f}× sojourn's")
    print(f"\nA/B ({BASE:.0%} vs {BASE * (1 + LIFT):.0%}, +{LIFT:.0%} relative)")
    print(f"  {'':<28}{'right arm':>10}{'wrong arm':>10}{'sample':>10}")
    print(
        f"  {'sojourn, by the horizon':<28}{f['ab_right']:>10.1%}{f['ab_wrong']:>10.1%}"
        f"{f['ab_median']:>10.0f}  (median at decision)"
    )
    print(
        f"  {'fixed horizon, 80 % power':<28}{f['fixed_right']:>10.1%}{f['fixed_wrong']:>10.1%}"
        f"{f['fixed_size']:>10.0f}  (always)"
    )
    print(f"  median sample ratio sojourn/fixed: {f['ab_median'] / f['fixed_size']:.2f}")
    print(f"\nsimulated in {took:.1f} s")


if __name__ == "__main__":
    main()
