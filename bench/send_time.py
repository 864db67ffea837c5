"""Send-time optimisation in simulation: best-time vs a fixed hour, against an oracle.

A synthetic population (seeded) with known preferred hours and an open model:

- Each contact's preferred local hour comes from a mixture (mornings around 08:00, lunch
  around 12:30, evenings around 20:00); a quarter of them changed habits 60 days ago.
- The chance that a message sent at local hour ``h`` is opened is
  ``base + lift · exp(-d(h, preferred)² / (2 σ²))`` (``d`` on the 24-hour circle): a message
  that arrives when the person reads mail sits at the top of the inbox.
- History: over 180 days each contact got a Poisson number of campaigns (about two a week) at
  random hours of the send window and opened them by the model: 70 % at their habitual
  reading hour (the preferred one, give or take an hour), the others soon after arrival.

Three strategies send one message to everyone, inside the send window (08:00-21:00):
a fixed hour (10:00), Sojourn's best time (``activities/habit_model.py``: each contact's
open times, newest first, through the habit model with its change point, shrunk toward the
population's profile) and the oracle (each contact's true best allowed
hour). Prints the expected open rates, the uplifts over the fixed hour, and best-time's share
of the oracle's uplift. Bar: ≥ 80 %. Not a test: nothing asserts.

    python -m bench.send_time [--contacts 20000] [--seed 6]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numpy.typing import NDArray

from activities.habit_model import habit_scores

HOURS = np.arange(24)
WINDOW = (HOURS >= 8) & (HOURS < 21)
FIXED_HOUR = 10
BASE, LIFT, SIGMA = 0.08, 0.22, 2.0
CAMPAIGNS = 60  # past campaigns per contact over the history (about two a week), on average
# Most people read mail at their habitual hour; the others open as soon as it arrives.
HABITUAL = 0.7
HISTORY_DAYS = 180
CHANGED_SHARE, CHANGED_DAYS = 0.25, 60
BAR = 0.80


def preferred_hours(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    """True preferred hours from a morning / lunch / evening mixture."""
    centre = rng.choice([8.0, 12.5, 20.0], size=n, p=[0.4, 0.3, 0.3])
    return np.mod(centre + rng.normal(0, 1.3, size=n), 24)


def open_probability(send_hour: NDArray, preferred: NDArray) -> NDArray[np.float64]:
    """The open model: higher the closer the send is to the preferred hour."""
    d = np.abs(send_hour - preferred)
    d = np.minimum(d, 24 - d)
    return np.asarray(BASE + LIFT * np.exp(-(d**2) / (2 * SIGMA**2)))


def history(rng: np.random.Generator, now_pref: NDArray, old_pref: NDArray) -> NDArray[np.float64]:
    """Each contact's open times (local fractional hours), newest first, NaN-padded: what the
    store would hold."""
    n = now_pref.size
    sends = rng.poisson(CAMPAIGNS, size=n)
    who = np.repeat(np.arange(n), sends)
    age = rng.uniform(0, HISTORY_DAYS, size=who.size)  # days ago
    hour = rng.integers(8, 21, size=who.size).astype(float)
    pref = np.where(age > CHANGED_DAYS, old_pref[who], now_pref[who])
    opened = rng.random(who.size) < open_probability(hour, pref)
    # Read at the next habitual moment (preferred hour, give or take an hour), or soon after
    # it arrived.
    habit = np.mod(pref + rng.normal(0, 1.0, size=who.size), 24)
    soon = np.mod(hour + rng.exponential(0.5, size=who.size), 24)
    read = np.where(rng.random(who.size) < HABITUAL, habit, soon)
    who, age, read = who[opened], age[opened], read[opened]
    order = np.lexsort((age, who))  # by contact, newest first
    who, read = who[order], read[order]
    per = np.bincount(who, minlength=n)
    position = np.arange(who.size) - (np.cumsum(per) - per)[who]
    reads = np.full((n, max(int(per.max(initial=0)), 1)), np.nan)
    reads[who, position] = read
    return reads


def best_allowed(scores: NDArray[np.float64]) -> NDArray[np.int64]:
    """Each row's best hour inside the send window."""
    masked = np.where(WINDOW, scores, -np.inf)
    return np.asarray(masked.argmax(axis=-1))


def run(contacts: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    now_pref = preferred_hours(rng, contacts)
    changed = rng.random(contacts) < CHANGED_SHARE
    old_pref = np.where(changed, preferred_hours(rng, contacts), now_pref)
    reads = history(rng, now_pref, old_pref)
    seen = reads[~np.isnan(reads)]
    population = np.bincount(np.floor(seen).astype(int) % 24, minlength=24).astype(float)
    scores = habit_scores(reads, population)
    chosen = best_allowed(scores)
    truth = open_probability(HOURS[None, :].astype(float), now_pref[:, None])
    oracle = best_allowed(truth)
    rows = np.arange(contacts)
    return {
        "fixed": float(truth[:, FIXED_HOUR].mean()),
        "best": float(truth[rows, chosen].mean()),
        "oracle": float(truth[rows, oracle].mean()),
        "history": float((~np.isnan(reads)).sum(axis=1).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    started = time.perf_counter()
    f = run(args.contacts, args.seed)
    took = time.perf_counter() - started
    best_up, oracle_up = f["best"] - f["fixed"], f["oracle"] - f["fixed"]
    share = best_up / oracle_up if oracle_up else float("nan")
    verdict = "within" if share >= BAR else "over"
    print(f"{args.contacts} contacts, seed {args.seed}, send window 08:00-21:00")
    print(f"  {'strategy':<26}{'open rate':>10}{'uplift':>10}")
    print(f"  {'fixed hour (10:00)':<26}{f['fixed']:>10.2%}{'':>10}")
    print(f"  {'sojourn best time':<26}{f['best']:>10.2%}{best_up:>+10.2%}")
    print(f"  {'oracle (true hour)':<26}{f['oracle']:>10.2%}{oracle_up:>+10.2%}")
    print(
        f"  best time reaches {share:.0%} of the oracle's uplift   bar ≥ {BAR:.0%}"
        f"  ({'within' if verdict == 'within' else 'over'} the bar)"
    )
    print(f"  (mean opens in a contact's history: {f['history']:.1f}; {took:.1f} s)")


if __name__ == "__main__":
    main()
