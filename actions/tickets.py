"""Repair use cases: each runs the storage transition and queues what it announces in ONE
transaction, then (for a change) delivers the notices and refreshes the card.

Called by the handlers (a button, a reason typed in the act form) and the scheduled jobs alike.
A move the status table refuses raises `storage.ticket_moves.NotAllowed` (nothing changed);
a ticket that moved on gives a `Change` without an event. No Telegram updates here: the
caller answers the person acting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot

from notices import outbox
from notices import tickets as told
from notices import tickets_overdue as overdue_notices
from notices.render import esc
from notices.services import Services
from notices.ticket_buttons import card_markup, reporter_markup
from school.i18n import Translate
from storage import people
from storage import ticket_moves as moves
from storage import tickets as store
from storage.models import Person, Ticket
from storage.ticket_moves import Change, NotAllowed

__all__ = ["Change", "NotAllowed"]


Make = Callable[[AsyncSession, datetime], Awaitable[Change]]
Tell = Callable[[AsyncSession, Change], Awaitable[None]]


async def _move(bot: Bot, services: Services, make: Make, tell: Tell | None = None) -> Change:
    """Make a move and queue what it announces in one transaction; after the commit deliver
    the notices and show the change on the card."""
    async with services.database.transaction() as session:
        change = await make(session, services.now())
        if change.event is not None and tell is not None:
            await tell(session, change)
    if change.changed:
        assert change.ticket.id is not None
        outbox.deliver_soon(bot, services)
        await told.refresh_card(bot, services, change.ticket.id)
    return change


def _reporter_hears(services: Services, text: Callable[[Translate, str], str]) -> Tell:
    """The reporter and followers are told `text(t_, head)` (head: the ticket's number, place
    and category)."""

    async def tell(session: AsyncSession, change: Change) -> None:
        assert change.event is not None
        head = told.ticket_head(change.ticket, services)
        await told.tell_reporter(
            session, services, change.ticket, change.event, lambda t_: text(t_, head)
        )

    return tell


def _holder_hears(
    services: Services, text: Callable[[Translate, str], str], *, card_buttons: bool = True
) -> Tell:
    """Whoever holds the job is told `text(t_, head)`, with the card's buttons unless
    `card_buttons` is False."""

    async def tell(session: AsyncSession, change: Change) -> None:
        assert change.event is not None
        ticket = change.ticket
        head = told.ticket_head(ticket, services)
        await told.tell_person(
            session,
            services,
            ticket.assignee_id,
            f"ticket:{ticket.id}:{change.event.id}:assignee",
            lambda t_: text(t_, head),
            markup=(lambda t_: card_markup(ticket, t_)) if card_buttons else None,
        )

    return tell


async def get(services: Services, ticket_id: int) -> Ticket | None:
    """The ticket as it is now."""
    async with services.database.reading() as session:
        return await store.get_ticket(session, ticket_id)


# --- the crew ------------------------------------------------------------------------------------


async def take(bot: Bot, services: Services, ticket_id: int, worker: Person) -> Change:
    """接单: the reporter (and followers) hear who took it."""
    return await _move(
        bot,
        services,
        lambda session, now: moves.take(
            session, ticket_id, worker=worker, profile=services.profile, now=now
        ),
        _reporter_hears(
            services,
            lambda t_, head: t_("{ticket} was taken by {name}.").format(
                ticket=head, name=esc(worker.name)
            ),
        ),
    )


async def assign(
    bot: Bot, services: Services, ticket_id: int, director: Person, assignee_id: int
) -> tuple[Change, Person]:
    """指派 / a director's 转单: the assignee gets the card, the reporter hears who does it.

    NotAllowed('assignee') when that person can no longer take repair jobs."""
    async with services.database.reading() as session:
        assignee = await people.get_person(session, assignee_id)
    if assignee is None or not store.can_handle(assignee, services.profile):
        raise NotAllowed("assignee")
    name = assignee.name

    async def tell(session: AsyncSession, change: Change) -> None:
        assert change.event is not None
        ticket = change.ticket
        await told.tell_person(
            session,
            services,
            assignee_id,
            f"ticket:{ticket_id}:{change.event.id}:assignee",
            lambda t_: (
                t_("{director} gave you a repair job:").format(director=esc(director.name))
                + "\n\n"
                + told.card_text(services, ticket, holder=name, photo_count=0, _=t_)
            ),
            markup=lambda t_: card_markup(ticket, t_),
        )
        await _reporter_hears(
            services,
            lambda t_, head: t_("{ticket} was given to {name}.").format(
                ticket=head, name=esc(name)
            ),
        )(session, change)

    change = await _move(
        bot,
        services,
        lambda session, now: moves.assign(
            session,
            ticket_id,
            director=director,
            assignee=assignee,
            profile=services.profile,
            now=now,
        ),
        tell,
    )
    return change, assignee


async def start(bot: Bot, services: Services, ticket_id: int, worker: Person) -> Change:
    """开始维修, by the holder."""
    return await _move(
        bot,
        services,
        lambda session, now: moves.start(session, ticket_id, worker=worker, now=now),
        _reporter_hears(
            services,
            lambda t_, head: t_("{name} started repairing {ticket}.").format(
                ticket=head, name=esc(worker.name)
            ),
        ),
    )


def deferred_until(services: Services, day: date) -> datetime:
    """A deferral to `day` ends with the working day (or at midnight, if that is over)."""
    tz = services.profile.tz
    until = datetime.combine(day, services.profile.repair.working_hours.end, tzinfo=tz)
    if until <= services.now():
        until = datetime.combine(day, time(23, 59), tzinfo=tz)
    return until


async def defer(
    bot: Bot, services: Services, ticket_id: int, worker: Person, reason: str, day: date
) -> Change:
    """延期 with a reason and a new date; the reporter is told why (慎用承诺)."""
    until = deferred_until(services, day)
    return await _move(
        bot,
        services,
        lambda session, now: moves.defer(
            session, ticket_id, worker=worker, reason=reason, until=until, now=now
        ),
        _reporter_hears(
            services,
            lambda t_, head: t_(
                "{ticket} needs more time: it will be finished by {time}.\nReason: {reason}"
            ).format(ticket=head, time=told.local_time(services, until), reason=esc(reason)),
        ),
    )


async def release(
    bot: Bot, services: Services, ticket_id: int, worker: Person, reason: str
) -> Change:
    """转单 by the holder: back to the repair group, the reporter told why."""
    return await _move(
        bot,
        services,
        lambda session, now: moves.release(
            session, ticket_id, worker=worker, reason=reason, now=now
        ),
        _reporter_hears(
            services,
            lambda t_, head: t_(
                "{ticket} went back to the repair group for someone else to take.\nReason: {reason}"
            ).format(ticket=head, reason=esc(reason)),
        ),
    )


async def reject(
    bot: Bot, services: Services, ticket_id: int, actor: Person, reason: str
) -> Change:
    """退回 with a reason the reporter sees."""
    return await _move(
        bot,
        services,
        lambda session, now: moves.reject(
            session, ticket_id, actor=actor, reason=reason, profile=services.profile, now=now
        ),
        _reporter_hears(
            services,
            lambda t_, head: t_(
                "{ticket} was returned by the repair team.\nReason: {reason}"
            ).format(ticket=head, reason=esc(reason)),
        ),
    )


async def complete(
    bot: Bot,
    services: Services,
    ticket_id: int,
    worker: Person,
    *,
    result: str,
    note: str | None,
    photo: str | None,
) -> Change:
    """维修完成: the reporter is asked to accept (with the photo of the finished work)."""

    def message(t_: Translate, head: str) -> str:
        text = t_("{ticket} is repaired by {name}: {result}.").format(
            ticket=head, name=esc(worker.name), result=told.result_label(result, t_)
        )
        if note:
            text += "\n" + t_("Note: {note}").format(note=esc(note))
        text = text[: told.CAPTION_LIMIT]
        return text + "\n" + t_("Please check it and accept, or ask for rework.")

    async def tell(session: AsyncSession, change: Change) -> None:
        assert change.event is not None
        ticket = change.ticket
        head = told.ticket_head(ticket, services)
        await told.tell_reporter(
            session,
            services,
            ticket,
            change.event,
            lambda t_: message(t_, head),
            reporter_markup=lambda t_: reporter_markup(ticket, t_),
            photo_file_id=photo,
        )

    return await _move(
        bot,
        services,
        lambda session, now: moves.complete(
            session,
            ticket_id,
            worker=worker,
            result=result,
            note=note,
            photo_file_id=photo,
            now=now,
        ),
        tell,
    )


# --- the reporter --------------------------------------------------------------------------------


async def accept(
    bot: Bot,
    services: Services,
    ticket_id: int,
    *,
    reporter_telegram_id: int,
    reporter: Person | None,
    rating: int,
) -> Change:
    """确认验收 with 1-5 stars: the holder hears the rating."""
    return await _move(
        bot,
        services,
        lambda session, now: moves.accept(
            session,
            ticket_id,
            reporter_telegram_id=reporter_telegram_id,
            reporter=reporter,
            rating=rating,
            now=now,
        ),
        _holder_hears(
            services,
            lambda t_, head: t_("{ticket} was accepted by the reporter. Rating: {stars}").format(
                ticket=head, stars=told.stars(rating)
            ),
            card_buttons=False,
        ),
    )


async def comment(
    bot: Bot, services: Services, ticket_id: int, *, reporter_telegram_id: int, text: str
) -> bool:
    """The reporter's optional comment on the rating, shown on the card."""
    async with services.database.transaction() as session:
        added = await moves.add_rating_comment(
            session, ticket_id, reporter_telegram_id=reporter_telegram_id, comment=text
        )
    await told.refresh_card(bot, services, ticket_id)
    return added


async def rework(
    bot: Bot,
    services: Services,
    ticket_id: int,
    *,
    reporter_telegram_id: int,
    reporter: Person | None,
    reason: str,
) -> Change:
    """返修: the job goes back to its worker, who hears what is still wrong."""
    return await _move(
        bot,
        services,
        lambda session, now: moves.rework(
            session,
            ticket_id,
            reporter_telegram_id=reporter_telegram_id,
            reporter=reporter,
            reason=reason,
            profile=services.profile,
            now=now,
        ),
        _holder_hears(
            services,
            lambda t_, head: t_("The reporter asks for rework on {ticket}: {reason}").format(
                ticket=head, reason=esc(reason)
            ),
        ),
    )


async def cancel(
    bot: Bot,
    services: Services,
    ticket_id: int,
    *,
    reporter_telegram_id: int,
    reporter: Person | None,
) -> Change:
    """撤销 before anyone took it."""
    return await _move(
        bot,
        services,
        lambda session, now: moves.cancel(
            session,
            ticket_id,
            reporter_telegram_id=reporter_telegram_id,
            reporter=reporter,
            now=now,
        ),
    )


def nudge_interval(services: Services) -> timedelta:
    """How long a reporter waits between two 催办."""
    interval = services.profile.repair.nudge_interval
    if interval.timedelta is not None:
        return interval.timedelta
    return timedelta(days=interval.working_days or 1)


async def nudge(
    bot: Bot,
    services: Services,
    ticket_id: int,
    *,
    reporter_telegram_id: int,
    reporter: Person | None,
) -> Change:
    """催办: the holder (or the repair group) is reminded; NotAllowed('too_soon') if too soon."""
    async with services.database.transaction() as session:
        change = await moves.nudge(
            session,
            ticket_id,
            reporter_telegram_id=reporter_telegram_id,
            reporter=reporter,
            interval=nudge_interval(services),
            now=services.now(),
        )
        event = change.event
        if event is not None:
            ticket = change.ticket
            await told.tell_holder_or_group(
                session,
                services,
                ticket,
                f"ticket:{ticket_id}:{event.id}:nudge",
                lambda t_: t_("{reporter} is asking about {ticket}; please deal with it.").format(
                    reporter=esc(ticket.reporter_name), ticket=told.ticket_head(ticket, services)
                ),
            )
    if change.changed:
        outbox.deliver_soon(bot, services)
    return change


@dataclass(frozen=True)
class Followed:
    """The outcome of 同一问题: the ticket, and whether this press made the person follow it."""

    ticket: Ticket
    joined: bool


async def follow(
    services: Services, ticket_id: int, *, telegram_id: int, name: str, person: Person | None
) -> Followed:
    """同一问题: get the updates of an open ticket instead of filing a second one."""
    async with services.database.transaction() as session:
        joined = await store.follow(
            session,
            ticket_id=ticket_id,
            telegram_id=telegram_id,
            name=name,
            person=person,
            now=services.now(),
        )
        ticket = await store.get_ticket(session, ticket_id)
    assert ticket is not None
    return Followed(ticket, joined)


# --- filing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """What a report says."""

    category: str
    place: str
    description: str
    urgency: str
    building: str | None = None
    floor: str | None = None
    room: str | None = None
    photos: Sequence[str] = ()


async def file_report(
    services: Services,
    report: Report,
    *,
    reporter_telegram_id: int,
    reporter_name: str,
    reporter: Person | None,
    token: str | None,
) -> Ticket:
    """File a report with its card and the reporter's confirmation queued in the same
    transaction (never one without the other). A form submitted again (`token`: a crash
    after the commit left the form at its summary) finds the ticket it filed.
    Then `notices.tickets.publish_ticket` answers the reporter and posts the card."""
    async with services.database.transaction() as session:
        ticket = await store.filed_by_submission(session, token) if token else None
        if ticket is None:
            ticket = await store.create_ticket(
                session,
                profile=services.profile,
                now=services.now(),
                reporter_telegram_id=reporter_telegram_id,
                reporter_name=reporter_name,
                reporter=reporter,
                category_key=report.category,
                place=report.place,
                description=report.description,
                urgency_key=report.urgency,
                building_key=report.building,
                floor=report.floor,
                room=report.room,
                photo_file_ids=list(report.photos),
            )
            if token:
                await store.record_submission(session, token, ticket, now=services.now())
            await told.queue_publication(session, services, ticket)
    return ticket


async def duplicates(services: Services, report: Report) -> list[Ticket]:
    """Open tickets of the same kind at the same place (同一问题?)."""
    async with services.database.reading() as session:
        return await store.find_duplicates(
            session,
            category_key=report.category,
            place=report.place,
            building_key=report.building,
            floor=report.floor,
            room=report.room,
        )


# --- scheduled ---------------------------------------------------------------------------------


def _auto_accepted(services: Services, ticket: Ticket) -> told.Message:
    profile = services.profile
    head = told.ticket_head(ticket, services)

    def message(t_: Translate) -> str:
        return t_(
            "{ticket} waited {days} days for your acceptance, so it was accepted "
            "automatically with the default rating {stars}."
        ).format(
            ticket=head,
            days=profile.repair.auto_accept_days,
            stars=told.stars(profile.repair.default_rating),
        )

    return message


async def auto_accept(bot: Bot, services: Services) -> list[Change]:
    """Close jobs left in 待验收 too long with the default rating; tell the reporter."""
    profile = services.profile
    async with services.database.transaction() as session:
        changes = await moves.auto_accept_due(session, profile=profile, now=services.now())
        for change in changes:
            ticket, event = change.ticket, change.event
            assert event is not None
            await told.tell_reporter(
                session, services, ticket, event, _auto_accepted(services, ticket)
            )
    for change in changes:
        assert change.ticket.id is not None
        await told.refresh_card(bot, services, change.ticket.id)
    return changes


async def check_overdue(services: Services, *, stamp: str) -> None:
    """Claim the newly overdue jobs and urgent ones nobody took, and queue their notices, in
    one transaction (each job goes into one digest only)."""
    now = services.now()
    async with services.database.transaction() as session:
        overdue = await moves.claim_overdue(session, now=now)
        alerts = await moves.claim_urgent_alerts(session, profile=services.profile, now=now)
        if overdue or alerts:
            await overdue_notices.queue_overdue(
                session, services, overdue=overdue, alerts=alerts, stamp=stamp
            )
