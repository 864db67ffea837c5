"""The checks every send passes at the moment of sending: consent, suppression, timing.

Order matters: consent and suppression refuse for good; quiet hours and frequency caps only
hold a message back (or skip it, per step). Transactional messages bypass consent, caps and
quiet hours, never the suppression list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from activities.policy import MessagingPolicy
from activities.timing import cap_not_before, next_send_window
from store import Store
from store.consent import ALL_TOPICS, PENDING, WITHDRAWN, status_of
from store.frequency import FrequencyRepo
from store.records import MessageRecord
from store.suppression import SuppressionRepo


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
        self.suppressions = SuppressionRepo(store.engine)
        self.slots = FrequencyRepo(store.engine)

    async def refusal(self, contact_id: str, address: str | None, topic: str) -> Verdict | None:
        """A permanent no (missing address, suppressed, no consent), or None."""
        if not address:
            return Verdict("refuse", "no_email")
        if await self.suppressions.is_suppressed(address):
            return Verdict("refuse", "suppressed")
        if not self.policy.is_marketing(topic):
            return None
        rows = await self.store.consent.state(contact_id)
        status = status_of(rows, topic, default=self.policy.single_opt_in(topic))
        if status == WITHDRAWN:
            # A withdrawal the person made ends the journey; a double opt-in never confirmed
            # merely skips the message.
            said_no = any(rows.get(t, ("",))[0] == WITHDRAWN for t in (topic, ALL_TOPICS))
            return Verdict("refuse", "unsubscribed" if said_no else "no_consent")
        if status == PENDING:
            return Verdict("refuse", "no_consent")
        return None

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

    async def peek_cap(self, contact_id: str, topic: str, at: datetime) -> datetime | None:
        """The cap's next allowed moment, without claiming (for an early, cheap answer)."""
        if not self.policy.frequency_caps or not self.policy.is_marketing(topic):
            return None
        times = [t for _, t in await self.slots.sends(contact_id)]
        return cap_not_before(times, at, self.policy.frequency_caps)

    async def claim_cap(self, message: MessageRecord, at: datetime, on_cap: str) -> Verdict | None:
        """Atomically take a frequency slot for ``message``; a Verdict when capped."""
        if not self.policy.frequency_caps or not self.policy.is_marketing(message.topic):
            return None
        rules = self.policy.frequency_caps
        not_before = await self.slots.claim(
            message.contact_id,
            message.key,
            at,
            lambda times, when: cap_not_before(times, when, rules),
        )
        if not_before is None:
            return None
        if on_cap == "skip":
            return Verdict("skip", "frequency_cap")
        return Verdict("defer", "frequency_cap", not_before)

    async def release_cap(self, message: MessageRecord) -> None:
        """Give the slot back when a claimed send failed for good."""
        await self.slots.release(message.contact_id, message.key)
