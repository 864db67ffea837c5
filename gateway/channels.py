"""The gateway's channel routes: Twilio's webhooks, web push subscriptions, channel consent."""

from __future__ import annotations

from fastapi import FastAPI

from activities.policy import MessagingPolicy
from gateway.push import make_push_router
from gateway.twilio_inbound import make_twilio_router
from worker.settings import Settings


def include_channel_routes(app: FastAPI, settings: Settings) -> None:
    """Mount what Twilio, browsers and apps call about SMS and push."""
    policy = MessagingPolicy.from_settings(settings)
    app.include_router(
        make_twilio_router(
            policy,
            auth_token=settings.twilio_auth_token,
            public_url=settings.public_base_url,
            verify=settings.twilio_verify_signature,
            default_region=settings.sms_default_region,
        )
    )
    app.include_router(make_push_router(policy, settings.vapid_public_key))
