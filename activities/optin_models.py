"""Names and payloads of the double opt-in confirmation (light: workflows import it)."""

from __future__ import annotations

from pydantic import BaseModel

PREPARE_OPTIN = "prepare_optin_confirmation"
# What the gateway records when a person asks for a double opt-in topic; it starts the
# ``consent_confirmation`` journey. Properties: ``topic`` and ``ledger_id``.
OPTIN_REQUESTED = "Opt-in Requested"


class PrepareOptIn(BaseModel):
    """Prepare the confirmation email of one double opt-in request (a consent ledger row)."""

    contact_id: str
    topic: str
    ledger_id: int


def optin_key(ledger_id: int) -> str:
    """The confirmation's idempotency key: one email per request."""
    return f"optin/{ledger_id}"
