"""One settings class for every Sojourn process (env prefix ``SOJOURN_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from activities.channels.settings import ChannelFields
from activities.policy import PolicyFields
from store.keys import PLACEHOLDER_MASTER_KEY, master_key_problem
from workflows.search import DEV_CONTACT_KEY_SECRET, ContactKeys

PLACEHOLDER_SECRET = "dev-only-change-me"
MIN_SECRET_BYTES = 32  # 256 bits: what HMAC-SHA256 and AES-256 keys are worth
# The write key ``dev`` and ``test`` accept when SOJOURN_WRITE_KEYS is unset, so `make dev` needs
# no set-up; documented, and refused in production like the placeholder secret.
DEV_WRITE_KEY = "sojourn-dev-write-key"


def _acceptable_public_url(url: str | None) -> bool:
    if not url:
        return False
    parsed = urlsplit(url)
    if parsed.scheme == "https":
        return True
    return parsed.scheme == "http" and parsed.hostname in ("localhost", "127.0.0.1")


class Settings(BaseSettings, PolicyFields, ChannelFields):
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
    # ---- a real cluster / Temporal Cloud (worker/temporal.py) ----
    temporal_tls: bool = False
    temporal_tls_ca: Path | None = None
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_server_name: str | None = None
    temporal_api_key: str | None = Field(default=None, repr=False)
    task_queue: str = "sojourn"
    database_url: str = "sqlite+aiosqlite:///var/sojourn.db"
    provider: Literal["outbox", "smtp", "postmark", "sendgrid", "mailgun"] = "outbox"
    mail_from: str = "Sojourn Shop <hello@sojourn.test>"
    # Cost of one message per channel, for the ROI in `sojourn report` (JSON: {"email": 0.001}).
    message_costs: dict[str, float] = {}
    # Experiments and holdouts; off (a kill switch), every contact gets each experiment's
    # control and is treated, and nothing is recorded.
    experiments: bool = True
    var_dir: Path = Path("var")
    outbox_dir: Path | None = None
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    gateway_url: str | None = None
    temporal_port: int = 7233
    ui_port: int = 8233
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    # Link keys, newest first: the first signs, all verify (rotation); SECRET_KEY is one key.
    secret_keys: Annotated[list[str], NoDecode] = Field(default_factory=list, repr=False)
    secret_key: str = Field(default=PLACEHOLDER_SECRET, repr=False)
    relay_interval_seconds: float = 2.0
    # Contacts the relay routes at once. A lane spends most of a turn awaiting Temporal and
    # the store, so lanes are cheap; 16 let a 500-a-second mix queue seconds behind them.
    relay_concurrency: int = Field(default=64, ge=1)
    # Seconds of journey time per real second, to try long journeys on `make dev` (3600: an
    # hour a second); scales sleeps, waits and frequency caps, never moments (workflows/clock.py).
    dev_time_scale: float = Field(default=1.0, gt=0)
    # Names contacts in Temporal and in logs (workflows/search.py); never rotated.
    contact_key_secret: str = Field(default=DEV_CONTACT_KEY_SECRET, repr=False)
    # ---- operations: metrics (worker/metrics.py; the gateway serves GET /metrics) ----
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int | None = None
    # ---- privacy: admin access, payload encryption (README "Privacy") ----
    admin_api: bool = True
    admin_keys: Annotated[list[str], NoDecode] = Field(default_factory=list, repr=False)
    master_key: str = Field(default=PLACEHOLDER_MASTER_KEY, repr=False)
    codec_cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    otel_tracing: bool = False  # worker/tracing.py
    # ---- ingestion: write keys and limits (gateway/auth.py, gateway/ratelimit.py) ----
    write_keys: Annotated[list[str], NoDecode] = Field(default_factory=list, repr=False)
    rate_limit_per_second: float = Field(default=1000.0, ge=0)
    rate_limit_burst: int = Field(default=2000, ge=1)
    # ---- messages: providers (credentials never appear in repr) ----
    provider_timeout_seconds: float = 10.0
    # Providers whose interrupted sends of unknown outcome are sent again (at least once);
    # the others record them as ``unknown`` (at most once). JSON list, e.g. '["smtp"]'.
    resend_unknown: list[str] = Field(default_factory=list)
    # How long a stopping worker lets running activities (a provider call) finish.
    worker_shutdown_seconds: float = 30.0
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

    @field_validator("secret_keys", "admin_keys", "codec_cors_origins", "write_keys", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        # SOJOURN_SECRET_KEYS=new,old (and the admin keys, the origins): a plain list in the
        # environment, not JSON.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def ui_origins(self) -> list[str]:
        """Browser origins allowed to call the codec endpoint: the configured ones, else the
        embedded Web UI's."""
        if self.codec_cors_origins:
            return self.codec_cors_origins
        return [f"http://{host}:{self.ui_port}" for host in ("localhost", "127.0.0.1")]

    @model_validator(mode="after")
    def _client_cert_needs_its_key(self) -> Settings:
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError(
                "SOJOURN_TEMPORAL_TLS_CERT and SOJOURN_TEMPORAL_TLS_KEY go together: mTLS needs "
                "the client certificate and its private key"
            )
        return self

    @property
    def temporal_uses_tls(self) -> bool:
        """TLS is on when asked for, or implied by a CA, a client certificate or an API key."""
        return bool(
            self.temporal_tls
            or self.temporal_tls_ca
            or self.temporal_tls_cert
            or self.temporal_api_key
        )

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.env == "production":
            for key in self.link_keys:
                if key == PLACEHOLDER_SECRET or len(key.encode("utf-8")) < MIN_SECRET_BYTES:
                    raise ValueError(
                        "SOJOURN_SECRET_KEYS (or SOJOURN_SECRET_KEY) holds the development "
                        f"placeholder or a key shorter than {MIN_SECRET_BYTES} bytes; set long "
                        "random values (e.g. `openssl rand -base64 48`) before running with "
                        "SOJOURN_ENV=production"
                    )
        if self.env == "production" and (
            self.contact_key_secret == DEV_CONTACT_KEY_SECRET
            or len(self.contact_key_secret.encode("utf-8")) < MIN_SECRET_BYTES
        ):
            raise ValueError(
                "SOJOURN_CONTACT_KEY_SECRET is the development placeholder or shorter than "
                f"{MIN_SECRET_BYTES} bytes; set a long random value (and keep it: it names "
                "every contact's journeys in Temporal)"
            )
        if self.env == "production" and not _acceptable_public_url(self.public_url):
            # List-Unsubscribe and tracking links must be HTTPS (RFC 8058) and reachable;
            # plain http is tolerated only on localhost, for a compose trial on one machine.
            raise ValueError(
                "SOJOURN_PUBLIC_URL must be the gateway's public https:// address "
                "(http only on localhost) when SOJOURN_ENV=production"
            )
        if self.env == "production" and self.dev_time_scale > 1:
            raise ValueError(
                f"SOJOURN_DEV_TIME_SCALE={self.dev_time_scale:g} speeds journeys up for "
                "development (their waits would be cut short for real contacts); unset it or "
                "set it to 1 when SOJOURN_ENV=production"
            )
        if self.env == "production" and not self.write_keys:
            raise ValueError(
                "SOJOURN_WRITE_KEYS is empty: list the write keys apps may send events with "
                "(comma-separated, e.g. from `openssl rand -hex 24`) when SOJOURN_ENV=production"
            )
        if self.env == "production" and DEV_WRITE_KEY in self.write_keys:
            raise ValueError(
                f"SOJOURN_WRITE_KEYS holds the documented dev key {DEV_WRITE_KEY!r}; "
                "use keys of your own when SOJOURN_ENV=production"
            )
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_privacy(self) -> Settings:
        if self.env != "production":
            return self
        problem = master_key_problem(self.master_key)
        if problem:
            raise ValueError(f"SOJOURN_MASTER_KEY {problem} when SOJOURN_ENV=production")
        if self.admin_api and not self.admin_keys:
            # Without keys the admin endpoints (erase, export, codec) would be closed to
            # everyone but loopback; say so at start rather than at the first erasure.
            raise ValueError(
                "SOJOURN_ADMIN_KEYS is empty: set one or more long random admin keys "
                "(comma-separated), or SOJOURN_ADMIN_API=false to turn the admin endpoints off"
            )
        if any(len(key) < 32 for key in self.admin_keys):
            raise ValueError("every SOJOURN_ADMIN_KEYS entry must be at least 32 characters")
        return self

    @property
    def public_base_url(self) -> str:
        """Base of the links in emails (unsubscribe, preferences, tracking): the gateway."""
        return (self.public_url or self.public_gateway_url).rstrip("/")

    @property
    def link_keys(self) -> list[str]:
        """The keys of the links in emails, newest (signing) first."""
        return list(self.secret_keys) or [self.secret_key]

    @property
    def contact_keys(self) -> ContactKeys:
        """Pseudonymous contact keys for workflow ids, search attributes and logs."""
        return ContactKeys(self.contact_key_secret)

    @property
    def accepted_write_keys(self) -> list[str]:
        """Keys ``/v1/*`` accepts: ``SOJOURN_WRITE_KEYS``, else the dev key outside production."""
        if self.write_keys:
            return list(self.write_keys)
        return [] if self.env == "production" else [DEV_WRITE_KEY]

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
