"""Email providers behind one interface; ``outbox`` is the embedded default."""

from activities.providers.base import Provider, ProviderError
from activities.providers.factory import make_provider
from activities.providers.mailgun import MailgunProvider
from activities.providers.outbox import OutboxProvider
from activities.providers.postmark import PostmarkProvider
from activities.providers.sendgrid import SendGridProvider
from activities.providers.smtp import SmtpProvider

__all__ = [
    "MailgunProvider",
    "OutboxProvider",
    "PostmarkProvider",
    "Provider",
    "ProviderError",
    "SendGridProvider",
    "SmtpProvider",
    "make_provider",
]
