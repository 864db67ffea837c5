"""One settings class for every Sojourn process (env prefix ``SOJOURN_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.policy import PolicyFields

PLACEHOLDER_SECRET = "dev-only-change-me"


def _acceptable_public_url(url: str | None) -> bool:
    if not url:
        return False
    parsed = urlsplit(url)
    if parsed.scheme == "https":
        return True
    return parsed.scheme == "http" and parsed.hostname in ("localhost", "127.0.0.1")


class Settings(BaseSettings, PolicyFields):
    """Sojourn configuration; the defaults run the embedded stack on one machine.

    Attributes:
        env: ``dev`` and ``test`` (a dev mode for test suites) allow the placeholder secret
            and plain-http links; ``production`` refuses both.
        temporal_address: ``host:port`` of an external Temporal frontend. Unset means the
            embedded dev server that ``sojourn dev`` starts on ``temporal_port``.
        database_url: SQLAlchemy async URL of the contact store.
    """

    model_config = SettingsConfigDict(env_prefix="SOJOURN_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    task_queue: str = "sojourn"
    database_url: str = "sqlite+aiosqlite:///var/sojourn.db"
    provider: Literal["outbox", "smtp", "postmark", "sendgrid", "mailgun"] = "outbox"
    mail_from: str = "Sojourn Shop <hello@sojourn.test>"
    var_dir: Path = Path("var")
    outbox_dir: Path | None = None
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    gateway_url: str | None = None
    temporal_port: int = 7233
    ui_port: int = 8233
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    secret_key: str = Field(default=PLACEHOLDER_SECRET, repr=False)
    relay_interval_seconds: float = 2.0
    # ---- messages: providers (credentials never appear in repr) ----
    provider_timeout_seconds: float = 10.0
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    postmark_url: str = "https://api.postmarkapp.com"
    postmark_token: str | None = Field(default=None, repr=False)
    postmark_stream_marketing: str = "broadcast"
    postmark_stream_transactional: str = "outbound"
    postmark_webhook_username: str | None = None
    postmark_webhook_password: str | None = Field(default=None, repr=False)
    sendgrid_url: str = "https://api.sendgrid.com"
    sendgrid_api_key: str | None = Field(default=None, repr=False)
    sendgrid_webhook_public_key: str | None = None
    mailgun_url: str = "https://api.mailgun.net"
    mailgun_domain: str | None = None
    mailgun_api_key: str | None = Field(default=None, repr=False)
    mailgun_webhook_signing_key: str | None = Field(default=None, repr=False)
    # ---- messages: links, locales, policy ----
    # site_url, locales, timezone, topics, caps, quiet hours, tracking: see PolicyFields.
    public_url: str | None = None

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.env == "production" and self.secret_key == PLACEHOLDER_SECRET:
            raise ValueError(
                "SOJOURN_SECRET_KEY is still the development placeholder; "
                "set a long random value before running with SOJOURN_ENV=production"
            )
        if self.env == "production" and not _acceptable_public_url(self.public_url):
            # List-Unsubscribe and tracking links must be HTTPS (RFC 8058) and reachable;
            # plain http is tolerated only on localhost, for a compose trial on one machine.
            raise ValueError(
                "SOJOURN_PUBLIC_URL must be the gateway's public https:// address "
                "(http only on localhost) when SOJOURN_ENV=production"
            )
        return self

    @property
    def public_base_url(self) -> str:
        """Base of the links in emails (unsubscribe, preferences, tracking): the gateway."""
        return (self.public_url or self.public_gateway_url).rstrip("/")

    @property
    def target(self) -> str:
        """The Temporal frontend to connect to."""
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def outbox_path(self) -> Path:
        """Where the outbox provider writes ``.eml`` files."""
        return self.outbox_dir or self.var_dir / "outbox"

    @property
    def public_gateway_url(self) -> str:
        """URL the CLI uses to reach the gateway."""
        return self.gateway_url or f"http://{self.gateway_host}:{self.gateway_port}"
