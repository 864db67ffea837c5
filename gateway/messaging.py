"""The gateway's messaging pages: unsubscribe, preference centre, tracking and webhooks."""

from __future__ import annotations

from fastapi import FastAPI

from activities.optin import OptInMailer
from activities.policy import MessagingPolicy
from activities.providers import make_provider
from activities.rendering import Renderer
from gateway.preferences import make_preferences_router
from gateway.tracking import make_tracking_router
from gateway.unsubscribe import make_unsubscribe_router
from gateway.webhooks import make_webhooks_router
from worker.settings import Settings


def include_messaging_routes(app: FastAPI, settings: Settings) -> None:
    """Mount the routes that people (links in emails) and email providers call."""
    policy = MessagingPolicy.from_settings(settings)

    # Built once: an HTTP provider holds a connection pool that every confirmation shares.
    renderer = Renderer(default_locale=settings.default_locale)
    provider = make_provider(settings)

    async def confirm(contact_id: str, topic: str, ledger_id: int) -> None:
        # Double opt-in: the confirmation email goes out at once, outside any journey.
        mailer = OptInMailer(app.state.store, renderer, provider, settings.mail_from, policy)
        await mailer.send(contact_id, topic, ledger_id)

    app.include_router(make_unsubscribe_router(policy))
    app.include_router(make_preferences_router(policy, confirm=confirm))
    app.include_router(make_tracking_router(policy))
    app.include_router(
        make_webhooks_router(
            policy,
            postmark_username=settings.postmark_webhook_username,
            postmark_password=settings.postmark_webhook_password,
            sendgrid_public_key=settings.sendgrid_webhook_public_key,
            mailgun_signing_key=settings.mailgun_webhook_signing_key,
        )
    )
