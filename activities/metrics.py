"""Sojourn's own Prometheus metrics, ``sojourn_*``: the one place they are defined.

Both the gateway (``GET /metrics``, ``gateway/metrics.py``) and the worker
(``SOJOURN_WORKER_METRICS_PORT``, ``worker/metrics.py``) expose :data:`REGISTRY`. The module
imports nothing of Sojourn's, so the gateway, the activities and the worker may all use it.

To count something, call one of these (cheap, thread-safe, never raise):

- :func:`event_received` ``(type)`` — an event stored by the gateway (``track``, ``identify``…).
- :func:`event_refused` ``(reason)`` — a call or batch item refused (``invalid``, ``too_large``…).
- :func:`event_routed` ``(received_at)`` — an event handed to its journeys; observes the lag.
- :func:`send_finished` ``(journey, step, status)`` — a send's outcome (``sent``, ``failed``,
  ``refused``, ``skipped``, ``unknown``…). The worker counts these itself from every activity
  result that carries a ``status`` (``worker/metrics.py``), so activities need not call it.
- :func:`consent_refused` ``(journey, reason)`` — a send refused by consent or suppression.
- :func:`send_deferred` ``(reason)`` — a send held back (``quiet_hours``, ``frequency_cap``…).
- :func:`arm_assigned` ``(journey, experiment, arm)`` — a contact's arm (holdouts included).
- :func:`channel_send` ``(channel, status)`` — a send's outcome by channel (email, sms, push,
  audience); counted by the worker beside ``send_finished``.
- ``event_received(type, name)`` also counts the tracking events (``sojourn_engagements``:
  delivered, opened, clicked, bounced, unsubscribed), the report's columns as counters.
  Conversions and revenue are not counters: attribution needs the window after the message,
  so ``sojourn report`` computes them from the store.

Labels stay low-cardinality: journey, step and reason come from code, never contact ids.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

# Sojourn's own registry rather than prometheus_client's global one: tests and embedding
# processes (``sojourn dev`` runs worker and gateway in one) get exactly these metrics.
REGISTRY = CollectorRegistry()

EVENTS_RECEIVED = Counter(
    "sojourn_events_received", "Events the gateway stored.", ["type"], registry=REGISTRY
)
EVENTS_REFUSED = Counter(
    "sojourn_events_refused", "Calls or batch items refused.", ["reason"], registry=REGISTRY
)
EVENTS_ROUTED = Counter(
    "sojourn_events_routed", "Events handed to their contact's journeys.", registry=REGISTRY
)
ROUTE_LAG = Histogram(
    "sojourn_route_lag_seconds",
    "From an event being stored to it being routed to its journeys.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
SENDS = Counter(
    "sojourn_sends",
    "Send outcomes by journey and step.",
    ["journey", "step", "status"],
    registry=REGISTRY,
)
CONSENT_REFUSALS = Counter(
    "sojourn_consent_refusals",
    "Sends refused at the moment of sending by consent or suppression.",
    ["journey", "reason"],
    registry=REGISTRY,
)
DEFERRALS = Counter(
    "sojourn_deferrals", "Sends held back, by reason.", ["reason"], registry=REGISTRY
)

CHANNEL_SENDS = Counter(
    "sojourn_channel_sends",
    "Send outcomes by channel (email, sms, push, audience).",
    ["channel", "status"],
    registry=REGISTRY,
)
ENGAGEMENTS = Counter(
    "sojourn_engagements",
    "Tracking events stored, by what they say about a message.",
    ["event"],
    registry=REGISTRY,
)
# Tracking event names (Segment's email spec) and the column each one counts in, here and in
# the report (``activities/attribution.py``).
TRACKING = {
    "Email Delivered": "delivered",
    "Email Opened": "opened",
    "Email Link Clicked": "clicked",
    "Email Bounced": "bounced",
    "Unsubscribed": "unsubscribed",
}

# Refusal reasons that are about the person's consent (the rest are cap/quiet-hours holds).
CONSENT_REASONS = frozenset({"unsubscribed", "no_consent", "suppressed", "no_email"})


def event_received(type: str, name: str | None = None) -> None:
    """Count an event the gateway stored (and, for a tracking event, its engagement)."""
    EVENTS_RECEIVED.labels(type=type).inc()
    if name in TRACKING:
        ENGAGEMENTS.labels(event=TRACKING[name]).inc()


def event_refused(reason: str) -> None:
    """Count a refused call or batch item."""
    EVENTS_REFUSED.labels(reason=reason).inc()


def event_routed(received_at: datetime | None = None) -> None:
    """Count a routed event; with ``received_at``, observe how long it waited."""
    EVENTS_ROUTED.inc()
    if received_at is not None:
        if received_at.tzinfo is None:
            received_at = received_at.replace(tzinfo=UTC)
        ROUTE_LAG.observe(max(0.0, (datetime.now(UTC) - received_at).total_seconds()))


def send_finished(journey: str, step: str, status: str) -> None:
    """Count a send's outcome."""
    SENDS.labels(journey=journey, step=step, status=status).inc()


def channel_send(channel: str, status: str) -> None:
    """Count a send's outcome on its channel."""
    CHANNEL_SENDS.labels(channel=channel, status=status).inc()


def consent_refused(journey: str, reason: str) -> None:
    """Count a send refused by consent or suppression."""
    CONSENT_REFUSALS.labels(journey=journey, reason=reason).inc()


def send_deferred(reason: str) -> None:
    """Count a send held back (it waits on a durable timer, or is skipped)."""
    DEFERRALS.labels(reason=reason).inc()


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


ARM_ASSIGNMENTS = Counter(
    "sojourn_experiment_assignments",
    "Contacts given an arm, by journey, experiment and arm (holdouts too: entries counted).",
    ["journey", "experiment", "arm"],
    registry=REGISTRY,
)


def arm_assigned(journey: str, experiment: str, arm: str) -> None:
    """A contact got their arm in an experiment or a journey's holdout (once per contact)."""
    ARM_ASSIGNMENTS.labels(journey=journey, experiment=experiment, arm=arm).inc()
