"""Repair tickets (报修单): numbering, the status machine, followers, deadlines and statistics.

Every change is a conditional UPDATE guarded by the status (and holder) the caller saw, so a
button pressed twice, or two people pressing at once, changes a ticket once. A change that
no longer applies returns a `Change` with `event=None` and the ticket as it is now.
Nothing here knows Telegram; time comes in as `now`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from school.profile import SchoolProfile
from storage import persisted_state
from storage import ticket_flow as flow
from storage.models import (
    PersistedState,
    Person,
    Ticket,
    TicketEvent,
    TicketFollower,
    TicketPhoto,
    TicketStatus,
)
from storage.stats import Month, TicketStats
from storage.ticket_flow import Actor, Move, Verdict

# The status machine lives in storage.ticket_flow; these names are kept for the callers.
HELD = flow.HELD
UNFINISHED = flow.UNFINISHED
ACTIVE = flow.ACTIVE
FINAL = flow.FINAL
can_handle = flow.can_handle

RESULTS = ("fixed", "replaced", "unfixable")
MAX_REASON = 500
MAX_NOTE = 1000
NUMBER_ATTEMPTS = 8


class NotAllowed(Exception):
    """The person may not do this to the ticket; `reason` names why.

    Reasons: 'not_yours' (someone else holds it), 'not_reporter', 'role', 'too_soon'.
    """

    def __init__(self, reason: str, *, until: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.until = until


@dataclass(frozen=True)
class Change:
    """The outcome of a transition: the ticket now, and the event if it changed."""

    ticket: Ticket
    event: TicketEvent | None

    @property
    def changed(self) -> bool:
        """True when this call changed the ticket."""
        return self.event is not None


# --- rules -------------------------------------------------------------------------------------


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    """已超时: not taken by accept_by, or not finished by finish_by."""
    if ticket.status == TicketStatus.OPEN and ticket.accept_by is not None:
        if now > ticket.accept_by:
            return True
    return ticket.status in UNFINISHED and ticket.finish_by is not None and now > ticket.finish_by


def most_urgent_key(profile: SchoolProfile) -> str:
    """The profile's most urgent level (listed first, e.g. 紧急)."""
    return profile.repair.urgencies[0].key


def month_bounds(month: Month, profile: SchoolProfile) -> tuple[datetime, datetime]:
    """[start, end) of a month in the school's time zone."""
    tz = profile.tz
    start = datetime.combine(month.first_day, time(0), tzinfo=tz)
    end = datetime.combine(month.next().first_day, time(0), tzinfo=tz)
    return start, end


# --- creating ----------------------------------------------------------------------------------


async def _next_number(session: AsyncSession, profile: SchoolProfile, now: datetime) -> str:
    """The month's next number. On PostgreSQL the filing transactions of one month take turns
    here (a transaction-scoped advisory lock, released at commit), so reports filed at the same
    moment do not all pick the same number; SQLite has one writer at a time anyway."""
    local = now.astimezone(profile.tz)
    stem = f"{profile.school.ticket_prefix}-{local:%y%m}-"
    if session.get_bind().dialect.name == "postgresql":
        await session.exec(select(func.pg_advisory_xact_lock(func.hashtext(stem))))
    query = (
        select(Ticket.number)
        .where(col(Ticket.number).startswith(stem))
        # the highest number: longer first (…-1000 after …-999), then by the digits
        .order_by(func.length(Ticket.number).desc(), col(Ticket.number).desc())
        .limit(1)
    )
    highest = (await session.exec(query)).first()
    tail = highest[len(stem) :] if highest is not None else "0"
    return f"{stem}{(int(tail) if tail.isdigit() else 0) + 1:03d}"


async def create_ticket(
    session: AsyncSession,
    *,
    profile: SchoolProfile,
    now: datetime,
    reporter_telegram_id: int,
    reporter_name: str,
    reporter: Person | None,
    category_key: str,
    place: str,
    description: str,
    urgency_key: str,
    building_key: str | None = None,
    floor: str | None = None,
    room: str | None = None,
    photo_file_ids: Sequence[str] = (),
    source: str = "report",
) -> Ticket:
    """File a ticket: number it (BX-2611-007), set its deadlines, record the report and photos.

    Flushes, so `ticket.id` is set; the caller's transaction commits it.
    """
    profile.category(category_key)  # KeyError on an unknown key: a bug in the caller
    accept_by, finish_by = profile.deadlines(now, urgency_key)
    ticket: Ticket | None = None
    for _attempt in range(NUMBER_ATTEMPTS):
        candidate = Ticket(
            number=await _next_number(session, profile, now),
            reporter_id=reporter.id if reporter is not None else None,
            reporter_telegram_id=reporter_telegram_id,
            reporter_name=reporter_name[:64],
            category_key=category_key,
            building_key=building_key,
            floor=floor,
            room=room,
            place=place[:200],
            description=description,
            urgency_key=urgency_key,
            status=TicketStatus.OPEN,
            source=source,
            created_at=now,
            accept_by=accept_by,
            finish_by=finish_by,
        )
        try:
            async with session.begin_nested():
                session.add(candidate)
        except IntegrityError:  # someone took the number at the same moment
            continue
        ticket = candidate
        break
    if ticket is None:
        raise RuntimeError("could not number the ticket")
    assert ticket.id is not None
    for file_id in photo_file_ids:
        session.add(TicketPhoto(ticket_id=ticket.id, file_id=file_id, kind="report", added_at=now))
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            actor_id=reporter.id if reporter is not None else None,
            action="report" if source == "report" else source,
            from_status=None,
            to_status=TicketStatus.OPEN,
            note=None,
            at=now,
        )
    )
    await session.flush()
    return ticket


SUBMISSIONS = "ticket_submission"  # persisted_state kind: form token -> ticket id


async def record_submission(
    session: AsyncSession, token: str, ticket: Ticket, *, now: datetime
) -> None:
    """Remember which ticket a report form filed (in the filing transaction)."""
    await persisted_state.save(
        session, kind=SUBMISSIONS, key=token[:128], data={"ticket_id": ticket.id}, now=now
    )


async def filed_by_submission(session: AsyncSession, token: str) -> Ticket | None:
    """The ticket a report form already filed, if it was submitted before."""
    query = select(PersistedState).where(
        PersistedState.kind == SUBMISSIONS, PersistedState.key == token[:128]
    )
    row = (await session.exec(query)).first()
    if row is None or not isinstance(row.data, dict):
        return None
    ticket_id = row.data.get("ticket_id")
    return await session.get(Ticket, ticket_id) if isinstance(ticket_id, int) else None


# --- reading -----------------------------------------------------------------------------------


async def get_ticket(session: AsyncSession, ticket_id: int) -> Ticket | None:
    """The ticket with this id."""
    return await session.get(Ticket, ticket_id)


async def get_by_number(session: AsyncSession, number: str) -> Ticket | None:
    """The ticket with this number (case-insensitive)."""
    query = select(Ticket).where(Ticket.number == number.strip().upper())
    return (await session.exec(query)).first()


async def photos_of(
    session: AsyncSession, ticket_id: int, kind: str | None = "report"
) -> list[str]:
    """File ids of a ticket's photos (of one kind, or all), in the order added."""
    query = select(TicketPhoto.file_id).where(TicketPhoto.ticket_id == ticket_id)
    if kind is not None:
        query = query.where(TicketPhoto.kind == kind)
    return list((await session.exec(query.order_by(col(TicketPhoto.id)))).all())


async def events_of(session: AsyncSession, ticket_id: int) -> list[TicketEvent]:
    """Every recorded change of a ticket, oldest first."""
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    return list((await session.exec(query.order_by(col(TicketEvent.id)))).all())


async def followers_of(session: AsyncSession, ticket_id: int) -> list[TicketFollower]:
    """Who joined the ticket as the same problem."""
    query = select(TicketFollower).where(TicketFollower.ticket_id == ticket_id)
    return list((await session.exec(query.order_by(col(TicketFollower.id)))).all())


async def reporter_tickets(
    session: AsyncSession, telegram_id: int, *, limit: int = 20
) -> list[Ticket]:
    """A reporter's tickets (and those they follow), newest first."""
    followed = select(TicketFollower.ticket_id).where(TicketFollower.telegram_id == telegram_id)
    query = (
        select(Ticket)
        .where(
            or_(
                col(Ticket.reporter_telegram_id) == telegram_id,
                col(Ticket.id).in_(followed),
            )
        )
        .order_by(col(Ticket.id).desc())
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def active_tickets(session: AsyncSession, *, assignee_id: int | None = None) -> list[Ticket]:
    """Tickets that still need someone (待接单 … 待验收), oldest first."""
    query = select(Ticket).where(col(Ticket.status).in_(ACTIVE))
    if assignee_id is not None:
        query = query.where(Ticket.assignee_id == assignee_id)
    return list((await session.exec(query.order_by(col(Ticket.id)))).all())


def _norm_place(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


async def find_duplicates(
    session: AsyncSession,
    *,
    category_key: str,
    place: str,
    building_key: str | None = None,
    floor: str | None = None,
    room: str | None = None,
) -> list[Ticket]:
    """Unfinished tickets of the same category at the same place (same room, or same text)."""
    joinable = flow.FLOW[Move.FOLLOW].from_states  # the open tickets one may join
    query = select(Ticket).where(
        col(Ticket.status).in_(joinable), Ticket.category_key == category_key
    )
    candidates = (await session.exec(query.order_by(col(Ticket.id)))).all()
    wanted = _norm_place(place)
    found = []
    for ticket in candidates:
        if building_key is not None and ticket.building_key == building_key:
            same = (ticket.floor, ticket.room) == (floor, room)
        else:
            same = _norm_place(ticket.place) == wanted
        if same:
            found.append(ticket)
    return found


async def follow(
    session: AsyncSession,
    *,
    ticket_id: int,
    telegram_id: int,
    name: str,
    person: Person | None,
    now: datetime,
) -> bool:
    """Join a ticket as the same problem; False when already following (or the reporter)."""
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise LookupError(f"no ticket {ticket_id}")
    if ticket.reporter_telegram_id == telegram_id:
        return False
    existing = await session.exec(
        select(TicketFollower).where(
            TicketFollower.ticket_id == ticket_id, TicketFollower.telegram_id == telegram_id
        )
    )
    if existing.first() is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(
                TicketFollower(
                    ticket_id=ticket_id,
                    telegram_id=telegram_id,
                    person_id=person.id if person is not None else None,
                    name=name[:64],
                    joined_at=now,
                )
            )
    except IntegrityError:
        return False
    session.add(
        TicketEvent(
            ticket_id=ticket_id,
            actor_id=person.id if person is not None else None,
            action="follow",
            from_status=ticket.status,
            to_status=ticket.status,
            note=name[:64],
            at=now,
        )
    )
    await session.flush()
    return True


# --- transitions -------------------------------------------------------------------------------


async def _load(session: AsyncSession, ticket_id: int) -> Ticket:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise LookupError(f"no ticket {ticket_id}")
    await session.refresh(ticket)
    return ticket


async def _transition(
    session: AsyncSession,
    ticket: Ticket,
    *,
    move: Move,
    actor: Actor,
    person: Person | None,
    now: datetime,
    note: str | None = None,
    values: dict[str, Any] | None = None,
    action: str | None = None,
) -> Change:
    """Make `move` as the table (storage.ticket_flow) allows it: refuse an actor it does not
    allow (NotAllowed), ignore a ticket that moved on (a Change without an event), otherwise
    move it from the status (and holder) seen, once, and record the event."""
    verdict = flow.judge(move, ticket, actor)
    if verdict == Verdict.MOVED_ON:
        return Change(ticket, None)
    if verdict != Verdict.ALLOWED:
        raise NotAllowed(verdict.value)
    seen_status = TicketStatus(ticket.status)
    to_status = flow.FLOW[move].to_state or seen_status
    assert ticket.id is not None
    guard = [col(Ticket.id) == ticket.id, col(Ticket.status) == seen_status]
    if ticket.assignee_id is None:
        guard.append(col(Ticket.assignee_id).is_(None))
    else:
        guard.append(col(Ticket.assignee_id) == ticket.assignee_id)
    result = await session.exec(
        update(Ticket).where(*guard).values(status=to_status, **(values or {}))
    )
    await session.refresh(ticket)
    if result.rowcount != 1:
        return Change(ticket, None)
    event = TicketEvent(
        ticket_id=ticket.id,
        actor_id=person.id if person is not None else None,
        action=action or move.value,
        from_status=seen_status,
        to_status=to_status,
        note=note[:MAX_NOTE] if note else None,
        at=now,
    )
    session.add(event)
    await session.flush()
    return Change(ticket, event)


async def take(
    session: AsyncSession, ticket_id: int, *, worker: Person, profile: SchoolProfile, now: datetime
) -> Change:
    """接单: a repair worker (or a director) takes an open ticket."""
    ticket = await _load(session, ticket_id)
    return await _transition(
        session,
        ticket,
        move=Move.TAKE,
        actor=Actor.of(worker, profile),
        person=worker,
        now=now,
        values={"assignee_id": worker.id, "accepted_at": now, "overdue_reported_at": None},
    )


async def assign(
    session: AsyncSession,
    ticket_id: int,
    *,
    director: Person,
    assignee: Person,
    profile: SchoolProfile,
    now: datetime,
) -> Change:
    """指派 / 转单 by a director: the ticket goes to a person, as 已接单."""
    if not can_handle(assignee, profile):
        raise NotAllowed("role")
    ticket = await _load(session, ticket_id)
    actor = Actor.of(director, profile)
    if actor.director and ticket.assignee_id == assignee.id and ticket.status in HELD:
        return Change(ticket, None)
    was_open = ticket.status == TicketStatus.OPEN
    return await _transition(
        session,
        ticket,
        move=Move.ASSIGN,
        actor=actor,
        person=director,
        now=now,
        note=assignee.name,
        action="assign" if was_open else "transfer",
        values={
            "assignee_id": assignee.id,
            "accepted_at": now if was_open or ticket.accepted_at is None else ticket.accepted_at,
            "overdue_reported_at": None,
        },
    )


async def start(session: AsyncSession, ticket_id: int, *, worker: Person, now: datetime) -> Change:
    """开始维修, by the holder."""
    ticket = await _load(session, ticket_id)
    return await _transition(
        session,
        ticket,
        move=Move.START,
        actor=Actor.of(worker),
        person=worker,
        now=now,
        values={"started_at": ticket.started_at or now},
    )


async def defer(
    session: AsyncSession,
    ticket_id: int,
    *,
    worker: Person,
    reason: str,
    until: datetime,
    now: datetime,
) -> Change:
    """申请延期: a reason and a new date; the finish deadline moves to that date."""
    ticket = await _load(session, ticket_id)
    actor = Actor.of(worker)
    if flow.refusal(Move.DEFER, ticket, actor) is None and until <= now:
        raise ValueError("the new date must be in the future")
    return await _transition(
        session,
        ticket,
        move=Move.DEFER,
        actor=actor,
        person=worker,
        now=now,
        note=reason,
        values={
            "deferred_until": until,
            "finish_by": until,
            "status_reason": reason[:MAX_REASON],
            "overdue_reported_at": None,
        },
    )


async def release(
    session: AsyncSession, ticket_id: int, *, worker: Person, reason: str, now: datetime
) -> Change:
    """转单 by a worker: hand the job back to the group (待接单 again) with a reason."""
    ticket = await _load(session, ticket_id)
    return await _transition(
        session,
        ticket,
        move=Move.RELEASE,
        actor=Actor.of(worker),
        person=worker,
        now=now,
        note=reason,
        values={"assignee_id": None, "status_reason": reason[:MAX_REASON]},
    )


async def reject(
    session: AsyncSession,
    ticket_id: int,
    *,
    actor: Person,
    reason: str,
    profile: SchoolProfile,
    now: datetime,
) -> Change:
    """退回: not a job for the repair team (or not a fault), with a reason."""
    ticket = await _load(session, ticket_id)
    return await _transition(
        session,
        ticket,
        move=Move.REJECT,
        actor=Actor.of(actor, profile),
        person=actor,
        now=now,
        note=reason,
        values={"status_reason": reason[:MAX_REASON], "closed_at": now},
    )


async def complete(
    session: AsyncSession,
    ticket_id: int,
    *,
    worker: Person,
    result: str,
    note: str | None,
    photo_file_id: str | None,
    now: datetime,
) -> Change:
    """维修完成: result (已修复/已换新/无法修复), optional note and photo; waits for 验收."""
    if result not in RESULTS:
        raise ValueError(f"unknown result {result!r}")
    ticket = await _load(session, ticket_id)
    change = await _transition(
        session,
        ticket,
        move=Move.COMPLETE,
        actor=Actor.of(worker),
        person=worker,
        now=now,
        note=note,
        values={
            "completed_at": now,
            "result": result,
            "result_note": note[:MAX_NOTE] if note else None,
        },
    )
    if change.changed and photo_file_id:
        assert ticket.id is not None
        session.add(
            TicketPhoto(ticket_id=ticket.id, file_id=photo_file_id, kind="completion", added_at=now)
        )
        await session.flush()
    return change


async def accept(
    session: AsyncSession,
    ticket_id: int,
    *,
    reporter_telegram_id: int,
    reporter: Person | None,
    rating: int,
    now: datetime,
) -> Change:
    """确认验收 with a 1-5 rating: the ticket is 已完成."""
    if not 1 <= rating <= 5:
        raise ValueError("a rating is 1-5")
    ticket = await _load(session, ticket_id)
    return await _transition(
        session,
        ticket,
        move=Move.ACCEPT,
        actor=Actor.of(reporter, telegram_id=reporter_telegram_id),
        person=reporter,
        now=now,
        note=str(rating),
        values={"rating": rating, "closed_at": now},
    )


async def add_rating_comment(
    session: AsyncSession, ticket_id: int, *, reporter_telegram_id: int, comment: str
) -> bool:
    """The reporter's optional comment on an accepted job; False if it has one already."""
    ticket = await _load(session, ticket_id)
    if ticket.reporter_telegram_id != reporter_telegram_id:
        raise NotAllowed(Verdict.NOT_REPORTER.value)
    result = await session.exec(
        update(Ticket)
        .where(
            col(Ticket.id) == ticket_id,
            col(Ticket.status) == TicketStatus.CLOSED,
            col(Ticket.rating_comment).is_(None),
        )
        .values(rating_comment=comment[:MAX_NOTE])
    )
    await session.refresh(ticket)
    return bool(result.rowcount)


async def rework(
    session: AsyncSession,
    ticket_id: int,
    *,
    reporter_telegram_id: int,
    reporter: Person | None,
    reason: str,
    profile: SchoolProfile,
    now: datetime,
) -> Change:
    """返修: the reporter rejects the fix; the job goes back to its worker with a new limit."""
    ticket = await _load(session, ticket_id)
    _accept_by, finish_by = profile.deadlines(now, ticket.urgency_key)
    return await _transition(
        session,
        ticket,
        move=Move.REWORK,
        actor=Actor.of(reporter, telegram_id=reporter_telegram_id),
        person=reporter,
        now=now,
        note=reason,
        values={
            "status_reason": reason[:MAX_REASON],
            "rework_count": ticket.rework_count + 1,
            "finish_by": finish_by,
            "overdue_reported_at": None,
        },
    )


async def cancel(
    session: AsyncSession,
    ticket_id: int,
    *,
    reporter_telegram_id: int,
    reporter: Person | None,
    now: datetime,
) -> Change:
    """撤销 by the reporter, only before anyone took it."""
    ticket = await _load(session, ticket_id)
    return await _transition(
        session,
        ticket,
        move=Move.CANCEL,
        actor=Actor.of(reporter, telegram_id=reporter_telegram_id),
        person=reporter,
        now=now,
        values={"closed_at": now},
    )


async def nudge(
    session: AsyncSession,
    ticket_id: int,
    *,
    reporter_telegram_id: int,
    reporter: Person | None,
    interval: timedelta,
    now: datetime,
) -> Change:
    """催办: at most once per interval, on an unfinished ticket; NotAllowed('too_soon')."""
    ticket = await _load(session, ticket_id)
    verdict = flow.judge(Move.NUDGE, ticket, Actor.of(reporter, telegram_id=reporter_telegram_id))
    if verdict == Verdict.MOVED_ON:
        return Change(ticket, None)
    if verdict != Verdict.ALLOWED:
        raise NotAllowed(verdict.value)
    threshold = now - interval
    if ticket.last_nudge_at is not None and ticket.last_nudge_at > threshold:
        raise NotAllowed("too_soon", until=ticket.last_nudge_at + interval)
    result = await session.exec(
        update(Ticket)
        .where(
            col(Ticket.id) == ticket_id,
            col(Ticket.status).in_(flow.FLOW[Move.NUDGE].from_states),
            or_(col(Ticket.last_nudge_at).is_(None), col(Ticket.last_nudge_at) <= threshold),
        )
        .values(last_nudge_at=now)
    )
    await session.refresh(ticket)
    if result.rowcount != 1:
        raise NotAllowed("too_soon", until=(ticket.last_nudge_at or now) + interval)
    assert ticket.id is not None
    event = TicketEvent(
        ticket_id=ticket.id,
        actor_id=reporter.id if reporter is not None else None,
        action="nudge",
        from_status=ticket.status,
        to_status=ticket.status,
        at=now,
    )
    session.add(event)
    await session.flush()
    return Change(ticket, event)


# --- scheduled checks --------------------------------------------------------------------------


async def auto_accept_due(
    session: AsyncSession, *, profile: SchoolProfile, now: datetime
) -> list[Change]:
    """Close tickets left in 待验收 for auto_accept_days with the default rating."""
    limit = now - timedelta(days=profile.repair.auto_accept_days)
    query = select(Ticket).where(
        Ticket.status == TicketStatus.AWAITING_ACCEPTANCE, col(Ticket.completed_at) <= limit
    )
    changes = []
    for ticket in (await session.exec(query.order_by(col(Ticket.id)))).all():
        change = await _transition(
            session,
            ticket,
            move=Move.AUTO_ACCEPT,
            actor=flow.SYSTEM,
            person=None,
            now=now,
            note=str(profile.repair.default_rating),
            values={
                "rating": profile.repair.default_rating,
                "closed_at": now,
                "auto_closed": True,
            },
        )
        if change.changed:
            changes.append(change)
    return changes


async def _claim_each(
    session: AsyncSession, candidates: Any, flag: Any, now: datetime
) -> list[Ticket]:
    """Set `flag` (a nullable timestamp column) to now on each candidate still without it.

    One conditional UPDATE per ticket, so two overlapping checks never claim the same one.
    """
    claimed = []
    for ticket_id in (await session.exec(candidates.order_by(col(Ticket.id)))).all():
        assert ticket_id is not None
        result = await session.exec(
            update(Ticket).where(col(Ticket.id) == ticket_id, flag.is_(None)).values({flag: now})
        )
        if result.rowcount == 1:
            claimed.append(await _load(session, ticket_id))
    return claimed


async def claim_overdue(session: AsyncSession, *, now: datetime) -> list[Ticket]:
    """Newly overdue tickets, each marked reported so it goes into one digest only."""
    overdue = or_(
        and_(col(Ticket.status) == TicketStatus.OPEN, col(Ticket.accept_by) < now),
        and_(col(Ticket.status).in_(UNFINISHED), col(Ticket.finish_by) < now),
    )
    flag = col(Ticket.overdue_reported_at)
    return await _claim_each(session, select(Ticket.id).where(overdue, flag.is_(None)), flag, now)


async def claim_urgent_alerts(
    session: AsyncSession, *, profile: SchoolProfile, now: datetime
) -> list[Ticket]:
    """Most-urgent tickets nobody took within their limit, each claimed for one alert."""
    flag = col(Ticket.urgent_alerted_at)
    candidates = select(Ticket.id).where(
        Ticket.status == TicketStatus.OPEN,
        Ticket.urgency_key == most_urgent_key(profile),
        col(Ticket.accept_by) < now,
        flag.is_(None),
    )
    return await _claim_each(session, candidates, flag, now)


async def set_card(
    session: AsyncSession, ticket_id: int, *, chat_id: int, message_id: int | None
) -> None:
    """Remember where the ticket's card is in the repair group."""
    await session.exec(
        update(Ticket)
        .where(col(Ticket.id) == ticket_id)
        .values(group_chat_id=chat_id, group_message_id=message_id)
    )


async def link_card(
    session: AsyncSession, ticket_id: int, *, chat_id: int, message_id: int
) -> bool:
    """Remember the card's message once it is delivered; False if the ticket already has one."""
    result = await session.exec(
        update(Ticket)
        .where(col(Ticket.id) == ticket_id, col(Ticket.group_message_id).is_(None))
        .values(group_chat_id=chat_id, group_message_id=message_id)
    )
    return bool(result.rowcount)


# --- appraisal ---------------------------------------------------------------------------------


async def month_stats(
    session: AsyncSession, month: Month, profile: SchoolProfile
) -> dict[int, TicketStats]:
    """Per-worker repair figures of a month, in four queries whatever the number of people."""
    start, end = month_bounds(month, profile)
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    ratings: dict[int, list[int]] = defaultdict(list)

    # Jobs held: taken or assigned this month (by the current holder).
    held = await session.exec(
        select(Ticket.assignee_id, Ticket.accepted_at, Ticket.accept_by).where(
            col(Ticket.assignee_id).is_not(None),
            col(Ticket.accepted_at) >= start,
            col(Ticket.accepted_at) < end,
        )
    )
    for assignee_id, accepted_at, accept_by in held.all():
        assert assignee_id is not None
        counts[assignee_id]["taken"] += 1
        if accept_by is None or (accepted_at is not None and accepted_at <= accept_by):
            counts[assignee_id]["accepted_on_time"] += 1

    # Finished: every 维修完成 this month, by who did it.
    done = await session.exec(
        select(TicketEvent.actor_id, TicketEvent.at, Ticket.finish_by)
        .join(Ticket, col(Ticket.id) == col(TicketEvent.ticket_id))
        .where(
            TicketEvent.action == "complete",
            col(TicketEvent.actor_id).is_not(None),
            col(TicketEvent.at) >= start,
            col(TicketEvent.at) < end,
        )
    )
    for actor_id, at, finish_by in done.all():
        assert actor_id is not None
        counts[actor_id]["finished"] += 1
        if finish_by is None or at <= finish_by:
            counts[actor_id]["finished_on_time"] += 1

    # Rework sent back this month, to the job's holder.
    sent_back = await session.exec(
        select(Ticket.assignee_id, func.count())
        .select_from(TicketEvent)
        .join(Ticket, col(Ticket.id) == col(TicketEvent.ticket_id))
        .where(
            TicketEvent.action == "rework",
            col(Ticket.assignee_id).is_not(None),
            col(TicketEvent.at) >= start,
            col(TicketEvent.at) < end,
        )
        .group_by(col(Ticket.assignee_id))
    )
    for assignee_id, count in sent_back.all():
        assert assignee_id is not None
        counts[assignee_id]["rework"] += int(count)

    # Ratings of jobs closed this month.
    rated = await session.exec(
        select(Ticket.assignee_id, Ticket.rating).where(
            Ticket.status == TicketStatus.CLOSED,
            col(Ticket.assignee_id).is_not(None),
            col(Ticket.rating).is_not(None),
            col(Ticket.closed_at) >= start,
            col(Ticket.closed_at) < end,
        )
    )
    for assignee_id, rating in rated.all():
        assert assignee_id is not None and rating is not None
        ratings[assignee_id].append(int(rating))
        counts[assignee_id]["rated"] += 1  # a rated worker appears even with no other figures

    return {
        person_id: TicketStats(
            finished=c["finished"],
            finished_on_time=c["finished_on_time"],
            accepted_on_time=c["accepted_on_time"],
            taken=c["taken"],
            rework=c["rework"],
            ratings=tuple(ratings.get(person_id, ())),
        )
        for person_id, c in counts.items()
    }
