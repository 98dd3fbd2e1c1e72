"""Repair tickets (报修单): numbering, filing, reading, followers, deadlines and statistics.

The status machine is a table (storage.ticket_flow); the moves it guards are in
storage.ticket_moves. Nothing here knows Telegram; time comes in as `now`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import func, or_, update
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
from storage.place_history import place_key
from storage.rows import add_if_new
from storage.stats import Month, TicketStats, accepted_in_time, job_counts
from storage.ticket_flow import Move

# The status machine lives in storage.ticket_flow; these names are kept for the callers.
HELD = flow.HELD
UNFINISHED = flow.UNFINISHED
ACTIVE = flow.ACTIVE
FINAL = flow.FINAL
can_handle = flow.can_handle

NUMBER_ATTEMPTS = 8


# --- rules -------------------------------------------------------------------------------------


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    """已超时: not taken by accept_by, or not finished by finish_by."""
    return overdue_at(TicketStatus(ticket.status), ticket.accept_by, ticket.finish_by, now)


def overdue_at(
    status: TicketStatus, accept_by: datetime | None, finish_by: datetime | None, now: datetime
) -> bool:
    """已超时 for a ticket's status and limits (see is_overdue)."""
    if status == TicketStatus.OPEN and accept_by is not None and now > accept_by:
        return True
    return status in UNFINISHED and finish_by is not None and now > finish_by


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


@dataclass(frozen=True)
class Report:
    """What a report says: the fault, where, how urgent, its photos and voice description."""

    category: str
    place: str
    description: str
    urgency: str
    building: str | None = None
    floor: str | None = None
    room: str | None = None
    photos: Sequence[str] = ()
    voice: Voice | None = None


@dataclass(frozen=True)
class Reporter:
    """Who reports: a registered person, or someone in a group known by Telegram id and name."""

    telegram_id: int
    name: str
    person: Person | None = None

    @classmethod
    def of(cls, person: Person) -> Reporter:
        """A registered person as the reporter."""
        return cls(telegram_id=person.telegram_id, name=person.name, person=person)


@dataclass(frozen=True)
class Voice:
    """A voice message kept with a ticket: Telegram's file id and its length in seconds."""

    file_id: str
    duration: int = 0  # seconds

    @property
    def length(self) -> str:
        """Its length as a player shows it: 0:12, 1:05."""
        return f"{self.duration // 60}:{self.duration % 60:02d}"


async def create_ticket(
    session: AsyncSession,
    report: Report,
    reporter: Reporter,
    *,
    profile: SchoolProfile,
    now: datetime,
    source: str = "report",
) -> Ticket:
    """File a ticket: number it (BX-2611-007), set its deadlines, record the report and photos.

    Flushes, so `ticket.id` is set; the caller's transaction commits it.
    """
    profile.category(report.category)  # KeyError on an unknown key: a bug in the caller
    accept_by, finish_by = profile.deadlines(now, report.urgency)
    person = reporter.person
    ticket: Ticket | None = None
    for _attempt in range(NUMBER_ATTEMPTS):
        candidate = Ticket(
            number=await _next_number(session, profile, now),
            reporter_id=person.id if person is not None else None,
            reporter_telegram_id=reporter.telegram_id,
            reporter_name=reporter.name[:64],
            category_key=report.category,
            building_key=report.building,
            floor=report.floor,
            room=report.room,
            place=report.place[:200],
            place_key=place_key(report.building, report.floor, report.room, report.place),
            description=report.description,
            urgency_key=report.urgency,
            status=TicketStatus.OPEN,
            source=source,
            created_at=now,
            accept_by=accept_by,
            finish_by=finish_by,
        )
        if await add_if_new(session, candidate):
            ticket = candidate
            break
        # someone took the number at the same moment: number it again
    if ticket is None:
        raise RuntimeError("could not number the ticket")
    assert ticket.id is not None
    for file_id in report.photos:
        session.add(TicketPhoto(ticket_id=ticket.id, file_id=file_id, kind="report", added_at=now))
    if report.voice is not None:
        keep_voice(session, ticket.id, report.voice, kind=VOICE, now=now)
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            actor_id=person.id if person is not None else None,
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


PICTURES = ("report", "completion")  # the kinds that are photos (not voice messages)


async def pictures_of(session: AsyncSession, ticket_id: int) -> list[str]:
    """File ids of a ticket's photos (the report's, then the completion's, as added; no
    voice messages), in the order added."""
    query = select(TicketPhoto.file_id).where(
        TicketPhoto.ticket_id == ticket_id, col(TicketPhoto.kind).in_(PICTURES)
    )
    return list((await session.exec(query.order_by(col(TicketPhoto.id)))).all())


VOICE = "voice"  # a report's voice description
COMPLETION_VOICE = "completion_voice"  # the worker's voice note on 维修完成


def keep_voice(
    session: AsyncSession, ticket_id: int, voice: Voice, *, kind: str, now: datetime
) -> None:
    """Keep a voice message with a ticket (in the caller's transaction)."""
    session.add(
        TicketPhoto(
            ticket_id=ticket_id,
            file_id=voice.file_id,
            kind=kind,
            duration=voice.duration,
            added_at=now,
        )
    )


@dataclass(frozen=True)
class TicketMedia:
    """What a ticket's card shows of its media: the report's photos, its voice notes."""

    photos: list[str]  # file ids of the report's photos, in the order added
    voice: Voice | None  # the latest voice description
    done_voice: Voice | None  # the latest voice note on 维修完成


async def media_of(session: AsyncSession, ticket_id: int) -> TicketMedia:
    """A ticket's report photos (in the order added) and latest voice notes, in one query."""
    query = select(TicketPhoto).where(TicketPhoto.ticket_id == ticket_id)
    rows = (await session.exec(query.order_by(col(TicketPhoto.id)))).all()
    latest = {row.kind: Voice(row.file_id, row.duration or 0) for row in rows}
    return TicketMedia(
        photos=[row.file_id for row in rows if row.kind == "report"],
        voice=latest.get(VOICE),
        done_voice=latest.get(COMPLETION_VOICE),
    )


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
    session: AsyncSession, report: Report, *, any_category: bool = False
) -> list[Ticket]:
    """Unfinished tickets of the same category (or of any, with `any_category`) at the same
    place (same room, or same text)."""
    joinable = flow.FLOW[Move.FOLLOW].from_states  # the open tickets one may join
    query = select(Ticket).where(col(Ticket.status).in_(joinable))
    if not any_category:
        query = query.where(Ticket.category_key == report.category)
    candidates = (await session.exec(query.order_by(col(Ticket.id)))).all()
    wanted = _norm_place(report.place)
    found = []
    for ticket in candidates:
        if report.building is not None and ticket.building_key == report.building:
            same = (ticket.floor, ticket.room) == (report.floor, report.room)
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
    follower = TicketFollower(
        ticket_id=ticket_id,
        telegram_id=telegram_id,
        person_id=person.id if person is not None else None,
        name=name[:64],
        joined_at=now,
    )
    if not await add_if_new(session, follower):
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
        if accepted_at is not None and accepted_in_time(accepted_at, accept_by):
            counts[assignee_id]["accepted_on_time"] += 1

    # Jobs finished this month, by who did it: a job sent back (返修) and finished again is one
    # job (a 返修 or a 延期 with a reason sets a new finish_by).
    done = await session.exec(
        select(TicketEvent.actor_id, TicketEvent.ticket_id, TicketEvent.at, Ticket.finish_by)
        .join(Ticket, col(Ticket.id) == col(TicketEvent.ticket_id))
        .where(
            TicketEvent.action == "complete",
            col(TicketEvent.actor_id).is_not(None),
            col(TicketEvent.at) >= start,
            col(TicketEvent.at) < end,
        )
    )
    completions: dict[int, list[tuple[int, datetime, datetime | None]]] = defaultdict(list)
    for actor_id, ticket_id, at, finish_by in done.all():
        assert actor_id is not None
        completions[actor_id].append((ticket_id, at, finish_by))
    for actor_id, theirs in completions.items():
        counts[actor_id]["jobs"], counts[actor_id]["jobs_on_time"] = job_counts(theirs)

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
            jobs=c["jobs"],
            jobs_on_time=c["jobs_on_time"],
            accepted_on_time=c["accepted_on_time"],
            taken=c["taken"],
            rework=c["rework"],
            ratings=tuple(ratings.get(person_id, ())),
        )
        for person_id, c in counts.items()
    }
