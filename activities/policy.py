"""The messaging policy: topics, frequency caps, quiet hours, links. Plain data, no I/O.

Built once from the settings by :meth:`MessagingPolicy.from_settings` and injected into the
send activities and the gateway's messaging routers.
"""

from __future__ import annotations

from datetime import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from store.keys import PLACEHOLDER_MASTER_KEY

TRANSACTIONAL = "transactional"
ALL_TOPICS = "*"


class CapRule(BaseModel):
    """At most ``count`` marketing emails per contact in any ``hours`` window."""

    count: int = Field(ge=1)
    hours: float = Field(gt=0)

    def scaled(self, time_scale: float) -> CapRule:
        """The same rule over a window shorter by ``time_scale`` (SOJOURN_DEV_TIME_SCALE)."""
        return self if time_scale == 1 else CapRule(count=self.count, hours=self.hours / time_scale)


class Topic(BaseModel):
    """A subscription group people can join or leave.

    Attributes:
        labels: what the preference centre shows, per language.
        opt_in: ``single`` (subscribed from sign-up until withdrawn) or ``double`` (nothing is
            sent until the person confirmed through the link of a confirmation email).
    """

    labels: dict[str, str]
    opt_in: Literal["single", "double"] = "single"

    def label(self, language: str) -> str:
        """The label in ``language``, English otherwise."""
        fallback = self.labels.get("en") or next(iter(self.labels.values()), "")
        return self.labels.get(language) or fallback


DEFAULT_TOPICS: dict[str, Topic] = {
    "marketing": Topic(labels={"en": "Offers and tips", "fr": "Offres et conseils"}),
    "newsletter": Topic(labels={"en": "Newsletter", "fr": "Lettre d'information"}),
    "promotions": Topic(
        labels={"en": "Promotions", "fr": "Promotions"},
        opt_in="double",
    ),
    "product_updates": Topic(labels={"en": "Product updates", "fr": "Nouveautés produit"}),
}
DEFAULT_CAPS = [CapRule(count=1, hours=24), CapRule(count=3, hours=24 * 7)]
# Limits of one channel on top of ``frequency_caps`` (which count every channel's messages).
DEFAULT_CHANNEL_CAPS = {
    "sms": [CapRule(count=1, hours=24), CapRule(count=2, hours=24 * 7)],
    "push": [CapRule(count=2, hours=24)],
}


class PolicyFields(BaseModel):
    """The messaging settings, declared once: ``Settings`` and ``MessagingPolicy`` share them."""

    site_url: str = "https://shop.sojourn.test"
    unsubscribe_mailto: str = "unsubscribe@sojourn.test"
    default_locale: str = "en"
    default_timezone: str = "Europe/Paris"
    topics: dict[str, Topic] = Field(default_factory=lambda: dict(DEFAULT_TOPICS))
    frequency_caps: list[CapRule] = Field(default_factory=lambda: list(DEFAULT_CAPS))
    channel_caps: dict[str, list[CapRule]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_CHANNEL_CAPS.items()}
    )
    quiet_hours: bool = True
    send_window_start: time = time(8, 0)
    send_window_end: time = time(21, 0)
    send_days: list[int] = Field(default_factory=lambda: list(range(7)))
    track_opens: bool = True
    track_clicks: bool = True
    # How long a preference-centre link works (activities/links.py); unsubscribing never ends.
    preference_link_months: float = Field(default=6, gt=0)


class MessagingPolicy(PolicyFields):
    """What the send activities and messaging routers need from the settings."""

    secret_key: str = "dev-only-change-me"
    # Newest first: the first signs links, every one verifies them. Empty: ``secret_key``.
    secret_keys: list[str] = Field(default_factory=list)
    public_url: str = "http://127.0.0.1:8000"
    # Keys the hashed suppressions of erased addresses (store/keys.py); the dev default is
    # the same placeholder the settings use.
    master_key: str = Field(default=PLACEHOLDER_MASTER_KEY, repr=False)

    @classmethod
    def from_settings(cls, settings: Any) -> MessagingPolicy:
        """The policy of a :class:`worker.settings.Settings` (duck-typed: no import cycle)."""
        shared = {name: getattr(settings, name) for name in PolicyFields.model_fields}
        # A dev run at N times journey speed counts caps over windows N times shorter, so a
        # multi-week sequence replayed in minutes is not held back by its own earlier emails.
        scale = float(getattr(settings, "dev_time_scale", 1.0))
        shared["frequency_caps"] = [c.scaled(scale) for c in settings.frequency_caps]
        shared["channel_caps"] = {
            channel: [c.scaled(scale) for c in rules]
            for channel, rules in settings.channel_caps.items()
        }
        keys = list(settings.link_keys)
        return cls(
            secret_key=keys[0],
            secret_keys=keys,
            public_url=settings.public_base_url,
            master_key=settings.master_key,
            **shared,
        )

    def single_opt_in(self, topic: str) -> bool:
        """True unless the topic asks for double opt-in (unknown topics are single)."""
        known = self.topics.get(topic)
        return known is None or known.opt_in == "single"

    def is_marketing(self, topic: str) -> bool:
        """Everything but transactional messages is marketing (consent, caps, quiet hours)."""
        return topic != TRANSACTIONAL
