"""SMS and push beside email in the preference centre (``gateway/preferences.py``).

Each topic gets a box per channel the contact can be reached on: SMS when they have a phone
number, push when they have a subscription. Ticking records a grant for that topic and
channel (source ``preference_centre``, with proof); unticking a withdrawal, plus an
``Unsubscribed`` event with the channel, which ends that topic's journeys on that channel.
"Unsubscribe from everything" leaves every channel.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from activities.engagement import Engagement, attribution
from activities.gatekeeper import consent_default
from activities.policy import ALL_TOPICS, MessagingPolicy
from store import Store
from store._sql import now
from store.consent import GRANTED, WITHDRAWN, ConsentEntry, status_of
from store.records import MessageRecord

CHANNELS = ("sms", "push")
LABELS = {
    "en": {"sms": "by SMS", "push": "as push notifications"},
    "fr": {"sms": "par SMS", "push": "en notifications push"},
}


async def reachable(store: Store, contact_id: str) -> list[str]:
    """The channels beside email this contact can be reached on."""
    contact = await store.contacts.get(contact_id)
    found = []
    if contact is not None and contact.phone:
        found.append("sms")
    if await store.push.of(contact_id):
        found.append("push")
    return found


async def channel_states(
    store: Store, policy: MessagingPolicy, contact_id: str, lang: str
) -> dict[str, list[dict[str, Any]]]:
    """``{topic: [{field, label, on}]}`` for the channels the contact can be reached on."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in policy.topics}
    for channel in await reachable(store, contact_id):
        state = await store.consent.state(contact_id, channel)
        for name in policy.topics:
            default = consent_default(channel, policy.single_opt_in(name))
            rows[name].append(
                {
                    "field": f"{channel}_topic",
                    "label": LABELS.get(lang, LABELS["en"])[channel],
                    "on": status_of(state, name, default=default) == GRANTED,
                }
            )
    return rows


async def save_channels(
    store: Store,
    policy: MessagingPolicy,
    message: MessageRecord,
    form: FormData | None,
    proof: dict[str, Any],
) -> None:
    """Apply the ticked and unticked channel boxes (``form`` None: leave every channel)."""
    contact_id = message.contact_id
    for channel in await reachable(store, contact_id):
        state = await store.consent.state(contact_id, channel)
        wanted = {str(v) for v in form.getlist(f"{channel}_topic")} if form else set()
        names = list(policy.topics) if form is not None else [ALL_TOPICS]
        for name in names:
            single = policy.single_opt_in(name) if name != ALL_TOPICS else True
            now_on = status_of(state, name, default=consent_default(channel, single)) == GRANTED
            if form is not None and (name in wanted) == now_on:
                continue
            grant = form is not None and name in wanted
            ledger_id = await store.consent.record(
                ConsentEntry(
                    contact_id=contact_id,
                    topic=name,
                    channel=channel,
                    status=GRANTED if grant else WITHDRAWN,
                    source="preference_centre",
                    at=now(),
                    message_id=message.message_id,
                    **proof,
                )
            )
            if not grant:
                properties = {**attribution(message), "topic": name, "channel": channel}
                properties["source"] = "preference_centre"
                await Engagement(store, policy).event(
                    contact_id, "Unsubscribed", properties, event_id=f"consent-{ledger_id}"
                )
