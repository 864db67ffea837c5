"""The links Sojourn puts into emails and the headers that go with them.

- ``/u/{token}``: the unsubscribe link. ``POST`` is RFC 8058 one-click unsubscribe (what
  mailbox providers call from their own "Unsubscribe" button); ``GET`` shows the preference
  centre and never unsubscribes (link scanners fetch URLs).
- ``/t/o/{token}.gif``: the open pixel; ``/t/c/{token}``: a click redirect. The click token
  signs the message id *and* the target URL, so only links that were in the message redirect:
  there is no open redirect.
- ``/optin/{token}``: the confirmation link of a double opt-in.
- ``/s/{token}/{answer}``: a one-click survey answer (``gateway/survey.py``); the token signs
  the message id. It is on the gateway, so it is never rewritten into a click redirect:
  answering a survey is not a click.

Every token is encrypted and dated (``activities/tokens.py``). How long each link works:

- one-click unsubscribe (``POST /u/{token}``), opens and clicks: as long as a mailbox may hold
  the email, which is for ever. They stop only when the secret that made them is dropped from
  ``SOJOURN_SECRET_KEYS`` (the ``mailto:`` unsubscribe still works then).
- the preference centre (``GET /u/{token}`` and its form): ``preference_link_months`` (6 by
  default), because it shows and changes a person's subscriptions to whoever holds the link
  (a forwarded email, a shared screenshot). An expired link still unsubscribes in one click.
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta
from urllib.parse import quote

from activities.policy import MessagingPolicy
from activities.tokens import Signer

UNSUBSCRIBE, OPEN, CLICK, OPTIN = "unsubscribe", "open", "click", "optin"
SURVEY = "survey"
DAYS_PER_MONTH = 30.44
_HREF = re.compile(r'(<a\b[^>]*?\bhref=")(https?://[^"]+)(")', re.IGNORECASE)


class Links:
    """Builds and verifies the signed links of one deployment.

    Args:
        policy: supplies ``public_url``, the secret keys (``secret_keys``, newest first, or
            the single ``secret_key``), ``preference_link_months`` and ``unsubscribe_mailto``.
    """

    def __init__(self, policy: MessagingPolicy) -> None:
        self.policy = policy
        self.base = policy.public_url.rstrip("/")
        self.signer = Signer(policy.secret_keys or policy.secret_key)
        self.preference_max_age = timedelta(
            days=round(DAYS_PER_MONTH * policy.preference_link_months)
        )

    # ---- building -------------------------------------------------------------------------

    def unsubscribe_token(self, message_id: str) -> str:
        """The token of the message's unsubscribe and preference links."""
        return self.signer.sign(UNSUBSCRIBE, message_id)

    def unsubscribe_url(self, message_id: str) -> str:
        """One-click unsubscribe (POST) and preference centre (GET)."""
        return f"{self.base}/u/{self.unsubscribe_token(message_id)}"

    def list_unsubscribe_headers(self, message_id: str) -> dict[str, str]:
        """RFC 2369 + RFC 8058 headers: an HTTPS one-click URL and a mailto."""
        token = self.unsubscribe_token(message_id)
        mailto = f"mailto:{self.policy.unsubscribe_mailto}?subject={quote('unsubscribe ' + token)}"
        return {
            "List-Unsubscribe": f"<{self.unsubscribe_url(message_id)}>, <{mailto}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    def open_url(self, message_id: str) -> str:
        """The open pixel."""
        return f"{self.base}/t/o/{self.signer.sign(OPEN, message_id)}.gif"

    def click_url(self, message_id: str, url: str) -> str:
        """A redirect to ``url`` that records a click first."""
        return f"{self.base}/t/c/{self.signer.sign(CLICK, f'{message_id} {url}')}"

    def optin_url(self, contact_id: str, topic: str, ledger_id: int) -> str:
        """The confirmation link of a pending double opt-in."""
        return f"{self.base}/optin/{self.signer.sign(OPTIN, f'{ledger_id} {topic} {contact_id}')}"

    def survey_url(self, message_id: str) -> str:
        """The base of the message's survey links; a template appends ``/<answer>``."""
        return f"{self.base}/s/{self.signer.sign(SURVEY, message_id)}"

    def track(self, html: str, message_id: str, *, skip: tuple[str, ...] = ()) -> str:
        """Rewrite the message's web links into click redirects and add the open pixel.

        Links that start with one of ``skip`` (the unsubscribe and preference links) are
        kept as they are: following them is not engagement.
        """
        if self.policy.track_clicks:

            def rewrite(match: re.Match[str]) -> str:
                url = html_lib.unescape(match.group(2))
                if url.startswith(skip) or url.startswith(self.base):
                    return match.group(0)
                tracked = html_lib.escape(self.click_url(message_id, url), quote=True)
                return f"{match.group(1)}{tracked}{match.group(3)}"

            html = _HREF.sub(rewrite, html)
        if self.policy.track_opens:
            pixel = (
                f'<img src="{html_lib.escape(self.open_url(message_id))}" width="1" height="1" '
                'alt="" style="display:block;border:0;width:1px;height:1px;">'
            )
            # Last in the body, so clients that clip long messages still load the rest first.
            if "</body>" in html:
                html = html.replace("</body>", pixel + "</body>", 1)
            else:
                html += pixel
        return html

    # ---- verifying (raise activities.tokens.BadToken) --------------------------------------

    def unsubscribe_message(self, token: str) -> str:
        """The message id of an unsubscribe token, however old (one-click unsubscribe)."""
        return self.signer.unsign(UNSUBSCRIBE, token)

    def preference_message(self, token: str, *, now: float | None = None) -> str:
        """The message id of an unsubscribe token still young enough for the preference
        centre; raises ``BadToken("expired link")`` past ``preference_link_months``."""
        return self.signer.unsign(UNSUBSCRIBE, token, max_age=self.preference_max_age, now=now)

    def opened_message(self, token: str) -> str:
        """The message id of an open-pixel token."""
        return self.signer.unsign(OPEN, token.removesuffix(".gif"))

    def clicked(self, token: str) -> tuple[str, str]:
        """``(message_id, url)`` of a click token."""
        message_id, _, url = self.signer.unsign(CLICK, token).partition(" ")
        return message_id, url

    def survey_message(self, token: str) -> str:
        """The message id of a survey token."""
        return self.signer.unsign(SURVEY, token)

    def optin(self, token: str) -> tuple[int, str, str]:
        """``(ledger_id, topic, contact_id)`` of an opt-in token."""
        ledger_id, topic, contact_id = self.signer.unsign(OPTIN, token).split(" ", 2)
        return int(ledger_id), topic, contact_id
