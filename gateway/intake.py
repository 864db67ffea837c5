"""Storing accepted calls: what each Segment call does to the contact store.

A call is answered only after this returns, so an accepted event is never lost; routing to
Temporal happens after the commit (the relay). Every call is idempotent by ``messageId``: a
repeated one changes nothing and is reported as a duplicate.

Decisions:
- An identify (or group) event row records *which* traits changed, not their values. The values
  live in the contact profile only, so personal data has one home (and one place to erase).
- ``page`` and ``screen`` are stored as track events named ``Page Viewed`` and ``Screen Viewed``
  (their ``name`` and ``category`` go into the properties), so segments and journeys use them
  like any event: ``wait_for("Page Viewed")``.
- ``group`` sets the traits ``groupId`` and ``group`` (``{"id": groupId, **traits}``).
- Anonymous calls (no ``userId``) are stored against the profile ``anon:<anonymousId>`` and
  are not routed to journeys: there is nobody to write to yet. Linked to a user (see
  :mod:`store.identities`), their history becomes the user's and counts in segments.
- Times follow Segment: with ``sentAt``, ``timestamp = receivedAt - (sentAt - timestamp)``
  corrects the client's clock; a time still more than :data:`FUTURE_TOLERANCE` ahead of the
  receive time is replaced by it; the client's own value is kept as ``original_timestamp``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from activities import metrics
from gateway.errors import InvalidField
from gateway.live_segments import segments_read
from gateway.models import Accepted, Alias, AnyCall, Group, Identify, Page, Screen, Track
from gateway.relevance import ALL_EVENTS, Relevance
from store import Store
from store.computed import AMOUNT_KEYS, ORDER
from store.consent import ALL_TOPICS, CHANNELS, EMAIL
from store.contacts import InvalidTrait, normalise_traits
from store.identities import anonymous_contact
from store.records import EventRecord
from store.sunset import SIGNED_UP, lift_sunset

UNSUBSCRIBED = "Unsubscribed"
TOPIC_MAX = 64  # the consent table's column size
# Segment's limits: 32 KB a call, 500 KB a batch request.
CALL_MAX = 32 * 1024
BATCH_MAX = 500 * 1024
# Sojourn's own, inside a call: a profile and a context stay small enough to read per send.
TRAITS_MAX = 16 * 1024
CONTEXT_MAX = 16 * 1024
PROPERTIES_MAX = CALL_MAX
FUTURE_TOLERANCE = timedelta(minutes=1)
# An order's amount (as the catalog bounds a price): each one is added to the contact's
# total_spent, a float, and one near 1e308 overflowed that sum (a 500 on PostgreSQL), an
# integer past any float failed to convert (a 500 on both).
AMOUNT_MAX = 10**12
VIEWED = {"page": "Page Viewed", "screen": "Screen Viewed"}


@dataclass
class Stored:
    """What storing a call did: the answer, and whether the relay has something to route."""

    accepted: Accepted
    routable: bool = False
    contact_id: str | None = None  # whose events the relay should look at, when routable


def json_size(value: Any) -> int:
    # The SDKs measure with json.dumps' default separators; so do we, to agree with them.
    return len(json.dumps(value, default=str).encode())


def _limit(value: Any, limit: int, field: str) -> None:
    if value and json_size(value) > limit:
        raise InvalidField(
            field,
            f"{field.rsplit('.', 1)[-1]} must be at most {limit} bytes "
            f"({limit // 1024} KB) as JSON",
            status=413,
        )


def _topic(call: Track) -> str:
    return str(call.properties.get("topic") or ALL_TOPICS)


def _channel(call: Track) -> str:
    """The channel an ``Unsubscribed`` withdraws (``properties.channel``; email if absent)."""
    return str(call.properties.get("channel") or EMAIL)


def check(call: AnyCall, prefix: str = "") -> None:
    """Refuse a call the store would refuse, before anything is stored.

    Raises:
        InvalidField: naming the field (with ``prefix``, e.g. ``batch.3.``); 413 for limits.
    """
    _limit(call.context, CONTEXT_MAX, f"{prefix}context")
    if isinstance(call, Identify | Group):
        _limit(call.traits, TRAITS_MAX, f"{prefix}traits")
    if isinstance(call, Identify):
        try:
            normalise_traits(call.traits)
        except InvalidTrait as exc:
            raise InvalidField.from_trait(exc, prefix) from exc
    if isinstance(call, Track | Page | Screen):
        # Temporal refuses payloads this large; refusing here keeps the relay flowing.
        _limit(call.properties, PROPERTIES_MAX, f"{prefix}properties")
    if isinstance(call, Track) and call.event == ORDER:
        for key in AMOUNT_KEYS:
            amount = call.properties.get(key)
            if isinstance(amount, int | float) and not isinstance(amount, bool):
                if not abs(amount) <= AMOUNT_MAX:
                    raise InvalidField(
                        f"{prefix}properties.{key}",
                        f"{key} must be at most 10^12 either way (it adds to the total spent)",
                    )
    if isinstance(call, Track) and call.event == UNSUBSCRIBED:
        topic = call.properties.get("topic")
        if topic is not None and (not isinstance(topic, str) or not topic.strip()):
            raise InvalidField(
                f"{prefix}properties.topic", "topic must be a non-empty string, or absent for all"
            )
        if len(_topic(call)) > TOPIC_MAX:
            raise InvalidField(
                f"{prefix}properties.topic", f"topic must be at most {TOPIC_MAX} characters"
            )
        if _channel(call) not in CHANNELS:
            raise InvalidField(
                f"{prefix}properties.channel",
                f"channel must be one of {', '.join(CHANNELS)}, or absent for email",
            )


def event_time(
    call: AnyCall, received_at: datetime, sent_at: datetime | None = None
) -> tuple[datetime, datetime | None]:
    """``(timestamp, original)``: the event time to store, and the client's when it differs.

    Args:
        call: the call (its ``timestamp``, ``originalTimestamp`` and own ``sentAt``).
        received_at: when the gateway received it.
        sent_at: the batch's ``sentAt``, used when the call has none of its own.
    """
    given = call.timestamp or call.original_timestamp
    if given is None:
        return received_at, None
    sent = call.sent_at or sent_at
    try:
        at = received_at - (sent - given) if sent is not None else given
    except OverflowError:  # a skew of millennia: the client's clock tells nothing
        at = received_at
    if at > received_at + FUTURE_TOLERANCE:
        at = received_at
    original = call.original_timestamp or given
    return at, (original if original != at else None)


class Intake:
    """Stores calls in ``store``; one instance per app."""

    def __init__(self, store: Store, relevance: Relevance = ALL_EVENTS) -> None:
        self.store = store
        # An event the relay has nothing to do with is stored as routed (gateway/relevance.py).
        self.relevance = relevance

    async def _contact(self, call: AnyCall, at: datetime) -> tuple[str, bool]:
        """``(contact_id, known)``; links the call's anonymous id to its user on first sight."""
        identities = self.store.identities
        if call.user_id is not None:
            if call.anonymous_id is not None:
                await identities.link(call.anonymous_id, call.user_id, "anonymous", at)
            return call.user_id, True
        assert call.anonymous_id is not None
        # Resolved before the write, outside its transaction: a link committed between the
        # two would leave this call's history on the merged-away anonymous profile. The store
        # catches that: a write for ``anon:<id>`` checks for the link again in its own
        # transaction, under a lock the merge shares, and lands on the user if it finds one
        # (store/links.py). Such a call is still handled as anonymous here (not routed, no
        # consent change), like the history it joins. Known users' writes skip that check.
        linked = await identities.resolve(call.anonymous_id)
        if linked is not None:
            return linked, True
        return anonymous_contact(call.anonymous_id), False

    async def store_call(
        self, call: AnyCall, sent_at: datetime | None = None, received_at: datetime | None = None
    ) -> Stored:
        """Store one (checked) call.

        Raises:
            InvalidField: a trait the store refuses; nothing of the call is stored then.
        """
        [stored] = await self.store_calls([call], sent_at, received_at)
        if isinstance(stored, InvalidField):
            raise stored
        return stored

    async def store_calls(
        self,
        calls: Sequence[AnyCall],
        sent_at: datetime | None = None,
        received_at: datetime | None = None,
    ) -> list[Stored | InvalidField]:
        """Store (checked) calls in order; per call what it did, or why the store refused it.

        Consecutive behavioural calls of known users (tracks, pages, screens, but not
        ``Unsubscribed`` or ``Signed Up``, which change consent) touch nothing but the event
        log, so they are appended together, in one transaction where the store can (a batch
        of 100 tracks is one commit, not 100). Any other call first flushes those before it,
        so the log keeps the calls' order.
        """
        received_at = received_at or datetime.now(UTC)
        results: list[Stored | InvalidField | None] = [None] * len(calls)
        plain: list[tuple[int, str, EventRecord]] = []
        for index, call in enumerate(calls):
            if _plain(call):
                plain.append((index, call.type, await self._behaviour(call, sent_at, received_at)))
                continue
            await self._append_plain(plain, results)
            try:
                results[index] = await self._store_one(call, sent_at, received_at)
            except InvalidField as exc:
                results[index] = exc
        await self._append_plain(plain, results)
        return [r for r in results if r is not None]

    async def _behaviour(
        self, call: AnyCall, sent_at: datetime | None, received_at: datetime
    ) -> EventRecord:
        assert isinstance(call, Track | Page | Screen)
        at, original = event_time(call, received_at, sent_at)
        contact_id, _ = await self._contact(call, at)
        name, properties = _as_track(call)
        return EventRecord(
            message_id=call.message_id or str(uuid.uuid4()),
            contact_id=contact_id,
            type="track",
            name=name,
            properties=properties,
            timestamp=at,
            received_at=received_at,
            original_timestamp=original,
        )

    async def _append_plain(
        self, plain: list[tuple[int, str, EventRecord]], results: list[Stored | InvalidField | None]
    ) -> None:
        """Append the buffered behavioural events; a known ``messageId`` is a duplicate."""
        if not plain:
            return
        records = [record for _, _, record in plain]
        # No look-up first: the insert itself refuses a known messageId, and a plain call
        # has no other effect that a duplicate could repeat.
        appended = await self.store.events.append_many(
            records,
            routed=[not self.relevance(record.name) for record in records],
            unless_running=[self.relevance.only_if_running(record.name) for record in records],
        )
        for (index, kind, record), outcome in zip(plain, appended, strict=True):
            if outcome.new:
                metrics.event_received(kind, record.name)
            accepted = Accepted(message_id=record.message_id, duplicate=not outcome.new)
            results[index] = Stored(accepted, routable=outcome.relay, contact_id=record.contact_id)
        plain.clear()

    async def _store_one(
        self, call: AnyCall, sent_at: datetime | None, received_at: datetime
    ) -> Stored:
        """Store a call with effects beyond the log (profile, identities, consent)."""
        message_id = call.message_id or str(uuid.uuid4())
        if call.message_id and await self.store.events.known(message_id):
            return Stored(Accepted(message_id=message_id, duplicate=True))
        at, original = event_time(call, received_at, sent_at)
        contact_id, known = await self._contact(call, at)
        record = EventRecord(
            message_id=message_id,
            contact_id=contact_id,
            type=call.type,
            name=call.type,
            timestamp=at,
            received_at=received_at,
            original_timestamp=original,
        )
        routable = False
        try:
            if isinstance(call, Identify):
                # Profile first, log second: a crash in between leaves no log row, so the
                # client's retry merges again (the same traits at the same time are harmless).
                await self.store.contacts.identify(contact_id, call.traits, at)
                record.properties = {"traits": sorted(call.traits)}
            elif isinstance(call, Group):
                group = {"id": call.group_id, **call.traits}
                await self.store.contacts.identify(
                    contact_id, {"groupId": call.group_id, "group": group}, at
                )
                record.properties = {"groupId": call.group_id, "traits": sorted(call.traits)}
            elif isinstance(call, Alias):
                await self.store.identities.link(call.previous_id, call.user_id, "alias", at)
                record.properties = {"previousId": call.previous_id}
            else:
                record.type = "track"
                record.name, record.properties = _as_track(call)
                routable = known and self.relevance(record.name)
                if known and record.name == UNSUBSCRIBED:
                    assert isinstance(call, Track)
                    # Recorded before the event row: a crash in between makes the client
                    # retry, and the withdrawal is applied again, never skipped. Only the
                    # channel it names: an SMS unsubscribe leaves email consent alone.
                    await self.store.consent.set(
                        contact_id,
                        _topic(call),
                        subscribed=False,
                        source="api",
                        at=at,
                        channel=_channel(call),
                    )
                elif known and record.name == SIGNED_UP:
                    # A sign-up brings a contact list hygiene let go back (store/sunset.py).
                    await lift_sunset(self.store.consent, contact_id, at)
        except InvalidTrait as exc:
            raise InvalidField.from_trait(exc) from exc
        # A trait change a segment reads goes through the relay too, so membership follows it
        # (the router hands it to no journey; see gateway/live_segments.py).
        if known and isinstance(call, Identify | Group) and segments_read(list(call.traits)):
            routable = True
        # Only known people's behaviour goes to journeys; the rest is history for later.
        new = await self.store.events.append(record, routed=not routable)
        if new:
            metrics.event_received(call.type, record.name)
        accepted = Accepted(message_id=message_id, duplicate=not new)
        return Stored(accepted, routable and new, contact_id if routable else None)


# Track events whose storing does more than append to the log (consent), see _store_one.
WITH_EFFECTS = frozenset({UNSUBSCRIBED, SIGNED_UP})


def _plain(call: AnyCall) -> bool:
    """A known user's behaviour: storing it appends to the log and does nothing else."""
    if not isinstance(call, Track | Page | Screen) or call.user_id is None:
        return False
    return not (isinstance(call, Track) and call.event in WITH_EFFECTS)


def _as_track(call: Track | Page | Screen) -> tuple[str, dict[str, Any]]:
    if isinstance(call, Track):
        return call.event, call.properties
    properties = dict(call.properties)
    for key in ("name", "category"):
        value = getattr(call, key)
        if value is not None:
            properties.setdefault(key, value)
    return VIEWED[call.type], properties
