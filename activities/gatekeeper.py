"""The checks every send passes at the moment of sending: consent, suppression, timing.

Order matters: consent and suppression refuse for good; quiet hours and frequency caps only
hold a message back (or skip it, per step). Transactional messages bypass consent, caps and
quiet hours, never the suppression list.

A contact whose profile is gone (erased, or being erased) is refused outright, so erasure
stops every send at once: the one waiting on a timer, in a provider retry or in quiet hours.
An address kept only as an erasure's keyed hash gets no marketing until the contact grants
consent again after the erasure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from activities.policy import MessagingPolicy
from activities.timing import cap_not_before, next_send_window
from store import Store
from store.consent import ALL_TOPICS, EMAIL, GRANTED, PENDING, WITHDRAWN, status_of
from store.erasure import ErasureRepo
from store.frequency import FrequencyRepo
from store.records import MessageRecord
from store.suppression import ERASED, Suppression, SuppressionRepo

PUSH = "push"


def consent_default(channel: str, single_opt_in: bool) -> bool:
    """Consent of a topic the contact never touched on ``channel``.

    Email and push follow the topic's opt-in mode (a push subscription is itself the
    browser's opt-in); SMS marketing always needs an explicit grant (TCPA, CNIL).
    """
    return single_opt_in if channel != "sms" else False


@dataclass(frozen=True)
class Verdict:
    """What a gate decided: ``send``, ``refuse``, ``defer`` or ``skip``, and why."""

    action: str
    reason: str | None = None
    not_before: datetime | None = None


SEND = Verdict("send")


class Gatekeeper:
    """Runs the checks against the store and the policy.

    Args:
        store: the contact store.
        policy: topics, caps and quiet hours.
    """

    def __init__(self, store: Store, policy: MessagingPolicy) -> None:
        self.store = store
        self.policy = policy
        self.suppressions = SuppressionRepo(store.engine, policy.master_key)
        self.erasures = ErasureRepo(store.engine, policy.master_key)
        self.slots = FrequencyRepo(store.engine)

    async def refusal(
        self, contact_id: str, address: str | None, topic: str, channel: str = EMAIL
    ) -> Verdict | None:
        """A permanent no (unknown contact, missing address, suppressed, no consent), or None.

        Consent is per topic on ``channel``; SMS needs an explicit grant (see
        :func:`activities.channels.consent_default`). Push has no address to suppress.
        """
        if not address:
            return Verdict("refuse", f"no_{channel}" if channel != "sms" else "no_phone")
        if not await self.erasures.is_present(contact_id):
            return Verdict("refuse", "no_contact")
        marketing = self.policy.is_marketing(topic)
        suppressed = await self.suppressions.get(address) if channel != PUSH else None
        if suppressed is not None:
            # An erased address needs new consent for marketing; bounces refuse everything.
            if suppressed.reason != ERASED:
                return Verdict("refuse", "suppressed")
            if marketing and not await self._consented_since(contact_id, topic, suppressed):
                return Verdict("refuse", "suppressed")
        if not marketing:
            return None
        rows = await self.store.consent.state(contact_id, channel)
        single = self.policy.single_opt_in(topic)
        status = status_of(rows, topic, default=consent_default(channel, single))
        if status == WITHDRAWN:
            # A withdrawal the person made ends the journey; a double opt-in never confirmed
            # merely skips the message.
            said_no = any(rows.get(t, ("",))[0] == WITHDRAWN for t in (topic, ALL_TOPICS))
            return Verdict("refuse", "unsubscribed" if said_no else "no_consent")
        if status == PENDING:
            return Verdict("refuse", "no_consent")
        return None

    async def _consented_since(self, contact_id: str, topic: str, erased: Suppression) -> bool:
        # New consent means an explicit grant recorded after the erasure, still in force.
        latest = {}
        for entry in await self.store.consent.history(contact_id):
            if entry.topic in (topic, ALL_TOPICS):
                latest[entry.topic] = entry
        granted = [e for e in latest.values() if e.status == GRANTED and e.at > erased.at]
        withdrawn = [e for e in latest.values() if e.status != GRANTED]
        return bool(granted) and all(w.at < max(g.at for g in granted) for w in withdrawn)

    async def quiet(self, timezone: str | None, topic: str, at: datetime) -> Verdict | None:
        """Deferred to the next local send window, or None."""
        if not self.policy.quiet_hours or not self.policy.is_marketing(topic):
            return None
        opening = next_send_window(
            at,
            timezone or self.policy.default_timezone,
            self.policy.send_window_start,
            self.policy.send_window_end,
            self.policy.send_days,
        )
        return Verdict("defer", "quiet_hours", opening) if opening else None

    async def peek_cap(
        self, contact_id: str, topic: str, at: datetime, channel: str = EMAIL
    ) -> datetime | None:
        """The cap's next allowed moment, without claiming (for an early, cheap answer)."""
        own = self.policy.channel_caps.get(channel, [])
        if not (self.policy.frequency_caps or own) or not self.policy.is_marketing(topic):
            return None
        times = [t for _, t in await self.slots.sends(contact_id)]
        waits = [cap_not_before(times, at, self.policy.frequency_caps)]
        if own:
            mine = [t for _, t in await self.slots.sends(contact_id, channel)]
            waits.append(cap_not_before(mine, at, own))
        return max((w for w in waits if w is not None), default=None)

    async def claim_cap(self, message: MessageRecord, at: datetime, on_cap: str) -> Verdict | None:
        """Atomically take a frequency slot for ``message``; a Verdict when capped.

        ``frequency_caps`` count every channel's messages (an email and an SMS share them);
        ``channel_caps`` add limits of the message's own channel.
        """
        rules = self.policy.frequency_caps
        own = self.policy.channel_caps.get(message.channel, [])
        if not (rules or own) or not self.policy.is_marketing(message.topic):
            return None
        not_before = await self.slots.claim(
            message.contact_id,
            message.key,
            at,
            lambda times, when: cap_not_before(times, when, rules),
            channel=message.channel,
            decide_channel=(lambda times, when: cap_not_before(times, when, own)) if own else None,
        )
        if not_before is None:
            return None
        if on_cap == "skip":
            return Verdict("skip", "frequency_cap")
        return Verdict("defer", "frequency_cap", not_before)

    async def release_cap(self, message: MessageRecord) -> None:
        """Give the slot back when a claimed send failed for good."""
        await self.slots.release(message.contact_id, message.key)
