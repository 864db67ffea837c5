"""How the relay tells failures apart, and how it logs them (ids only, never personal data)."""

from __future__ import annotations

from typing import Any

from temporalio.service import RPCError, RPCStatusCode

from store.records import EventRecord

# Refusals that no retry can turn into an acceptance.
PERMANENT = frozenset({RPCStatusCode.INVALID_ARGUMENT})
# Failures that say "Temporal is not there" rather than "this contact has a problem".
UNREACHABLE = frozenset({RPCStatusCode.UNAVAILABLE})


class TemporalUnavailable(RuntimeError):
    """The router could not be built, usually because Temporal refused the connection."""


class RouteFailed(Exception):
    """Routing ``record`` failed; the cause is chained."""

    def __init__(self, record: EventRecord) -> None:
        super().__init__(record.message_id)
        self.record = record


def unreachable(exc: BaseException | None) -> bool:
    """Whether ``exc`` says Temporal is not there (rather than: this contact has a problem)."""
    if isinstance(exc, TemporalUnavailable):
        return True
    return isinstance(exc, RPCError) and exc.status in UNREACHABLE


def log_failure(
    log: Any, contact_id: str, record: EventRecord | None, exc: BaseException | None, delay: float
) -> None:
    """Log a failed turn on ``log`` (the relay's logger). Ids only: traits and properties may
    hold personal data."""
    fields = dict(
        contact_id=contact_id,
        message_id=record.message_id if record else None,
        retry_in=round(delay, 3),
    )
    if isinstance(exc, TemporalUnavailable):
        log.warning("relay cannot reach temporal; will retry", error=str(exc), **fields)
    elif isinstance(exc, RPCError):
        log.warning(
            "relay could not route event; will retry",
            error=f"{exc.status.name}: {exc.message}",
            **fields,
        )
    else:
        log.error("relay failed; will retry", exc_info=exc, **fields)
