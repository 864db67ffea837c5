"""Replay protection for signed provider webhooks: each signature token works once."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import upsert
from store.schema_messaging import webhook_tokens


class WebhookTokens:
    """Tokens of signed webhooks already accepted, kept as long as they could be fresh.

    Args:
        engine: the store's engine (shared by every gateway process, so a token replayed to
            another process is refused too).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def first_use(self, provider: str, token: str, at: datetime, keep: timedelta) -> bool:
        """Record ``token``; False when it was already used (a replay)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.delete(webhook_tokens).where(webhook_tokens.c.seen_at < at - keep)
            )
            inserted = await conn.execute(
                upsert(self._engine, webhook_tokens)
                .values(provider=provider, token=token, seen_at=at)
                .on_conflict_do_nothing()
            )
        return inserted.rowcount == 1
