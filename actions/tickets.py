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
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot

from notices import outbox
from notices import place_history as place_notices
from notices import tickets as told
from notices import tickets_overdue as overdue_notices
from notices.render import esc
from notices.services import Services
from notices.ticket_buttons import card_markup, reporter_markup
from notices.ticket_costs import cost_summary
from school.i18n import N_, Translate
from storage import people
from storage import ticket_moves as moves
from storage import tickets as store
from storage.models import GroupChat, Person, Ticket
from storage.ticket_costs import MaterialLine
from storage.ticket_flow import Actor, Move
from storage.ticket_moves import NOTHING, Change, Details, NotAllowed
from storage.tickets import Report, Reporter, Voice

__all__ = ["Change", "NotAllowed", "Report", "Reporter", "Voice"]


Tell = Callable[[AsyncSession, Change], Awaitable[None]]


async def _move(
    bot: Bot,
    services: Services,
    ticket_id: int,
    move: Move,
    actor: Actor,
    tell: Tell | None = None,
    details: Details = NOTHING,
) -> Change:
    """Make a move and queue what it announces in one transaction; after the commit deliver
    the notices and show the change on the card."""
    async with services.database.transaction() as session:
        change = await moves.make(
            session,
            ticket_id,
            move,
            actor,
            profile=services.profile,
            now=services.now(),
            details=details,
        )
        if change.event is not None and tell is not None:
            await tell(session, change)
        if change.changed:
            await told.queue_card_edit(session, services, change.ticket)
    if change.changed:
        outbox.deliver_soon(bot, services)
        await told.refresh_card(bot, services, ticket_id)
    return change


def _reporter_hears(
    services: Services,
    text: Callable[[Translate, str], str],
    *,
    done: bool = False,
    photo: str | None = None,
    voice: str | None = None,
) -> Tell:
    """The reporter and followers are told `text(t_, head)` (head: the ticket's number, place
    and category); of a finished job (`done`) with its photo or voice note, if any, and the
    reporter with the buttons to accept it or ask for rework."""

    async def tell(session: AsyncSession, change: Change) -> None:
        assert change.event is not None
        ticket = change.ticket
        head = told.ticket_head(ticket, services)
        await told.tell_reporter(
            session,
            services,
            ticket,
            change.event,
            lambda t_: text(t_, head),
            reporter_markup=(lambda t_: reporter_markup(ticket, t_)) if done else None,
            photo_file_id=photo,
            voice_file_id=voice,
        )

    return tell


def _holder_hears(
    services: Services, text: Callable[[Translate, str], str], *, card_buttons: bool = True
) -> Tell:
    """Whoever holds the job is told `text(t_, head)`, with the card's buttons unless
    `card_buttons` is False."""

    async def tell(session: AsyncSession, change: Change) -> None:
        ticket, event = change.ticket, change.event
        assert event is not None
        key = f"ticket:{ticket.id}:{event.id}:assignee"
        markup = (lambda t_: card_markup(ticket, t_)) if card_buttons else None
        head = told.ticket_head(ticket, services)

        def message(t_: Translate) -> str:
            return text(t_, head)

        await told.tell_person(session, services, ticket.assignee_id, key, message, markup=markup)

    return tell


async def get(services: Services, ticket_id: int) -> Ticket | None:
    """The ticket as it is now."""
    async with services.database.reading() as session:
        return await store.get_ticket(session, ticket_id)


# --- the crew ------------------------------------------------------------------------------------


def _crew(services: Services, worker: Person) -> Actor:
    return Actor.of(worker, services.profile)


async def take(bot: Bot, services: Services, ticket_id: int, worker: Person) -> Change:
    """接单: the reporter (and followers) hear who took it."""
    taken = N_("{ticket} was taken by {name}.")
    hear = _reporter_hears(
        services, lambda t_, head: t_(taken).format(ticket=head, name=esc(worker.name))
    )
    return await _move(bot, services, ticket_id, Move.TAKE, _crew(services, worker), hear)


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
        given = N_("{ticket} was given to {name}.")
        hear = _reporter_hears(
            services, lambda t_, head: t_(given).format(ticket=head, name=esc(name))
        )
        await hear(session, change)

    details = Details(assignee=assignee)
    actor = _crew(services, director)
    change = await _move(bot, services, ticket_id, Move.ASSIGN, actor, tell, details)
    return change, assignee


async def start(bot: Bot, services: Services, ticket_id: int, worker: Person) -> Change:
    """开始维修, by the holder."""
    started = N_("{name} started repairing {ticket}.")
    hear = _reporter_hears(
        services, lambda t_, head: t_(started).format(ticket=head, name=esc(worker.name))
    )
    return await _move(bot, services, ticket_id, Move.START, _crew(services, worker), hear)


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
    later = N_("{ticket} needs more time: it will be finished by {time}.\nReason: {reason}")
    hear = _reporter_hears(
        services,
        lambda t_, head: t_(later).format(
            ticket=head, time=told.local_time(services, until), reason=esc(reason)
        ),
    )
    details = Details(reason=reason, until=until)
    return await _move(bot, services, ticket_id, Move.DEFER, _crew(services, worker), hear, details)


# What the reporter hears of a move made with a reason.
_WITH_REASON = {
    Move.RELEASE: N_(
        "{ticket} went back to the repair group for someone else to take.\nReason: {reason}"
    ),
    Move.REJECT: N_("{ticket} was returned by the repair team.\nReason: {reason}"),
}


async def with_reason(
    bot: Bot, services: Services, ticket_id: int, move: Move, actor: Actor, reason: str
) -> Change:
    """转单 by the holder (back to the repair group), 退回 (not a job for the repair team), or
    the reporter's 返修 (the job goes back to its worker, who hears what is still wrong)."""
    details = Details(reason=reason)
    if move == Move.REWORK:
        asks = N_("The reporter asks for rework on {ticket}: {reason}")
        hear = _holder_hears(
            services, lambda t_, head: t_(asks).format(ticket=head, reason=esc(reason))
        )
    else:
        said = _WITH_REASON[move]
        hear = _reporter_hears(
            services, lambda t_, head: t_(said).format(ticket=head, reason=esc(reason))
        )
    return await _move(bot, services, ticket_id, move, actor, hear, details)


async def complete(
    bot: Bot,
    services: Services,
    ticket_id: int,
    worker: Person,
    *,
    result: str,
    note: str | None,
    photo: str | None,
    voice: Voice | None = None,
    materials: Sequence[MaterialLine] = (),
    hours: Decimal | None = None,
) -> Change:
    """维修完成: the reporter is asked to accept (with the photo of the finished work, or the
    worker's voice note, to play); the materials, hours and cost are kept with the job and
    shown."""

    def message(t_: Translate, head: str) -> str:
        text = t_("{ticket} is repaired by {name}: {result}.").format(
            ticket=head, name=esc(worker.name), result=told.result_label(result, t_)
        )
        if note:
            text += "\n" + t_("Note: {note}").format(note=esc(note))
        if voice is not None:
            text += "\n🎤 " + t_("Voice note {length}").format(length=voice.length)
        for line in cost_summary(materials, hours, t_):
            text += "\n" + line
        text = text[: told.CAPTION_LIMIT]
        return text + "\n" + t_("Please check it and accept, or ask for rework.")

    hear = _reporter_hears(
        services, message, done=True, photo=photo, voice=voice.file_id if voice else None
    )
    details = Details(
        result=result,
        note=note,
        photo_file_id=photo,
        voice=voice,
        materials=tuple(materials),
        hours=hours,
    )
    return await _move(
        bot, services, ticket_id, Move.COMPLETE, _crew(services, worker), hear, details
    )


# --- the reporter --------------------------------------------------------------------------------


async def accept(
    bot: Bot, services: Services, ticket_id: int, reporter: Actor, rating: int
) -> Change:
    """确认验收 with 1-5 stars: the holder hears the rating."""
    accepted = N_("{ticket} was accepted by the reporter. Rating: {stars}")
    hear = _holder_hears(
        services,
        lambda t_, head: t_(accepted).format(ticket=head, stars=told.stars(rating)),
        card_buttons=False,
    )
    return await _move(
        bot, services, ticket_id, Move.ACCEPT, reporter, hear, Details(rating=rating)
    )


async def comment(
    bot: Bot, services: Services, ticket_id: int, *, reporter_telegram_id: int, text: str
) -> bool:
    """The reporter's optional comment on the rating, shown on the card."""
    async with services.database.transaction() as session:
        added = await moves.add_rating_comment(
            session, ticket_id, reporter_telegram_id=reporter_telegram_id, comment=text
        )
        ticket = await store.get_ticket(session, ticket_id) if added else None
        if ticket is not None:
            await told.queue_card_edit(session, services, ticket)
    await told.refresh_card(bot, services, ticket_id)
    return added


async def cancel(bot: Bot, services: Services, ticket_id: int, reporter: Actor) -> Change:
    """撤销 before anyone took it."""
    return await _move(bot, services, ticket_id, Move.CANCEL, reporter)


def nudge_interval(services: Services) -> timedelta:
    """How long a reporter waits between two 催办."""
    interval = services.profile.repair.nudge_interval
    if interval.timedelta is not None:
        return interval.timedelta
    return timedelta(days=interval.working_days or 1)


@dataclass(frozen=True)
class Nudged:
    """The outcome of 催办: the change, and who was reminded (the holder or the repair group)."""

    change: Change
    told: Person | GroupChat | None  # None when the press changed nothing

    @property
    def changed(self) -> bool:
        """True when this press nudged."""
        return self.change.changed

    @property
    def ticket(self) -> Ticket:
        """The ticket as it is now."""
        return self.change.ticket


async def nudge(bot: Bot, services: Services, ticket_id: int, reporter: Actor) -> Nudged:
    """催办: the holder (or the repair group) is reminded; NotAllowed('too_soon') if too soon,
    NotAllowed('nobody') when nobody can be reminded (nothing recorded)."""
    async with services.database.transaction() as session:
        change = await moves.nudge(
            session, ticket_id, reporter, interval=nudge_interval(services), now=services.now()
        )
        event = change.event
        if event is None:
            return Nudged(change, None)
        ticket = change.ticket
        head = told.ticket_head(ticket, services)
        asking = N_("{reporter} is asking about {ticket}; please deal with it.")
        reminded = await told.tell_holder_or_group(
            session,
            services,
            ticket,
            f"ticket:{ticket_id}:{event.id}:nudge",
            lambda t_: t_(asking).format(reporter=esc(ticket.reporter_name), ticket=head),
        )
        if reminded is None:
            raise NotAllowed("nobody")  # rolls the nudge back: it reached no one
    outbox.deliver_soon(bot, services)
    return Nudged(change, reminded)


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


async def file_report(
    services: Services,
    report: Report,
    reporter: Reporter,
    *,
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
                session, report, reporter, profile=services.profile, now=services.now()
            )
            if token:
                await store.record_submission(session, token, ticket, now=services.now())
            await told.queue_publication(session, services, ticket)
            # a place with repeated faults: the directors are told (delivered with the card)
            await place_notices.flag_repeats(session, services, ticket)
    return ticket


async def duplicates(
    services: Services, report: Report, *, any_category: bool = False
) -> list[Ticket]:
    """Open tickets of the same kind at the same place (同一问题?); of any kind with
    `any_category` (a place's QR sticker shows everything open there)."""
    async with services.database.reading() as session:
        return await store.find_duplicates(session, report, any_category=any_category)


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
            await told.queue_card_edit(session, services, ticket)
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
