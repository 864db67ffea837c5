"""Storing accepted calls: what ``identify`` and ``track`` do to the contact store.

A call is answered only after this returns, so an accepted event is never lost; routing to
Temporal happens later, in the relay. Every call is idempotent by ``messageId``: a repeated one
changes nothing and is reported as a duplicate.

Decision: an identify call's event row records *which* traits changed, not their values. The
values live in the contact profile only, so personal data has one home (and one place to erase).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from activities import metrics
from gateway.errors import InvalidField
from gateway.models import Accepted, IdentifyRequest, TrackRequest
from store import Store
from store.consent import ALL_TOPICS
from store.contacts import InvalidTrait, normalise_traits
from store.records import EventRecord

UNSUBSCRIBED = "Unsubscribed"
TOPIC_MAX = 64  # the consent table's column size
PROPERTIES_MAX = 32 * 1024


def _topic(call: TrackRequest) -> str:
    return str(call.properties.get("topic") or ALL_TOPICS)


def check(call: IdentifyRequest | TrackRequest, prefix: str = "") -> None:
    """Refuse a call the store would refuse, before anything is stored.

    Raises:
        InvalidField: naming the field (with ``prefix``, e.g. ``batch.3.``).
    """
    if isinstance(call, IdentifyRequest):
        try:
            normalise_traits(call.traits)
        except InvalidTrait as exc:
            raise InvalidField.from_trait(exc, prefix) from exc
    else:
        size = len(json.dumps(call.properties, default=str))
        if size > PROPERTIES_MAX:
            # Temporal refuses payloads this large; refusing here keeps the relay flowing.
            raise InvalidField(
                f"{prefix}properties", f"properties must be at most {PROPERTIES_MAX} bytes as JSON"
            )
        if call.event == UNSUBSCRIBED:
            topic = call.properties.get("topic")
            if topic is not None and (not isinstance(topic, str) or not topic.strip()):
                raise InvalidField(
                    f"{prefix}properties.topic",
                    "topic must be a non-empty string, or absent for all",
                )
            if len(_topic(call)) > TOPIC_MAX:
                raise InvalidField(
                    f"{prefix}properties.topic", f"topic must be at most {TOPIC_MAX} characters"
                )


async def identify(store: Store, call: IdentifyRequest) -> Accepted:
    """Merge the traits into the profile and log the call; a repeated messageId does nothing.

    Raises:
        InvalidField: when a trait cannot be stored (``traits.email``); nothing is stored then.
    """
    received_at = datetime.now(UTC)
    message_id = call.message_id or str(uuid.uuid4())
    at = call.timestamp or received_at
    if await store.events.get(message_id) is not None:
        return Accepted(message_id=message_id, duplicate=True)
    try:
        # Profile first, log second: a crash in between leaves no log row, so the client's
        # retry merges again (merging the same traits at the same time is harmless).
        await store.contacts.identify(call.user_id, call.traits, at)
    except InvalidTrait as exc:
        raise InvalidField.from_trait(exc) from exc
    new = await store.events.append(
        EventRecord(
            message_id=message_id,
            contact_id=call.user_id,
            type="identify",
            name="identify",
            properties={"traits": sorted(call.traits)},
            timestamp=at,
            received_at=received_at,
        ),
        routed=True,  # journeys react to track events; an identify has nothing to route
    )
    metrics.event_received("identify")
    return Accepted(message_id=message_id, duplicate=not new)


async def track(store: Store, call: TrackRequest) -> Accepted:
    """Store the event for the relay to route; ``Unsubscribed`` also withdraws consent.

    Returns:
        Accepted; ``duplicate`` is True when the messageId was stored before (then nothing
        else happened).
    """
    received_at = datetime.now(UTC)
    message_id = call.message_id or str(uuid.uuid4())
    at = call.timestamp or received_at
    if await store.events.get(message_id) is not None:
        return Accepted(message_id=message_id, duplicate=True)
    # No separate "ensure contact": appending a track event creates the profile in the same
    # transaction that updates its computed fields.
    if call.event == UNSUBSCRIBED:
        # Recorded before answering, and before the event row exists: a crash in between
        # makes the client retry, and the withdrawal is then applied again, never skipped.
        # Sends check consent at send time, so this stops mail even before routing.
        await store.consent.set(call.user_id, _topic(call), subscribed=False, source="api", at=at)
    new = await store.events.append(
        EventRecord(
            message_id=message_id,
            contact_id=call.user_id,
            type="track",
            name=call.event,
            properties=call.properties,
            timestamp=at,
            received_at=received_at,
        ),
        routed=False,
    )
    metrics.event_received("track")
    return Accepted(message_id=message_id, duplicate=not new)
