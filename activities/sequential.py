"""Always-valid sequential tests for experiments: a winner you can trust however often you look.

A marketer looks at an experiment every day and stops when it looks good. A fixed-horizon
z-test checked at every look turns its 5 % false-winner rate into 15-30 %. Sojourn instead uses
the **mixture sequential probability ratio test** (mSPRT) of Johari, Koomen, Pekelis and Walsh,
"Peeking at A/B Tests: Why it matters, and what to do about it" (KDD 2017; also "Always Valid
Inference", Operations Research 2022), in its normal-approximation form for a difference of two
means (proportions are means of 0/1 outcomes, revenue per recipient a mean of amounts).

With ``θ̂`` the observed difference of two arms' means and ``V`` its plug-in variance
(``s²_a/n_a + s²_b/n_b``), a normal mixture ``θ ~ N(0, τ²)`` over the alternative gives the
likelihood ratio ``Λ = sqrt(V/(V+τ²)) · exp(θ̂² τ² / (2 V (V+τ²)))``. Under "no difference",
``Λ`` is a non-negative martingale, so by Ville's inequality ``P(Λ ever ≥ 1/α) ≤ α``: stopping
the first time it crosses is valid at any look, including every single one. Inverting the test
gives a confidence sequence for ``θ`` (an interval valid at all times at once, Howard, Ramdas,
McAuliffe and Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences",
Annals of Statistics 2021, §3.5): ``θ̂ ± sqrt(V (V+τ²)/τ² · (2 log(1/α) + log((V+τ²)/V)))``.

Decisions (see :func:`evaluate`):
- ``τ`` is set in standard-deviation units (``tau``, default 0.1: effects around a tenth of a
  standard deviation, e.g. +2 points on a 10 % rate, are the ones the test is tuned to find);
  ``τ² = tau² · s²_pooled``.
- Nothing is decided before ``min_sample`` recipients per arm (default 500, the sample Klaviyo
  waits for): the normal approximation and the plug-in variance are poor before that, and
  starting later can only lower the false-winner rate (fewer chances to cross).
- More than two arms: the leader is compared with every other arm at ``α / pairs`` (Bonferroni
  over all pairs, because the leader is chosen by the data); it wins when it beats all of them.
- An experiment that reaches its ``horizon`` (recipients over all arms) undecided ends as
  ``no_difference``.

Only numpy: the same functions serve a single experiment (floats) and the benchmark's
thousands of simulated experiments at once (arrays).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from statistics import NormalDist
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel

ALPHA = 0.05
TAU = 0.1
MIN_SAMPLE = 500
HORIZON = 20_000
# A variance of exactly zero (no conversion yet in either arm) says nothing: floor it.
_VAR_FLOOR = 1e-12


@dataclass(frozen=True)
class Tally:
    """What an arm has seen: recipients, the sum of their outcomes and of their squares.

    For a rate (open, click, conversion) the outcomes are 0/1, so ``total_sq == total``.
    """

    n: int
    total: float
    total_sq: float | None = None

    @property
    def mean(self) -> float:
        """The arm's mean outcome (its rate, or revenue per recipient)."""
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """The sample variance of one outcome (``p(1-p)`` for a rate)."""
        if not self.n:
            return 0.0
        squares = self.total if self.total_sq is None else self.total_sq
        return max(squares / self.n - self.mean**2, 0.0)


def log_mixture_lr(
    diff: ArrayLike, var: ArrayLike, pooled_var: ArrayLike, tau: float = TAU
) -> NDArray[np.float64]:
    """log Λ of the mSPRT for a difference of means (arrays broadcast).

    Args:
        diff: observed difference of the arms' means, ``θ̂``.
        var: its plug-in variance ``V``.
        pooled_var: the variance of one outcome, pooled over both arms (scales ``τ``).
        tau: the mixing standard deviation, in units of the outcome's standard deviation.
    """
    v = np.maximum(np.asarray(var, dtype=float), _VAR_FLOOR)
    tau2 = tau**2 * np.maximum(np.asarray(pooled_var, dtype=float), _VAR_FLOOR)
    d = np.asarray(diff, dtype=float)
    return np.asarray(-0.5 * np.log1p(tau2 / v) + d**2 * tau2 / (2 * v * (v + tau2)))


def half_width(
    var: ArrayLike, pooled_var: ArrayLike, alpha: float = ALPHA, tau: float = TAU
) -> NDArray[np.float64]:
    """Half-width of the confidence sequence for ``θ`` at level ``1 - alpha``."""
    v = np.maximum(np.asarray(var, dtype=float), _VAR_FLOOR)
    tau2 = tau**2 * np.maximum(np.asarray(pooled_var, dtype=float), _VAR_FLOOR)
    return np.asarray(
        np.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + np.log1p(tau2 / v)))
    )


def two_proportions(
    n_a: ArrayLike, x_a: ArrayLike, n_b: ArrayLike, x_b: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``(θ̂ = p̂_b - p̂_a, V, pooled variance)`` from counts (arrays broadcast)."""
    na, nb = np.asarray(n_a, dtype=float), np.asarray(n_b, dtype=float)
    pa, pb = np.asarray(x_a) / na, np.asarray(x_b) / nb
    pooled = (np.asarray(x_a) + np.asarray(x_b)) / (na + nb)
    var = pa * (1 - pa) / na + pb * (1 - pb) / nb
    return pb - pa, var, pooled * (1 - pooled)


class Comparison(BaseModel):
    """One arm against another: difference, its always-valid interval, the test statistic."""

    arm: str
    against: str
    difference: float
    low: float
    high: float
    lift: float | None
    log_lr: float
    significant: bool


class Decision(BaseModel):
    """The state of an experiment's test; recorded once it is no longer ``running``.

    Attributes:
        status: ``running``, ``decided`` (``winner`` set) or ``no_difference`` (horizon).
        winner: the arm new contacts get from now on.
        effect: the winner's relative lift over the runner-up (0.2 = +20 %).
        difference: the winner's mean minus the runner-up's (rate points, or revenue).
        low, high: the always-valid interval of ``difference`` at ``1 - alpha``.
        recipients: recipients over all arms at the time.
    """

    status: Literal["running", "decided", "no_difference"] = "running"
    winner: str | None = None
    runner_up: str | None = None
    effect: float | None = None
    difference: float | None = None
    low: float | None = None
    high: float | None = None
    recipients: int = 0
    alpha: float = ALPHA
    reason: str = ""


def compare(
    arm: str, tally: Tally, against: str, other: Tally, *, alpha: float, tau: float
) -> Comparison:
    """``arm`` minus ``against`` under the mSPRT at level ``alpha``."""
    diff = tally.mean - other.mean
    var = (
        tally.variance / max(tally.n, 1) + other.variance / max(other.n, 1)
        if tally.n and other.n
        else 0.0
    )
    n = tally.n + other.n
    pooled_mean = (tally.total + other.total) / n if n else 0.0
    squares = (tally.total if tally.total_sq is None else tally.total_sq) + (
        other.total if other.total_sq is None else other.total_sq
    )
    pooled_var = max(squares / n - pooled_mean**2, 0.0) if n else 0.0
    log_lr = float(log_mixture_lr(diff, var, pooled_var, tau))
    width = float(half_width(var, pooled_var, alpha, tau))
    return Comparison(
        arm=arm,
        against=against,
        difference=diff,
        low=diff - width,
        high=diff + width,
        lift=diff / other.mean if other.mean else None,
        log_lr=log_lr,
        significant=bool(tally.n and other.n and log_lr >= math.log(1 / alpha)),
    )


def evaluate(
    arms: Mapping[str, Tally],
    *,
    alpha: float = ALPHA,
    tau: float = TAU,
    min_sample: int = MIN_SAMPLE,
    horizon: int = HORIZON,
) -> Decision:
    """Decide an experiment from its arms' tallies (see the module docstring for the rules)."""
    recipients = sum(t.n for t in arms.values())
    if len(arms) < 2:
        return Decision(recipients=recipients, alpha=alpha, reason="fewer than two arms")
    ranked = sorted(arms, key=lambda a: arms[a].mean, reverse=True)
    leader, runner_up = ranked[0], ranked[1]
    pairs = len(list(combinations(arms, 2)))
    level = alpha / pairs
    against_all = [
        compare(leader, arms[leader], other, arms[other], alpha=level, tau=tau)
        for other in ranked[1:]
    ]
    closest = against_all[0]
    base = Decision(
        runner_up=runner_up,
        effect=closest.lift,
        difference=closest.difference,
        low=closest.low,
        high=closest.high,
        recipients=recipients,
        alpha=alpha,
    )
    if min(t.n for t in arms.values()) < min_sample:
        return base.model_copy(update={"reason": f"fewer than {min_sample} recipients in an arm"})
    if all(c.significant and c.difference > 0 for c in against_all):
        return base.model_copy(
            update={"status": "decided", "winner": leader, "reason": f"{leader} wins"}
        )
    if recipients >= horizon:
        return base.model_copy(
            update={"status": "no_difference", "reason": f"no winner by {horizon} recipients"}
        )
    return base.model_copy(update={"reason": "no winner yet"})


def fixed_horizon_size(base: float, lift: float, alpha: float = ALPHA, power: float = 0.8) -> int:
    """Recipients per arm a two-sided fixed-horizon z-test needs for ``power`` at ``lift``.

    The textbook formula for two proportions (pooled variance under the null).
    """
    p1, p2 = base, base * (1 + lift)
    p = (p1 + p2) / 2
    z_a = NormalDist().inv_cdf(1 - alpha / 2)
    z_b = NormalDist().inv_cdf(power)
    root = z_a * math.sqrt(2 * p * (1 - p)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(root**2 / (p2 - p1) ** 2)
