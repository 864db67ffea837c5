"""The ``smtp`` provider: any SMTP relay (Mailpit in development, a real relay in production).

SMTP has no idempotency key and no way to ask a server whether it took a message. What it
does have is a clear point of no return (RFC 5321, 4.1.1.4): until the server's 250 reply to
the end of the message data, the server has not taken responsibility for it. So the send
calls ``commit()`` just before the DATA command: a send that died before that moment is
certainly not delivered and is sent again; one that died after it is of unknown outcome
(see ``activities/sending.py``). Error mapping: 4xx replies and connection problems are
retryable, 5xx replies are not; a timeout after the data was sent is "maybe sent".
"""

from __future__ import annotations

from email.utils import parseaddr

import aiosmtplib

from activities.providers.base import Commit, ProviderError, no_commit
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
    resend_unknown = False

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

    async def lookup(self, message: MessageRecord) -> bool | None:
        return None  # SMTP cannot say.

    async def send(self, message: MessageRecord, commit: Commit = no_commit) -> str:
        mime = to_mime(message)
        # Our own bytes: aiosmtplib's flattening would fold List-Unsubscribe into encoded words.
        raw = mime.as_bytes(policy=MIME_POLICY.clone(linesep="\r\n"))
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.security == "tls",
            start_tls=True if self.security == "starttls" else False,
            timeout=self.timeout,
        )
        committed = False
        try:
            await client.connect()
            try:
                await client.mail(parseaddr(message.headers.get("From", ""))[1])
                await client.rcpt(message.to_address or "")
                await commit()
                committed = True
                await client.data(raw)
            finally:
                # The 250 is in (or the send failed): how the session ends changes nothing.
                client.close()
        except aiosmtplib.SMTPRecipientRefused as exc:
            raise ProviderError(
                f"smtp refused the recipient ({exc.code})", retryable=400 <= exc.code < 500
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise ProviderError(
                f"smtp replied {exc.code}", retryable=400 <= exc.code < 500
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            # After DATA began, a timeout or a dropped connection leaves the outcome unknown.
            kind = "timed out" if isinstance(exc, aiosmtplib.SMTPTimeoutError) else "unreachable"
            raise ProviderError(
                f"smtp {kind}: {type(exc).__name__}", retryable=True, maybe_sent=committed
            ) from exc
        return str(mime["Message-ID"])
