"""The ``smtp`` provider: any SMTP relay (Mailpit in development, a real relay in production).

SMTP has no idempotency key: the ledger's ``sending`` state is what prevents a second email
after a crash (see ``activities/sending.py``). Error mapping: 4xx replies and connection
problems are retryable, 5xx replies are not; a timeout after the data was sent is
"maybe sent", so a retry does not send blindly.
"""

from __future__ import annotations

from email.utils import parseaddr

import aiosmtplib

from activities.providers.base import ProviderError
from activities.providers.outbox import MIME_POLICY, to_mime
from store.records import MessageRecord


class SmtpProvider:
    """Sends through an SMTP server with ``aiosmtplib``.

    Args:
        host: server name or address.
        port: server port (1025 for Mailpit, 587 for submission).
        username: optional login.
        password: optional password.
        security: ``none``, ``starttls`` or ``tls`` (implicit TLS, port 465).
        timeout: seconds for each SMTP operation.
    """

    name = "smtp"
    idempotent = False

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        security: str = "none",
        timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.security = security
        self.timeout = timeout

    async def send(self, message: MessageRecord) -> str:
        mime = to_mime(message)
        # Our own bytes: aiosmtplib's flattening would fold List-Unsubscribe into encoded words.
        raw = mime.as_bytes(policy=MIME_POLICY.clone(linesep="\r\n"))
        try:
            await aiosmtplib.send(
                raw,
                sender=parseaddr(message.headers.get("From", ""))[1],
                recipients=[message.to_address or ""],
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.security == "tls",
                start_tls=True if self.security == "starttls" else False,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            retryable = all(400 <= c < 500 for c in codes)
            raise ProviderError(
                f"smtp refused the recipient ({codes})", retryable=retryable
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise ProviderError(
                f"smtp replied {exc.code}", retryable=400 <= exc.code < 500
            ) from exc
        except aiosmtplib.SMTPTimeoutError as exc:
            raise ProviderError("smtp timed out", retryable=True, maybe_sent=True) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise ProviderError(f"smtp unreachable: {type(exc).__name__}", retryable=True) from exc
        return str(mime["Message-ID"])
