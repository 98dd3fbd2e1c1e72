"""Facts the running bot learns and the command line needs (the bot's @username)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import BotFact

BOT_USERNAME = "bot_username"


async def remember(session: AsyncSession, key: str, value: str) -> None:
    """Store or replace a fact."""
    fact = await session.get(BotFact, key)
    if fact is None:
        fact = BotFact(key=key, value=value)
    fact.value = value
    session.add(fact)


async def recall(session: AsyncSession, key: str) -> str | None:
    """A stored fact, or None."""
    fact = await session.get(BotFact, key)
    return fact.value if fact else None
