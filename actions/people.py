"""People use cases: a stranger asks to join as a teacher (the request and the directors'
notices in one transaction) and a director decides (the decision and the stranger's notice in
one); a director deactivates someone (their unfinished repair jobs go
back to the repair group, which is told); someone opens their private chat (what Telegram
refused to deliver to them goes out after all)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from telegram import Bot

from notices import outbox
from notices import tickets as ticket_notices
from notices.people import tell_deactivated, tell_directors_of_request, tell_join_decided
from notices.recipients import Markup, Message
from notices.services import Services
from storage import outbox as outbox_store
from storage import people
from storage import ticket_moves as moves
from storage.models import JoinRequest, Person, Ticket


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


@dataclass(frozen=True)
class JoinDecision:
    """A director's answer to a join request: the request as it now stands, the teacher
    registered by it (approved), and whether this press decided it (False: decided before)."""

    request: JoinRequest
    person: Person | None
    changed: bool


async def decide_join(
    bot: Bot,
    services: Services,
    *,
    request_id: int,
    approve: bool,
    director: Person,
    welcome: Message,
    menu: Markup,
) -> JoinDecision:
    """Approve (registering a teacher) or decline a join request, and tell the stranger in the
    same transaction; LookupError when there is no such request. `welcome` and `menu` are
    what an approved teacher is shown (the chat layer's help and keyboard)."""
    async with services.database.transaction() as session:
        request, person, changed = await people.decide_join_request(
            session, request_id=request_id, approve=approve, director=director, now=services.now()
        )
        if changed:
            await tell_join_decided(session, services, request, person, welcome, menu)
    if changed:
        outbox.deliver_soon(bot, services)
    return JoinDecision(request, person, changed)


@dataclass(frozen=True)
class Deactivated:
    """Who was deactivated, and the repair jobs of theirs that went back to the queue."""

    person: Person
    sent_back: list[Ticket]


async def deactivate(bot: Bot, services: Services, person_id: int) -> Deactivated:
    """Switch a person off; in the same transaction their unfinished repair jobs go back to
    待接单, and the reporters and the repair group are told, so no job waits for someone who
    is gone. Then the cards show the jobs open again."""
    async with services.database.transaction() as session:
        person = await people.deactivate_person(session, person_id, now=services.now())
        changes = await moves.send_back_held(
            session, person, reason=person.name, profile=services.profile, now=services.now()
        )
        for change in changes:
            await ticket_notices.tell_sent_back(session, services, change, person.name)
            await ticket_notices.queue_card_edit(session, services, change.ticket)
        await tell_deactivated(session, services, person)
    outbox.deliver_soon(bot, services)
    for change in changes:
        assert change.ticket.id is not None
        await ticket_notices.refresh_card(bot, services, change.ticket.id)
    return Deactivated(person, [change.ticket for change in changes])


# How far back notices Telegram refused are sent after all when the person opens the chat.
UNDELIVERED_KEPT = timedelta(days=30)


async def chat_opened(bot: Bot, services: Services, telegram_id: int) -> int:
    """Someone opened their private chat with the bot (/start): Telegram lets the bot write
    to them now, so what it refused to deliver before (they had never started the chat, or
    had blocked it) goes out after all. Returns how many notices are on their way."""
    now = services.now()
    async with services.database.transaction() as session:
        await people.mark_reachable(session, telegram_id)
        waiting = await outbox_store.reachable_again(
            session, telegram_id, since=now - UNDELIVERED_KEPT, now=now
        )
    if waiting:
        outbox.deliver_soon(bot, services)
    return waiting
