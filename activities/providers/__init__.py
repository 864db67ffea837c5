"""Email providers behind one interface; ``outbox`` is the embedded default."""

from activities.providers.base import Provider, ProviderError
from activities.providers.outbox import OutboxProvider

__all__ = ["OutboxProvider", "Provider", "ProviderError"]
