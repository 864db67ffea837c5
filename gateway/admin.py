"""Admin endpoints over a person's data: erasure (Art. 17), export (Art. 15/20), and the codec
the Temporal Web UI decodes payloads with. Every one needs an admin key (``gateway/admin_keys``).

Mounted by :func:`include_admin_routes` (one line in ``gateway/app.py``); it opens its Temporal
client lazily, so the gateway starts while Temporal is down.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path
from temporalio.client import Client

from gateway.admin_keys import require_admin
from gateway.codec_endpoint import make_codec_router
from store import Store
from worker import privacy
from worker.settings import Settings
from worker.temporal import connect, key_ring

# A contact's id as the path names it: no NUL, which no stored id can hold (PostgreSQL cannot
# even compare against one: looking it up was a 500). The URL's decoding leaves no surrogate.
UserId = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[^\x00]+$")]
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no admin key, or an unknown one"},
    403: {"description": "a write key (or no admin keys configured, off loopback)"},
}


class Admin:
    """What the admin routes share: the store, one key ring and one Temporal client."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    @property
    def store(self) -> Store:
        """The gateway's store (opened by its lifespan)."""
        return self.app.state.store

    @property
    def keys(self) -> Any:
        """One key ring on the gateway's store, so an erasure here evicts its cached key."""
        if getattr(self.app.state, "key_ring", None) is None:
            self.app.state.key_ring = key_ring(self.settings, self.store.engine)
        return self.app.state.key_ring

    async def client(self) -> Client:
        """The Temporal client (``app.state.temporal`` when a test set one)."""
        given = getattr(self.app.state, "temporal", None)
        if given is not None:
            return given
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await connect(self.settings, keys=self.keys)
                except RuntimeError as exc:
                    raise HTTPException(
                        503, f"Temporal is unreachable ({exc}); try again"
                    ) from None
            return self._client


def include_admin_routes(app: FastAPI, settings: Settings) -> None:
    """Mount erasure, export and the Web UI codec (no-op when ``SOJOURN_ADMIN_API=false``)."""
    if not settings.admin_api:
        return
    admin = Admin(app, settings)
    guard = [Depends(require_admin(settings))]
    router = APIRouter(tags=["admin"], dependencies=guard, responses=AUTH_ERRORS)

    @router.delete(
        "/v1/contacts/{user_id}",
        summary="Erase a contact (GDPR Art. 17)",
        responses={503: {"description": "Temporal is unreachable; nothing was erased"}},
    )
    async def erase_contact(user_id: UserId) -> dict[str, Any]:
        """End the contact's journeys, delete their data and destroy their data key.

        Answers the receipt: which journeys were ended, what was deleted, when, and what is
        kept (a keyed-hash suppression, the pseudonymised consent withdrawal). Idempotent.
        """
        client = await admin.client()
        return await privacy.erase(admin.store, client, settings, user_id, keys=admin.keys)

    @router.get(
        "/v1/contacts/{user_id}/export",
        summary="Export a contact's data (GDPR Art. 15/20)",
        responses={404: {"description": "no such contact"}},
    )
    async def export_contact(user_id: UserId) -> dict[str, Any]:
        """Profile, events, consent ledger with proof, messages and journeys, as one document."""
        try:
            client: Client | None = await admin.client()
        except HTTPException:
            client = None
        document = await privacy.export(admin.store, client, settings, user_id)
        if document is None:
            raise HTTPException(404, f"no contact {user_id!r}")
        return document

    app.include_router(router)
    app.include_router(
        make_codec_router(settings, lambda: admin.keys, guard, responses=AUTH_ERRORS)
    )
