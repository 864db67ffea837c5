"""``sojourn outbox``: the messages journeys sent, newest first, with their ``.eml`` files.

Messages of ``unknown`` outcome (interrupted after the hand-over, and the provider could not
say) are listed too, with their status: they may have arrived, and are never counted as sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from activities.audiences import outbox_file
from activities.providers import OutboxProvider
from activities.providers.channel_outbox import ChannelOutboxProvider
from store.messages import DELIVERED
from store.records import MessageRecord
from worker.cli_common import (
    CHANNELS,
    echo_json,
    echo_table,
    fail,
    iso,
    load_settings,
    open_store,
    run,
    short_time,
)
from worker.errors import SojournError
from worker.settings import Settings

# Where the outbox providers write each channel's messages.
CHANNEL_FILES = {
    "email": lambda directory, m: OutboxProvider(directory).path_for(m),
    "sms": lambda directory, m: ChannelOutboxProvider(directory, "sms").path_for(m),
    "push": lambda directory, m: ChannelOutboxProvider(directory, "push").path_for(m),
    # An audience without a webhook in dev (activities/audiences.py).
    "audience": outbox_file,
}


def _missing_sqlite_file(url: str) -> bool:
    """True for a SQLite URL whose file does not exist yet (nothing ran, nothing was sent)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database
    return database is not None and database not in ("", ":memory:") and not Path(database).exists()


async def sent_messages(
    settings: Settings, *, contact: str | None, limit: int, channel: str | None = None
) -> list[MessageRecord]:
    """Messages with status ``sent`` or ``unknown``, newest first."""
    if _missing_sqlite_file(settings.database_url):
        return []
    # Read only: a store never migrated is one nothing ran on yet (the error below says so).
    store = await open_store(settings, migrate=False)
    try:
        return await store.messages.list(
            contact_id=contact, status=DELIVERED, limit=limit, channel=channel
        )
    except (SQLAlchemyError, OSError) as exc:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        raise SojournError(
            f"cannot read the contact store at {where} ({exc.__class__.__name__}): run "
            "`sojourn dev` or `sojourn worker` once (they create and migrate it), or check "
            "SOJOURN_DATABASE_URL"
        ) from None
    finally:
        await store.close()


def as_row(message: MessageRecord, outbox: OutboxProvider) -> dict[str, Any]:
    """One message for ``--json``; ``eml`` is set for messages the outbox provider wrote."""
    eml = None
    if message.provider == outbox.name and message.channel in CHANNEL_FILES:
        eml = CHANNEL_FILES[message.channel](outbox.directory, message).absolute()
    return {
        "channel": message.channel,
        "sent_at": iso(message.sent_at),
        "to": message.to_address,
        "subject": message.subject,
        "journey": message.journey,
        "step": message.step,
        "template": message.template,
        "contact_id": message.contact_id,
        "message_id": message.message_id,
        "provider": message.provider,
        "status": message.status,
        "reason": message.reason,
        "eml": str(eml) if eml else None,
        # SMS and push have no subject: their text is what was sent; an audience call's text
        # is the webhook body (hashes only).
        "text": message.text if message.channel != "email" else None,
    }


def outbox(
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    contact: Annotated[str | None, typer.Option(help="Only this contact's messages.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many messages.")] = 20,
    channel: Annotated[
        str | None, typer.Option(help="Only this channel: email, sms, push or audience.")
    ] = None,
) -> None:
    """List sent messages of every channel (newest first) and where their files are."""
    if channel is not None and channel not in CHANNELS:
        # An unknown channel matched nothing: "No messages sent yet", as if nothing ran.
        fail(f"--channel {channel!r}: use one of {', '.join(CHANNELS)}")
    settings = load_settings()
    messages = run(sent_messages(settings, contact=contact, limit=limit, channel=channel))
    provider = OutboxProvider(settings.outbox_path)
    rows = [as_row(m, provider) for m in messages]
    if json_:
        echo_json(rows)
        return
    if not rows and (contact or channel):
        wanted = ", ".join(
            f"{k} {v!r}" for k, v in (("contact", contact), ("channel", channel)) if v
        )
        typer.echo(f"No sent messages for {wanted}.")
        return
    if not rows:
        typer.echo("No messages sent yet. Start `sojourn dev` and send a `Signed Up` event.")
        return
    # SUBJECT holds an SMS's or a push's first words, an audience call's action.
    echo_table(
        ["SENT", "STATUS", "TO", "SUBJECT", "CHANNEL", "JOURNEY", "STEP", "MESSAGE ID", "FILE"],
        [
            [
                short_time(m.sent_at),
                _status(m),
                m.to_address,
                _summary(m),
                m.channel,
                m.journey,
                m.step,
                m.message_id,
                _relative(row["eml"]),
            ]
            for m, row in zip(messages, rows, strict=True)
        ],
    )


def _summary(message: MessageRecord) -> str | None:
    """The subject of an email, the first words of an SMS or push, an audience's action."""
    if message.channel == "email":
        return message.subject
    if message.channel == "audience":
        return message.subject  # add or remove
    text = " ".join((message.text or "").split())
    head = f"{message.subject}: " if message.subject else ""
    return head + (text[:40] + "…" if len(text) > 40 else text)


def _status(message: MessageRecord) -> str:
    """``sent``, ``sent (resent)``, ``unknown`` …: a possible duplicate says so."""
    return message.status + (f" ({message.reason})" if message.reason else "")


def _relative(path: str | None) -> str | None:
    """A path relative to the working directory when it is below it (shorter in a table)."""
    if path is None:
        return None
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path
