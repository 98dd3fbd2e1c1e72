"""Meeting and reception services (会务与接待): the rules a request must meet, venue conflicts
and free slots, filing a (weekly) request once, and the guarded status moves with their
audit trail. Nothing here knows Telegram; the clock is passed in.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from school.booking_profile import BookingSettings, Venue
from school.calendar import CalendarSettings
from storage.booking_models import (
    ACTIVE_STATUSES,
    DONE_STATUSES,
    Booking,
    BookingEvent,
    BookingStatus,
)
from storage.models import Person, Role

MAX_TITLE = 100
MAX_CONTACT = 60
MAX_NOTE = 500
MAX_PEOPLE = 5000
MIN_SLOT = timedelta(minutes=30)


# --- the request and its rules --------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What a requester asks for (the first occurrence; `weeks` > 1 repeats it weekly)."""

    kind: str
    class_key: str
    title: str
    venue_key: str
    starts_at: datetime
    ends_at: datetime
    people: int
    contact: str
    escorts: int = 0
    meal_budget: int | None = None
    needs: tuple[str, ...] = ()
    note: str | None = None
    weeks: int = 1

    def occurrences(self) -> list[tuple[datetime, datetime]]:
        """(start, end) of every occurrence, weekly."""
        return [
            (self.starts_at + timedelta(weeks=i), self.ends_at + timedelta(weeks=i))
            for i in range(max(1, self.weeks))
        ]


@dataclass(frozen=True)
class Refusal:
    """Why a request is not allowed: a `reason` code and the values its explanation needs."""

    reason: str  # past, order, hours, lead_time, capacity, escorts, meal_cap, forbidden, …
    values: dict[str, Any] = field(default_factory=dict)


def earliest_day(calendar: CalendarSettings, today: date, lead_days: int) -> date:
    """The first day a request made today may be for: `lead_days` working days ahead."""
    day = today
    for _ in range(lead_days):
        day = calendar.next_working_day(day, include=False)
    return day


def check_rules(
    settings: BookingSettings,
    calendar: CalendarSettings,
    request: Request,
    *,
    now: datetime,
    tz: ZoneInfo,
) -> list[Refusal]:
    """Every rule of the profile the request breaks (empty: allowed, venue conflicts aside)."""
    found: list[Refusal] = []
    klass = settings.booking_class(request.class_key)
    venue = settings.venue(request.venue_key)
    start, end = request.starts_at.astimezone(tz), request.ends_at.astimezone(tz)
    if end <= start:
        found.append(Refusal("order"))
    if start <= now:
        found.append(Refusal("past"))
    if (
        start.time() < settings.day_start
        or end.time() > settings.day_end
        or end.date() != start.date()
    ):
        found.append(Refusal("hours", {"start": settings.day_start, "end": settings.day_end}))
    earliest = earliest_day(calendar, now.astimezone(tz).date(), klass.lead_days)
    if start.date() < earliest:
        found.append(
            Refusal("lead_time", {"days": klass.lead_days, "klass": klass.name, "day": earliest})
        )
    if request.people > venue.capacity:
        found.append(Refusal("capacity", {"venue": venue.name, "capacity": venue.capacity}))
    if request.weeks > settings.max_weeks:
        found.append(Refusal("weeks", {"max": settings.max_weeks}))
    if klass.kind == "reception":
        rules = settings.frugality
        guests = request.people - request.escorts
        allowed = rules.max_escorts(guests)
        if request.escorts > allowed:
            found.append(Refusal("escorts", {"guests": guests, "max": allowed}))
        if request.meal_budget is not None and request.meal_budget > rules.meal_cap_per_head:
            found.append(Refusal("meal_cap", {"cap": rules.meal_cap_per_head}))
        text = f"{request.title} {request.note or ''}"
        for word in rules.forbidden_words:
            if word in text:
                found.append(Refusal("forbidden", {"word": word}))
                break
    return found


# --- venues: conflicts, free slots, alternatives ---------------------------------------------


async def overlapping(
    session: AsyncSession, venue_key: str, start: datetime, end: datetime
) -> list[Booking]:
    """Active bookings of the venue overlapping [start, end)."""
    query = select(Booking).where(
        Booking.venue_key == venue_key,
        col(Booking.status).in_(ACTIVE_STATUSES),
        col(Booking.starts_at) < end,
        col(Booking.ends_at) > start,
    )
    return list((await session.exec(query.order_by(col(Booking.starts_at)))).all())


async def free_slots(
    session: AsyncSession, settings: BookingSettings, venue_key: str, day: date, tz: ZoneInfo
) -> list[tuple[time, time]]:
    """The venue's free periods of a day (at least half an hour), within the booking hours."""
    opens = datetime.combine(day, settings.day_start, tzinfo=tz)
    closes = datetime.combine(day, settings.day_end, tzinfo=tz)
    taken = await overlapping(session, venue_key, opens, closes)
    slots: list[tuple[time, time]] = []
    cursor = opens
    for booking in taken:
        start = booking.starts_at.astimezone(tz)
        if start - cursor >= MIN_SLOT:
            slots.append((cursor.time(), start.time()))
        cursor = max(cursor, booking.ends_at.astimezone(tz))
    if closes - cursor >= MIN_SLOT:
        slots.append((cursor.time(), closes.time()))
    return slots


async def free_venues(
    session: AsyncSession,
    settings: BookingSettings,
    venue: Venue,
    people: int,
    occurrences: Sequence[tuple[datetime, datetime]],
) -> list[Venue]:
    """Similar venues holding `people` that are free at every occurrence."""
    found = []
    for other in settings.similar_venues(venue, people):
        free = True
        for start, end in occurrences:
            if await overlapping(session, other.key, start, end):
                free = False
                break
        if free:
            found.append(other)
    return found


@dataclass(frozen=True)
class Conflict:
    """An occurrence whose venue is taken: the booking in the way."""

    starts_at: datetime
    ends_at: datetime
    taken_by: Booking


async def conflicts(session: AsyncSession, request: Request) -> list[Conflict]:
    """The occurrences of a request whose venue is booked already."""
    found = []
    for start, end in request.occurrences():
        taken = await overlapping(session, request.venue_key, start, end)
        if taken:
            found.append(Conflict(start, end, taken[0]))
    return found


# --- filing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requester:
    """Who asks: their Telegram id, name and person (if registered)."""

    telegram_id: int
    name: str
    person_id: int | None
    language: str | None = None


async def by_token(session: AsyncSession, token: str) -> list[Booking]:
    """The bookings a form submission filed (none: not filed yet)."""
    query = select(Booking).where(Booking.token == token).order_by(col(Booking.starts_at))
    return list((await session.exec(query)).all())


async def file_request(
    session: AsyncSession,
    settings: BookingSettings,
    request: Request,
    requester: Requester,
    *,
    token: str,
    now: datetime,
) -> tuple[list[Booking], bool]:
    """File every occurrence of a request (checked beforehand); (bookings, created). The same
    submission (`token`) files once: a second call returns what the first filed."""
    existing = await by_token(session, token)
    if existing:
        return existing, False
    klass = settings.booking_class(request.class_key)
    status = BookingStatus.PENDING if klass.approval else BookingStatus.ASSIGNED
    filed: list[Booking] = []
    for i, (start, end) in enumerate(request.occurrences()):
        booking = Booking(
            number=f"tmp-{token}-{i}",
            series=token,
            token=token,
            requester_id=requester.person_id,
            requester_telegram_id=requester.telegram_id,
            requester_name=requester.name,
            kind=request.kind,
            class_key=request.class_key,
            title=request.title[:MAX_TITLE],
            venue_key=request.venue_key,
            starts_at=start,
            ends_at=end,
            people=request.people,
            escorts=request.escorts,
            meal_budget=request.meal_budget,
            needs=list(request.needs),
            contact=request.contact[:MAX_CONTACT],
            note=(request.note or None) and request.note[:MAX_NOTE],
            status=status,
            posts=settings.posts_of(klass),
            created_at=now,
            assigned_at=now if status == BookingStatus.ASSIGNED else None,
        )
        session.add(booking)
        await session.flush()
        booking.number = f"{settings.number_prefix}-{booking.id:04d}"
        session.add(booking)
        session.add(
            BookingEvent(
                booking_id=booking.id or 0,
                actor_id=requester.person_id,
                action="request",
                to_status=status,
                at=now,
            )
        )
        filed.append(booking)
    await session.flush()
    return filed, True


# --- moves -------------------------------------------------------------------------------------


class BookingMove(enum.StrEnum):
    """What can happen to a booking."""

    APPROVE = "approve"  # the director approves: assigned to the responsible posts
    REJECT = "reject"  # the director refuses, with a reason
    TICK = "tick"  # a responsible staff member ticks (or unticks) a checklist step
    FINISH = "finish"  # it took place (a scheduled job, after its end)
    RATE = "rate"  # the requester confirms and rates
    CANCEL = "cancel"  # the requester (or the director) cancels it


# move → (statuses it may start from, status it leads to; None: decided by the move)
FLOW: dict[BookingMove, tuple[frozenset[BookingStatus], BookingStatus | None]] = {
    BookingMove.APPROVE: (frozenset({BookingStatus.PENDING}), BookingStatus.ASSIGNED),
    BookingMove.REJECT: (frozenset({BookingStatus.PENDING}), BookingStatus.REJECTED),
    BookingMove.TICK: (
        frozenset({*ACTIVE_STATUSES, *DONE_STATUSES} - {BookingStatus.PENDING}),
        None,
    ),
    BookingMove.FINISH: (
        frozenset({BookingStatus.ASSIGNED, BookingStatus.READY}),
        BookingStatus.FINISHED,
    ),
    BookingMove.RATE: (frozenset({BookingStatus.FINISHED}), BookingStatus.CLOSED),
    BookingMove.CANCEL: (frozenset(ACTIVE_STATUSES), BookingStatus.CANCELLED),
}


class NotAllowed(Exception):
    """The actor may not make this move on this booking."""


def may(move: BookingMove, booking: Booking, actor: Person | None) -> bool:
    """Whether `actor` (None: the system) may make the move on the booking."""
    if actor is None:
        return move == BookingMove.FINISH
    director = actor.role == Role.DIRECTOR and actor.active
    if move in (BookingMove.APPROVE, BookingMove.REJECT):
        return director
    if move == BookingMove.TICK:
        return director or (
            actor.role == Role.STAFF and actor.active and actor.post_key in booking.posts
        )
    if move == BookingMove.RATE:
        return actor.telegram_id == booking.requester_telegram_id
    if move == BookingMove.CANCEL:
        return director or actor.telegram_id == booking.requester_telegram_id
    return False


@dataclass(frozen=True)
class Change:
    """A move's outcome: the booking as it is now; `changed` False when it had moved on."""

    booking: Booking
    changed: bool
    before: BookingStatus | None = None


async def get(session: AsyncSession, booking_id: int) -> Booking | None:
    """A booking by id."""
    return await session.get(Booking, booking_id)


async def move(
    session: AsyncSession,
    booking_id: int,
    what: BookingMove,
    actor: Person | None,
    *,
    now: datetime,
    step: str | None = None,
    reason: str | None = None,
    rating: int | None = None,
    comment: str | None = None,
    steps: Sequence[str] = (),
    after: Sequence[str] = (),
) -> Change:
    """Make a move the table allows: NotAllowed for an actor it does not allow; a booking that
    moved on is left as it is (changed False). The UPDATE is guarded by the revision seen, and
    the event is recorded with it. `steps` is the booking's checklist (for a tick), `after`
    those of its steps done after the event (会后整理): it is ready without them, and they
    can be ticked once it has taken place."""
    booking = await get(session, booking_id)
    if booking is None:
        raise LookupError(booking_id)
    if not may(what, booking, actor):
        raise NotAllowed(what.value)
    starts, leads_to = FLOW[what]
    seen = BookingStatus(booking.status)
    if seen not in starts:
        return Change(booking, False, seen)
    values: dict[str, Any] = {}
    note = reason
    if what == BookingMove.TICK:
        assert step is not None
        done = [s for s in booking.done_steps if s != step]
        if step not in booking.done_steps:
            done.append(step)
        done = [s for s in steps if s in done]
        if seen in DONE_STATUSES:  # it took place: steps done after it (会后整理)
            leads_to = seen
        else:
            complete = all(s in done for s in steps if s not in after)
            leads_to = BookingStatus.READY if complete else BookingStatus.ASSIGNED
            values["ready_at"] = now if complete else None
        values["done_steps"] = done
        note = ("+" if step in done else "-") + step
    elif what == BookingMove.APPROVE:
        values["assigned_at"] = now
    elif what == BookingMove.REJECT:
        values["reason"] = (reason or "")[:500]
    elif what == BookingMove.FINISH:
        values["finished_at"] = now
    elif what == BookingMove.RATE:
        assert rating is not None and 1 <= rating <= 5
        values.update(rating=rating, rating_comment=comment, closed_at=now)
        note = f"{rating}★"
    assert leads_to is not None
    values["decided_by_id"] = (
        actor.id if what in (BookingMove.APPROVE, BookingMove.REJECT) and actor else None
    ) or booking.decided_by_id
    result = await session.exec(
        update(Booking)
        .where(col(Booking.id) == booking_id, col(Booking.revision) == booking.revision)
        .values(status=leads_to, revision=booking.revision + 1, **values)
    )
    await session.refresh(booking)
    if result.rowcount != 1:
        return Change(booking, False, seen)
    session.add(
        BookingEvent(
            booking_id=booking_id,
            actor_id=actor.id if actor else None,
            action=what.value,
            from_status=seen,
            to_status=leads_to,
            note=note,
            at=now,
        )
    )
    await session.flush()
    return Change(booking, True, seen)


async def set_photo(session: AsyncSession, booking_id: int, file_id: str, actor: Person) -> bool:
    """Keep the photo of the set-up room (the latest wins)."""
    result = await session.exec(
        update(Booking).where(col(Booking.id) == booking_id).values(photo_file_id=file_id)
    )
    return bool(result.rowcount)


async def add_comment(session: AsyncSession, booking_id: int, requester: int, text: str) -> bool:
    """The requester's comment on a rated booking; False when it has one already."""
    result = await session.exec(
        update(Booking)
        .where(
            col(Booking.id) == booking_id,
            col(Booking.requester_telegram_id) == requester,
            col(Booking.status) == BookingStatus.CLOSED,
            col(Booking.rating_comment).is_(None),
        )
        .values(rating_comment=text[:1000])
    )
    return bool(result.rowcount)


async def stamp(session: AsyncSession, booking_id: int, column: str, now: datetime) -> bool:
    """Set `reminded_at` or `escalated_at` once; False when it was set already (told once)."""
    assert column in ("reminded_at", "escalated_at")
    result = await session.exec(
        update(Booking)
        .where(col(Booking.id) == booking_id, col(getattr(Booking, column)).is_(None))
        .values({column: now})
    )
    return bool(result.rowcount)


# --- lists -------------------------------------------------------------------------------------


async def series(session: AsyncSession, series_key: str) -> list[Booking]:
    """Every occurrence of a series, in time order."""
    query = select(Booking).where(Booking.series == series_key).order_by(col(Booking.starts_at))
    return list((await session.exec(query)).all())


async def waiting_for_approval(session: AsyncSession) -> list[Booking]:
    """Requests the director has still to decide (待审批): one per request, as the director is
    asked once for a weekly series (its first occurrence), by start."""
    query = select(Booking).where(Booking.status == BookingStatus.PENDING)
    firsts: dict[str, Booking] = {}
    for booking in (await session.exec(query.order_by(col(Booking.starts_at)))).all():
        firsts.setdefault(booking.series, booking)
    return list(firsts.values())


async def between(
    session: AsyncSession, start: datetime, end: datetime, *, statuses: Sequence[str] = ()
) -> list[Booking]:
    """Bookings starting in [start, end), by start (optionally of some statuses)."""
    query = select(Booking).where(col(Booking.starts_at) >= start, col(Booking.starts_at) < end)
    if statuses:
        query = query.where(col(Booking.status).in_(statuses))
    return list((await session.exec(query.order_by(col(Booking.starts_at)))).all())


MAX_REMINDER_SHIFT = timedelta(days=14)  # a reminder moves back over at most this many days off


def remind_at(
    settings: BookingSettings, calendar: CalendarSettings, starts_at: datetime, tz: ZoneInfo
) -> datetime:
    """When the staff are reminded of a booking: `remind_before` its start, moved back to the
    last working day before when that falls on a weekend or holiday (nobody is nagged on a
    day off; the work is prepared the working day before)."""
    moment = (starts_at - settings.remind_delta()).astimezone(tz)
    earliest = moment - MAX_REMINDER_SHIFT
    while not calendar.is_working_day(moment.date()) and moment > earliest:
        moment -= timedelta(days=1)
    return moment


async def unfinished_before(
    session: AsyncSession, horizon: datetime, column: str, now: datetime
) -> list[Booking]:
    """Assigned bookings starting by `horizon` (and not over) whose checklist is open and whose
    `column` (reminded_at / escalated_at) is not set yet."""
    query = select(Booking).where(
        col(Booking.status) == BookingStatus.ASSIGNED,
        col(Booking.starts_at) <= horizon,
        col(Booking.ends_at) > now,
        col(getattr(Booking, column)).is_(None),
    )
    return list((await session.exec(query.order_by(col(Booking.starts_at)))).all())


async def over(session: AsyncSession, now: datetime) -> list[Booking]:
    """Assigned or ready bookings that have ended (to be finished and rated)."""
    query = select(Booking).where(
        col(Booking.status).in_((BookingStatus.ASSIGNED, BookingStatus.READY)),
        col(Booking.ends_at) <= now,
    )
    return list((await session.exec(query.order_by(col(Booking.ends_at)))).all())


async def workers(session: AsyncSession, booking_id: int) -> list[int]:
    """The people who ticked at least one step of a booking (its work is theirs)."""
    query = select(BookingEvent.actor_id).where(
        BookingEvent.booking_id == booking_id,
        BookingEvent.action == BookingMove.TICK.value,
        col(BookingEvent.actor_id).is_not(None),
    )
    return sorted({a for a in (await session.exec(query)).all() if a is not None})


async def staff_of_posts(session: AsyncSession, posts: Sequence[str]) -> list[Person]:
    """Active staff holding one of the posts."""
    query = select(Person).where(
        Person.role == Role.STAFF, col(Person.active).is_(True), col(Person.post_key).in_(posts)
    )
    return list((await session.exec(query.order_by(col(Person.id)))).all())


async def month_ratings(
    session: AsyncSession, start: datetime, end: datetime
) -> dict[int, list[int]]:
    """Ratings of bookings closed in [start, end), by each person who worked on them."""
    query = (
        select(Booking, BookingEvent)
        .join(BookingEvent, col(BookingEvent.booking_id) == col(Booking.id))
        .where(
            col(Booking.status) == BookingStatus.CLOSED,
            col(Booking.closed_at) >= start,
            col(Booking.closed_at) < end,
            BookingEvent.action == BookingMove.TICK.value,
            col(BookingEvent.actor_id).is_not(None),
        )
        .order_by(col(Booking.id))
    )
    found: dict[int, list[int]] = {}
    seen: set[tuple[int, int]] = set()
    for booking, event in (await session.exec(query)).all():
        actor = event.actor_id
        if booking.rating is None or actor is None or (event.booking_id, actor) in seen:
            continue
        seen.add((event.booking_id, actor))
        found.setdefault(actor, []).append(booking.rating)
    return found


async def worked_on(
    session: AsyncSession, person_id: int, start: datetime, end: datetime
) -> list[tuple[datetime, Booking]]:
    """Bookings the person ticked steps of in [start, end), with their last tick then."""
    query = (
        select(BookingEvent, Booking)
        .join(Booking, col(Booking.id) == col(BookingEvent.booking_id))
        .where(
            BookingEvent.actor_id == person_id,
            BookingEvent.action == BookingMove.TICK.value,
            col(BookingEvent.at) >= start,
            col(BookingEvent.at) < end,
        )
        .order_by(col(BookingEvent.at))
    )
    last: dict[int, tuple[datetime, Booking]] = {}
    for event, booking in (await session.exec(query)).all():
        last[booking.id or 0] = (event.at, booking)
    return sorted(last.values(), key=lambda pair: pair[0])
