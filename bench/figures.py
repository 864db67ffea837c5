"""How the benches print a series of runs: ``median (min-max)``."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def summary(values: Sequence[float], digits: int = 1) -> str:
    """``median (min-max)`` of ``values``, the median padded for columns."""
    return (
        f"{statistics.median(values):{digits + 7}.{digits}f} "
        f"({min(values):.{digits}f}-{max(values):.{digits}f})"
    )
