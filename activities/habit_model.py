"""The habit model behind ``send(at="best_time")``: a contact's preferred hour, and if it moved.

Each contact is assumed to have one *preferred reading hour* ``p`` (a latent variable on a
half-hour grid of the 24-hour circle). An open or click at local time ``r`` is read either at the
habit, ``r ~ Normal(p, SPREAD)`` on the circle, or at any moment (a share ``BACKGROUND``: opens
right after arrival, on the phone in a queue). The prior on ``p`` is the population's own profile,
so a contact with little history gets the population's best hour and one with a lot gets their
own: that is the shrinkage, with the prior weighing as much as the evidence says, not a fixed count.

Habits change (a new job, a new timezone): the history may hold **one change point**. With prior
probability ``CHANGE_PRIOR`` the newest ``k`` opens come from a new habit and the older ones from
an old one, ``k`` uniform; the posterior over ``p`` mixes the no-change and every change-point
reading by their marginal likelihoods (Bayesian change-point detection, as in Fearnhead,
"Exact and efficient Bayesian inference for multiple changepoint problems", Stat. Comput. 2006,
with at most one change). That is the recency weighting: recent opens always count, older ones
only as far as they agree with the recent ones. A click counts twice (its likelihood squared): it
says more about attention than an open, which image proxies fake.

The score of sending at local hour ``h`` is the expected read-time density at ``h``,
``E[N(h; p, SPREAD)]`` under the posterior: a message sent when the person reads mail sits on top
of the inbox. Pure numpy; the activity calls it for one contact, ``bench/send_time.py`` for
20,000 at once (in chunks, to keep memory small).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

# A habit is "around eight": reads spread over about ±1.5 h around the preferred hour.
SPREAD = 1.5
# Share of opens that say nothing about the habit (read whenever the message arrived).
BACKGROUND = 0.3
# Prior probability that the history holds one change of habit.
CHANGE_PRIOR = 0.3
CLICK_WEIGHT = 2.0
GRID = np.arange(48) / 2.0
CHUNK = 1024


def _circular(d: NDArray[np.float64]) -> NDArray[np.float64]:
    d = np.abs(d) % 24
    return np.asarray(np.minimum(d, 24 - d))


def _kernel(d: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(np.exp(-(d**2) / (2 * SPREAD**2)) / (np.sqrt(2 * np.pi) * SPREAD))


def _read_likelihood(hours: NDArray[np.float64]) -> NDArray[np.float64]:
    """``f(r | p)`` for each read hour ``r`` (any shape) and grid point: shape ``(..., 48)``."""
    near = _kernel(_circular(hours[..., None] - GRID))
    return np.asarray((1 - BACKGROUND) * near + BACKGROUND / 24)


def _logsumexp(a: NDArray[np.float64], axis: int) -> NDArray[np.float64]:
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    total = np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)) + top
    return np.asarray(np.squeeze(total, axis=axis))


def population_prior(population: NDArray[np.float64]) -> NDArray[np.float64]:
    """The prior over the preferred hour: everyone's opens by local hour (a 24-vector of counts),
    read at the middle of each hour and interpolated onto the grid (circularly), as a
    distribution. Opens are already spread around people's habits, so they are not smoothed
    again. Uniform without data; no hour is impossible (a floor of 1 % of the mean)."""
    if population.sum() <= 0:
        return np.full(GRID.size, 1 / GRID.size)
    centres = np.arange(25) + 0.5
    density = np.interp(GRID, centres - 1, np.append(population[-1], population))
    density = density + 0.01 * density.mean()
    return np.asarray(density / density.sum())


def habit_posterior(
    hours: NDArray[np.float64],
    prior: NDArray[np.float64],
    weights: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Posterior over the current preferred hour, one row per contact: shape ``(n, 48)``.

    Args:
        hours: ``(n, k)`` local read hours (fractional), **newest first**, NaN-padded.
        prior: the population prior on the grid (:func:`population_prior`).
        weights: ``(n, k)`` likelihood powers (a click weighs ``CLICK_WEIGHT``); default 1.
    """
    n, k = hours.shape
    if k == 0:
        return np.tile(prior, (n, 1))
    present = ~np.isnan(hours)
    counts = present.sum(axis=1)
    log_f = np.log(_read_likelihood(np.where(present, hours, 0.0)))
    power = np.where(present, 1.0 if weights is None else weights, 0.0)
    log_f *= power[..., None]
    newest = np.cumsum(log_f, axis=1)  # newest[:, j] = log-likelihood of the j + 1 newest
    total = newest[:, -1]
    log_prior = np.log(prior)
    evidence_new = _logsumexp(newest + log_prior, axis=2)
    evidence_old = _logsumexp(total[:, None, :] - newest + log_prior, axis=2)
    evidence_all = _logsumexp(total + log_prior, axis=1)
    # A change after the j + 1 newest opens, for j + 1 < count (both regimes non-empty).
    inside = np.arange(1, k + 1)[None, :] < counts[:, None]
    per_split = np.log(CHANGE_PRIOR) - np.log(np.maximum(counts - 1, 1))[:, None]
    log_w = np.concatenate(
        [
            np.where(inside, evidence_new + evidence_old + per_split, -np.inf),
            (evidence_all + np.log(1 - CHANGE_PRIOR))[:, None],
        ],
        axis=1,
    )
    log_w -= _logsumexp(log_w, axis=1)[:, None]
    log_post = np.concatenate(
        [
            newest + log_prior - evidence_new[..., None],
            (total + log_prior - evidence_all[:, None])[:, None, :],
        ],
        axis=1,
    )
    return np.asarray(np.exp(_logsumexp(log_post + log_w[..., None], axis=1)))


def habit_scores(
    hours: NDArray[np.float64],
    population: NDArray[np.float64],
    weights: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """The score of sending at each local hour 0-23, per contact: shape ``(n, 24)``.

    ``hours`` and ``weights`` as in :func:`habit_posterior`; ``population`` is the 24-vector of
    everyone's opens by local hour.
    """
    prior = population_prior(population)
    utility = _kernel(_circular(np.arange(24.0)[:, None] - GRID[None, :]))  # (24, 48)
    rows = []
    for start in range(0, hours.shape[0], CHUNK):
        part = slice(start, start + CHUNK)
        # Rows are NaN-padded at their end: keep the columns this chunk uses.
        used = max(int((~np.isnan(hours[part])).sum(axis=1).max(initial=0)), 1)
        posterior = habit_posterior(
            hours[part, :used], prior, None if weights is None else weights[part, :used]
        )
        rows.append(posterior @ utility.T)
    return np.concatenate(rows) if rows else np.zeros((0, 24))
