"""The gateway's messaging pages: unsubscribe, preference centre, tracking and webhooks."""

from __future__ import annotations

from fastapi import FastAPI

from activities.engagement import Engagement
from activities.optin_models import OPTIN_REQUESTED
from activities.policy import MessagingPolicy
from gateway.preferences import make_preferences_router
from gateway.relay import kick_relay
from gateway.survey import make_survey_router
from gateway.tracking import make_tracking_router
from gateway.unsubscribe import make_unsubscribe_router
from gateway.webhooks import make_webhooks_router
from worker.settings import Settings


def include_messaging_routes(app: FastAPI, settings: Settings) -> None:
    """Mount the routes that people (links in emails) and email providers call."""
    policy = MessagingPolicy.from_settings(settings)

    async def confirm(contact_id: str, topic: str, ledger_id: int) -> None:
        # Double opt-in: the event starts the consent_confirmation journey, which sends the
        # email through Temporal like every other message; the relay routes it even when
        # Temporal is down right now.
        await Engagement(app.state.store, policy).event(
            contact_id,
            OPTIN_REQUESTED,
            {"topic": topic, "ledger_id": ledger_id},
            event_id=f"optin-{ledger_id}",
        )
        kick_relay(app, contact_id)

    app.include_router(make_unsubscribe_router(policy))
    app.include_router(make_preferences_router(policy, confirm=confirm))
    app.include_router(make_tracking_router(policy))
    app.include_router(make_survey_router(policy))
    app.include_router(
        make_webhooks_router(
            policy,
            postmark_username=settings.postmark_webhook_username,
            postmark_password=settings.postmark_webhook_password,
            sendgrid_public_key=settings.sendgrid_webhook_public_key,
            mailgun_signing_key=settings.mailgun_webhook_signing_key,
        )
    )
