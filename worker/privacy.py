"""Erasure and export of one contact, across the store and Temporal: what ``sojourn contacts
erase|export`` and the gateway's admin endpoints (``gateway/admin.py``) run.

Erasure, in this order, so that no message leaves once it returns:

1. the store suppresses the contact's addresses under a keyed hash and deletes the profile: every
   send gate (``activities/gatekeeper.py``) refuses the contact from here on;
2. every journey of the contact is terminated (reason ``erased``): the ones its id names in each
   registered journey, and whatever visibility lists as running for the contact;
3. a send a provider holds at this very moment is waited for (a few seconds at most);
4. the store deletes the rest and destroys the contact's data key: the payloads of their
   histories are unreadable from then on (crypto-shredding).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from store import Store
from store._sql import now
from store.erasure import DONE, ErasureRepo
from store.keys import KeyRing
from worker.cli_journeys import describe, visibility_query
from worker.registry import JOURNEYS
from worker.settings import Settings
from workflows.search import workflow_id

log = structlog.get_logger(__name__)

REASON = "erased"
IN_FLIGHT_WAIT = timedelta(seconds=10)


async def _terminate(client: Client, wf_id: str, run_id: str | None = None) -> bool:
    handle = client.get_workflow_handle(wf_id, run_id=run_id)
    try:
        await handle.terminate(reason=REASON)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:  # never started, or already closed
            return False
        raise
    return True


async def end_journeys(
    client: Client, contact_key: str, journeys: Sequence[str] | None = None
) -> list[str]:
    """Terminate every running journey of the contact (by key) at once; the ids ended."""
    names = journeys if journeys is not None else [j.spec.name for j in JOURNEYS]
    ids = [workflow_id(name, contact_key) for name in names]
    ended = await asyncio.gather(*(_terminate(client, i) for i in ids))
    done = {i for i, was in zip(ids, ended, strict=True) if was}
    # Visibility also finds journeys this registry does not name (renamed, or from tests).
    query = f"{visibility_query(contact_key)} AND ExecutionStatus = 'Running'"
    try:
        listed = [e async for e in client.list_workflows(query) if e.id not in done]
    except RPCError as exc:
        log.warning("visibility unavailable; ended the registered journeys only", error=exc.message)
        listed = []
    more = await asyncio.gather(*(_terminate(client, e.id, e.run_id) for e in listed))
    done.update(e.id for e, was in zip(listed, more, strict=True) if was)
    return sorted(done)


async def _settle(erasures: ErasureRepo, contact_id: str) -> int:
    """Wait for provider calls already under way; the number still in flight at the end."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + IN_FLIGHT_WAIT.total_seconds()
    while (left := await erasures.in_flight(contact_id)) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    return left


async def erase(
    store: Store,
    client: Client,
    settings: Settings,
    contact_id: str,
    *,
    keys: KeyRing | None = None,
    journeys: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Erase one contact everywhere; the receipt (what was ended and deleted, and when).

    Idempotent: erasing again ends and deletes nothing more and repeats the first receipt.
    """
    erasures = ErasureRepo(store.engine, settings.master_key)
    owner = settings.contact_keys.key(contact_id)
    requested = now()
    found = await erasures.begin(contact_id, requested)
    ended = await end_journeys(client, owner, journeys)
    previous = await erasures.previous(contact_id)
    if found is None and not ended and (previous is None or previous["status"] == DONE):
        # Nothing left of the contact: answer the earlier receipt, if any.
        return {
            "contact_id": contact_id,
            "status": "already_erased" if previous else "not_found",
            "subject": erasures.subject(contact_id),
            "requested_at": requested.isoformat(),
            "previous": previous["receipt"] if previous else None,
        }
    unsettled = await _settle(erasures, contact_id)
    summary = {
        "journeys_ended": sorted({i.partition("-")[0] for i in ended}),
        "requested_at": requested.isoformat(),
        "in_flight_at_erasure": unsettled,
    }
    record = await erasures.finish(contact_id, owner, summary, deleted=found)
    if keys is not None:
        keys.forget(owner, record.pop("key_ids"))
    else:
        record.pop("key_ids")
    # A journey a racing event started between steps 2 and 4 would find no contact to mail;
    # end it too, so nothing of the contact keeps running.
    late = await end_journeys(client, owner, journeys)
    completed = now()
    log.info(
        "contact erased", subject=erasures.subject(contact_id), journeys=len(ended) + len(late)
    )
    return {
        "contact_id": contact_id,
        "status": "erased",
        "subject": erasures.subject(contact_id),
        **record,
        "workflows_ended": sorted({*ended, *late}),
        "completed_at": completed.isoformat(),
        "kept": [
            "suppression of the contact's addresses under a keyed hash (not mailed again "
            "without new consent)",
            "the consent ledger's withdrawals, under the pseudonym 'subject'",
            "this receipt, under the pseudonym 'subject'",
        ],
    }


async def export(
    store: Store, client: Client | None, settings: Settings, contact_id: str
) -> dict[str, Any] | None:
    """Everything the store and Temporal hold about a contact (Art. 15/20), or None.

    ``client`` None leaves the journeys out (Temporal unreachable), saying so.
    """
    contact = await store.contacts.get(contact_id)
    if contact is None:
        return None
    events = await store.events.for_contact(contact_id, limit=1_000_000)
    ledger = await store.consent.history(contact_id)
    sent = await store.messages.list(contact_id=contact_id, limit=1_000_000)
    document: dict[str, Any] = {
        "exported_at": now().isoformat(),
        "profile": contact.model_dump(mode="json"),
        "events": [
            e.model_dump(
                mode="json", include={"message_id", "type", "name", "timestamp", "properties"}
            )
            for e in sorted(events, key=lambda e: (e.timestamp, e.seq or 0))
        ],
        "consent": [e.model_dump(mode="json", exclude={"contact_id"}) for e in ledger],
        "messages": [
            {
                "message_id": m.message_id,
                "journey": m.journey,
                "step": m.step,
                "subject": m.subject,
                "to": m.to_address,
                "status": m.status,
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                "created_at": m.created_at.isoformat(),
            }
            for m in sent
        ],
        "journeys": [],
    }
    if client is None:
        document["journeys_note"] = "Temporal was unreachable: journeys are not included"
        return document
    rows = [
        await describe(client, e)
        async for e in client.list_workflows(
            visibility_query(settings.contact_keys.key(contact_id))
        )
    ]
    document["journeys"] = [
        {
            "journey": r["journey"],
            "workflow_id": r["workflow_id"],
            "status": r["status"],
            "step": r["step"],
            "started_at": _iso(r["start_time"]),
            "closed_at": _iso(r["close_time"]),
            "exit_reason": r["exit_reason"],
            "waiting_for": r["waiting_for"],
            "until": _iso(r["until"]),
            "story": [{**h, "at": _iso(h["at"])} for h in r["history"]],
        }
        for r in rows
    ]
    return document


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
