"""People use cases: a stranger asks to join as a teacher (the request and the directors'
notices in one transaction)."""

from __future__ import annotations

from telegram import Bot

from notices import outbox
from notices.people import tell_directors_of_request
from notices.services import Services
from storage import people


async def ask_to_join(
    bot: Bot, services: Services, *, telegram_id: int, name: str, username: str | None
) -> bool:
    """File the request and tell the directors; False when one is already waiting."""
    async with services.database.transaction() as session:
        request, created = await people.request_to_join(
            session, telegram_id=telegram_id, name=name, username=username, now=services.now()
        )
        if created:
            await tell_directors_of_request(session, services, request)
    if created:
        outbox.deliver_soon(bot, services)
    return created
