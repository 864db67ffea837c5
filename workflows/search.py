"""Search attributes every journey carries, so the Web UI can find and explain it."""

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

CONTACT_ID = SearchAttributeKey.for_keyword("ContactId")
JOURNEY_STEP = SearchAttributeKey.for_keyword("JourneyStep")

ALL = (CONTACT_ID, JOURNEY_STEP)


def workflow_id(journey: str, contact_id: str) -> str:
    """The deterministic id of ``journey`` for one contact: one stay at a time."""
    return f"{journey}-{contact_id}"


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
