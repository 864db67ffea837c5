"""Readable durations for journeys: ``days(3)`` reads better than ``timedelta(days=3)``."""

from datetime import timedelta


def days(n: float) -> timedelta:
    """``n`` days."""
    return timedelta(days=n)


def hours(n: float) -> timedelta:
    """``n`` hours."""
    return timedelta(hours=n)


def minutes(n: float) -> timedelta:
    """``n`` minutes."""
    return timedelta(minutes=n)
