"""The smtp provider against a real SMTP server, and exactly-once through a killed send."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.models import Delivery
from activities.policy import MessagingPolicy
from activities.providers import ProviderError, SmtpProvider
from activities.providers.base import Commit, no_commit
from activities.providers.factory import make_provider
from store import Store
from store.records import MessageRecord
from tests.messaging.conftest import add_contact, deliver, make_sender, prepare, request
from tests.messaging.smtp_server import smtp_server
from worker.settings import Settings


async def test_smtp_sends_a_multipart_message_with_headers(
    store: Store, policy: MessagingPolicy
) -> None:
    with smtp_server() as (mailbox, port):
        sender = make_sender(store, SmtpProvider("127.0.0.1", port), policy)
        contact = await add_contact(store, locale="fr")
        req = request(contact)
        assert (await prepare(sender, req)).status == "prepared"
        delivery = await deliver(sender, req.key)
    assert delivery.status == "sent"
    [mail] = mailbox.messages()
    assert mail["To"] == f"{contact}@example.com"
    assert mail["Subject"] == "Bienvenue, Ada !"
    assert mail["X-Sojourn-Message-Id"] == delivery.message_id
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["List-Unsubscribe"].startswith("<https://links.test/u/")
    kinds = [part.get_content_type() for part in mail.walk()]
    assert "text/plain" in kinds and "text/html" in kinds


async def test_smtp_errors_map_to_retryable_or_not(store: Store) -> None:
    with smtp_server() as (_, port):
        provider = SmtpProvider("127.0.0.1", port, timeout=5)

        def message(to: str) -> MessageRecord:
            return MessageRecord.model_validate(
                {
                    "key": to, "message_id": "m" + to[:5], "contact_id": "c", "journey": "j",
                    "step": "s", "template": "t", "topic": "marketing", "to_address": to,
                    "subject": "s", "text": "t", "html": "<p>t</p>", "status": "prepared",
                    "headers": {"From": "a@b.test", "To": to, "Subject": "s"},
                    "created_at": "2026-01-01T00:00:00Z",
                }
            )  # fmt: skip

        with pytest.raises(ProviderError) as hard:
            await provider.send(message("bounce@example.com"))
        assert not hard.value.retryable
        with pytest.raises(ProviderError) as soft:
            await provider.send(message("later@example.com"))
        assert soft.value.retryable
    closed = SmtpProvider("127.0.0.1", port, timeout=2)
    with pytest.raises(ProviderError) as down:
        await closed.send(message("ok@example.com"))
    assert down.value.retryable and not down.value.maybe_sent


class Killed:
    """Dies as a killed worker would, on its first send: after or before the server's 250."""

    name = "smtp"
    idempotent = False

    def __init__(self, inner: SmtpProvider, *, after_accept: bool, resend: bool = False) -> None:
        self.inner = inner
        self.after_accept = after_accept
        self.resend_unknown = resend
        self.calls = 0

    async def lookup(self, message: MessageRecord) -> bool | None:
        return None

    async def send(self, message: MessageRecord, commit: Commit = no_commit) -> str:
        self.calls += 1
        if self.calls > 1:
            return await self.inner.send(message, commit)
        if self.after_accept:
            await self.inner.send(message, commit)
        else:
            # Connected, MAIL and RCPT done, killed before DATA: the point of no return.
            pass
        raise RuntimeError("worker killed")


async def _killed_once(store: Store, policy: MessagingPolicy, provider: Killed) -> Delivery:
    sender = make_sender(store, provider, policy)
    contact = await add_contact(store)
    req = request(contact)
    await prepare(sender, req)
    with pytest.raises(RuntimeError, match="killed"):
        await deliver(sender, req.key)
    # Temporal retries the activity (and replays prepare).
    assert (await prepare(sender, req)).status == "prepared"
    retried = await deliver(sender, req.key)
    again = await deliver(sender, req.key)
    assert again == retried
    stored = await store.messages.get(req.key)
    assert stored is not None and stored.status == retried.status
    return retried


async def test_a_send_killed_after_data_is_unknown_never_sent_twice(
    store: Store, policy: MessagingPolicy
) -> None:
    with smtp_server() as (mailbox, port):
        provider = Killed(SmtpProvider("127.0.0.1", port), after_accept=True)
        retried = await _killed_once(store, policy, provider)
    assert len(mailbox.received) == 1
    # The server had it, but nothing could tell: never counted as sent, never repeated.
    assert (retried.status, retried.reason) == ("unknown", "interrupted")
    assert provider.calls == 1


async def test_a_send_killed_after_data_is_resent_when_the_policy_says_at_least_once(
    store: Store, policy: MessagingPolicy
) -> None:
    with smtp_server() as (mailbox, port):
        provider = Killed(SmtpProvider("127.0.0.1", port), after_accept=True, resend=True)
        retried = await _killed_once(store, policy, provider)
    assert len(mailbox.received) == 2  # the duplicate the policy allows, and it is counted:
    assert (retried.status, retried.reason) == ("sent", "resent")


async def test_a_send_killed_before_data_is_sent_once(
    store: Store, policy: MessagingPolicy
) -> None:
    with smtp_server() as (mailbox, port):
        provider = Killed(SmtpProvider("127.0.0.1", port), after_accept=False)
        retried = await _killed_once(store, policy, provider)
    # RFC 5321: no DATA, no responsibility taken, so sending again cannot duplicate.
    assert len(mailbox.received) == 1
    assert (retried.status, retried.reason) == ("sent", None)


async def test_a_provider_error_that_certainly_did_not_send_is_retried(
    store: Store, policy: MessagingPolicy, tmp_path: Path
) -> None:
    with smtp_server() as (mailbox, port):
        flaky = SmtpProvider("127.0.0.1", port + 1 if port < 65535 else port - 1, timeout=2)
        sender = make_sender(store, flaky, policy)
        contact = await add_contact(store)
        req = request(contact)
        await prepare(sender, req)
        with pytest.raises(ApplicationError) as failure:
            await deliver(sender, req.key)
        assert failure.value.type == "ProviderError" and not failure.value.non_retryable
        # The server was unreachable: nothing left, so the retry sends for real.
        sender.provider = SmtpProvider("127.0.0.1", port)
        assert (await deliver(sender, req.key)).status == "sent"
    assert len(mailbox.received) == 1


def test_settings_choose_the_provider(tmp_path: Path) -> None:
    assert make_provider(Settings(provider="smtp", smtp_port=2525)).name == "smtp"
    assert make_provider(Settings(var_dir=tmp_path)).name == "outbox"
    with pytest.raises(ValueError, match="SOJOURN_POSTMARK_TOKEN"):
        make_provider(Settings(provider="postmark"))
