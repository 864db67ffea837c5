"""Search attributes and workflow ids: how Temporal names a contact's journeys.

Temporal never sees a contact's ``userId`` in anything it does not encrypt: apps often use
email addresses as user ids, and workflow ids, search attributes and the logs that quote them
are stored and shown in clear. They carry the contact's *key* instead, a keyed hash of the
user id (HMAC-SHA256 under ``SOJOURN_CONTACT_KEY_SECRET``, 130 bits in base32). The key is
stable, so routing needs no lookup and a contact is in a journey at most once at a time; it
cannot be reversed without the secret, and a guessed address cannot be checked without it.

From a person to their journeys: ``ContactKeys.key(user_id)`` (``sojourn journeys status
USER_ID`` does it). From a journey back to the person: the workflow's input, which the payload
codec encrypts (``sojourn journeys whose WORKFLOW_ID``).
"""

import base64
import hashlib
import hmac

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

CONTACT_ID = SearchAttributeKey.for_keyword("ContactId")
JOURNEY_STEP = SearchAttributeKey.for_keyword("JourneyStep")

ALL = (CONTACT_ID, JOURNEY_STEP)


# The development secret; ``Settings`` refuses it in production.
DEV_CONTACT_KEY_SECRET = "dev-only-contact-key-secret"
KEY_CHARS = 26  # base32: 130 bits, collisions out of reach for any contact base


class ContactKeys:
    """Derives the pseudonymous key of a contact, and the workflow ids made from it.

    Args:
        secret: ``SOJOURN_CONTACT_KEY_SECRET``. Changing it renames every contact: running
            journeys would no longer receive their contacts' events, so it is never rotated.
    """

    def __init__(self, secret: str) -> None:
        self._secret = hashlib.sha256(b"sojourn contact key\0" + secret.encode("utf-8")).digest()

    def key(self, user_id: str) -> str:
        """The contact's key: lower-case base32, the same for the same ``user_id``."""
        mac = hmac.new(self._secret, user_id.encode("utf-8"), hashlib.sha256).digest()
        return base64.b32encode(mac).decode("ascii")[:KEY_CHARS].lower()

    def workflow_id(self, journey: str, user_id: str) -> str:
        """The id of ``journey`` for the contact ``user_id``."""
        return workflow_id(journey, self.key(user_id))


DEV_KEYS = ContactKeys(DEV_CONTACT_KEY_SECRET)


def workflow_id(journey: str, contact_key: str) -> str:
    """The deterministic id of ``journey`` for one contact *key*: one stay at a time."""
    return f"{journey}-{contact_key}"


def contact_of(workflow_id: str) -> str:
    """The contact key a journey's workflow id was made from."""
    return workflow_id.rpartition("-")[2]


# Workflows that belong to no contact: segment enrollment runs (``enroll-<journey>-run…``).
SYSTEM_PREFIXES = ("enroll-",)


def owner_of(workflow_id: str) -> str | None:
    """The contact key whose data key encrypts ``workflow_id``'s payloads (the payload codec
    asks), or None for workflows that belong to no contact."""
    if workflow_id.startswith(SYSTEM_PREFIXES) or "-" not in workflow_id:
        return None
    return contact_of(workflow_id) or None


async def register(client: Client, namespace: str = "default") -> None:
    """Register the search attributes on a server that does not know them yet (idempotent).

    The CLI dev server gets them from ``--search-attribute`` flags; tests and fresh clusters
    call this instead.
    """
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={
                key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in ALL
            },
        )
    )
