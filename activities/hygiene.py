"""List hygiene: move a contact who reacted to nothing to ``sunset`` (see store/sunset.py)."""

from __future__ import annotations

import structlog
from temporalio import activity

from activities.engagement import Engagement
from activities.hygiene_models import SUNSET_CONTACT, SunsetContact, SunsetDone
from activities.policy import MessagingPolicy
from store import Store
from store.sunset import SUNSET

log = structlog.get_logger(__name__)


class HygieneActivities:
    """The sunset activity; store and policy injected once by the worker."""

    def __init__(self, store: Store, policy: MessagingPolicy) -> None:
        self.engagement = Engagement(store, policy)

    @activity.defn(name=SUNSET_CONTACT)
    async def sunset_contact(self, request: SunsetContact) -> SunsetDone:
        """Withdraw the topic with source ``sunset`` (idempotent: a retry records nothing).

        The withdrawal emits ``Unsubscribed`` like any other, so the contact's other
        journeys of that topic end too: marketing stops everywhere, not only here.
        """
        changed = await self.engagement.withdraw(request.contact_id, request.topic, source=SUNSET)
        log.info("contact sunset", contact_id=request.contact_id, changed=changed)
        return SunsetDone(changed=changed)
