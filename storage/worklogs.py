"""Work logs (工作日志) and leave: the rules that live with the data.

A staff member files one log per day. It is on time until the day's cutoff (school time,
``profile.worklog.cutoff_time``, the whole cutoff minute included) and can be edited until
then; after the cutoff a day without a log may still be filed for ``late_days`` calendar days,
marked late (补交), and a filed log can no longer be changed. Nothing here knows Telegram;
time comes in as arguments.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import exists
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    InspectionAssignment,
    InspectionMark,
    InspectionRound,
    Leave,
    Person,
    Role,
    Ticket,
    WorkLog,
)
from storage.rows import add_if_new, saved
from storage.stats import LogStats, Month

if TYPE_CHECKING:
    from school.profile import SchoolProfile

MAX_ITEMS = 100
MAX_LOG_CHARS = 10_000
MAX_PHOTOS = 10
MAX_HOURS = 24.0
MAX_LEAVE_DAYS = 366
MAX_ROW_ID = 2**31 - 1  # ids are 32-bit integers (PostgreSQL's INTEGER)


# --- days and deadlines ----------------------------------------------------------------------


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    """The school-calendar day of an aware moment."""
    return moment.astimezone(tz).date()


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a school-local day as aware datetimes."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def deadline(profile: SchoolProfile, day: date) -> datetime:
    """The end of a day's on-time window: the cutoff minute, included, in school time."""
    cutoff = profile.worklog.cutoff_time
    return datetime.combine(day, cutoff, tzinfo=profile.tz) + timedelta(minutes=1)


class Access(StrEnum):
    """What a person may do with the log of a day, now."""

    NEW = "new"  # no log yet, on time
    EDIT = "edit"  # a log exists and the day's cutoff has not passed
    LATE = "late"  # no log yet, the cutoff passed, still within late_days: 补交
    CLOSED = "closed"  # a log exists and the cutoff passed: read only
    TOO_OLD = "too_old"  # no log and the late window is over
    FUTURE = "future"  # a day that has not come yet

    @property
    def writable(self) -> bool:
        """True when a form may be opened and saved."""
        return self in (Access.NEW, Access.EDIT, Access.LATE)


def access(profile: SchoolProfile, day: date, *, exists: bool, now: datetime) -> Access:
    """The rule for filing or editing the log of ``day`` at ``now``."""
    today = local_day(now, profile.tz)
    if day > today:
        return Access.FUTURE
    on_time = now < deadline(profile, day)
    if exists:
        return Access.EDIT if on_time else Access.CLOSED
    if on_time:
        return Access.NEW
    if (today - day).days <= profile.worklog.late_days:
        return Access.LATE
    return Access.TOO_OLD


# --- logs ------------------------------------------------------------------------------------


async def get_log(session: AsyncSession, person_id: int, day: date) -> WorkLog | None:
    """A person's log of a day."""
    query = select(WorkLog).where(WorkLog.person_id == person_id, WorkLog.day == day)
    return (await session.exec(query)).first()


@dataclass(eq=False)
class SaveProblem(Exception):
    """A log cannot be saved: `reason` is an `Access` value (closed, too old, future), or
    'empty', 'too_long', 'too_many_photos', 'hours'; `log` is the day's log if there is one."""

    reason: str
    log: WorkLog | None = None

    def __post_init__(self) -> None:
        super().__init__(self.reason)


@dataclass(frozen=True)
class Saved:
    """The outcome of saving a log."""

    log: WorkLog
    created: bool


# A log item: a line the person wrote, or a fact the bot knows of their day (a repair job
# finished, an inspection round walked), kept as data and worded in each reader's language.
LogItem = str | dict[str, str]
# What a fact counts for against the log's length limit.
FACT_LENGTH = 60


def item_length(item: LogItem) -> int:
    """An item's length against the log's limit."""
    return len(item) if isinstance(item, str) else FACT_LENGTH


def clean_items(items: Iterable[LogItem]) -> list[LogItem]:
    """Strip written items and drop empty ones; facts stay as they are."""
    cleaned: list[LogItem] = []
    for item in items:
        if isinstance(item, dict):
            cleaned.append(item)
        elif item and item.strip():
            cleaned.append(item.strip())
    return cleaned


async def save_log(
    session: AsyncSession,
    *,
    person_id: int,
    day: date,
    items: Sequence[LogItem],
    photos: Sequence[str],
    hours: float | None,
    profile: SchoolProfile,
    now: datetime,
) -> Saved:
    """File or edit a day's log, re-checking the rules at ``now``; raises SaveProblem.

    A second filing of the same day edits the existing log (never a duplicate): the unique
    (person, day) constraint settles a race between two saves.
    """
    cleaned = clean_items(items)
    if not cleaned:
        raise SaveProblem("empty")
    if len(cleaned) > MAX_ITEMS or sum(item_length(i) for i in cleaned) > MAX_LOG_CHARS:
        raise SaveProblem("too_long")
    if len(photos) > MAX_PHOTOS:
        raise SaveProblem("too_many_photos")
    if hours is not None and not 0 < hours <= MAX_HOURS:
        raise SaveProblem("hours")
    existing = await get_log(session, person_id, day)
    rule = access(profile, day, exists=existing is not None, now=now)
    if not rule.writable:
        raise SaveProblem(rule.value, existing)
    if existing is None:
        log = WorkLog(
            person_id=person_id,
            day=day,
            items=cleaned,
            photos=list(photos),
            hours=hours,
            late=rule == Access.LATE,
            filed_at=now,
            updated_at=now,
        )
        if not await add_if_new(session, log):  # filed at the same moment elsewhere
            existing = await get_log(session, person_id, day)
            if existing is None:  # pragma: no cover - the constraint said it exists
                raise LookupError("the log the constraint refused for is gone")
            return await save_log(
                session,
                person_id=person_id,
                day=day,
                items=cleaned,
                photos=photos,
                hours=hours,
                profile=profile,
                now=now,
            )
        return Saved(log=log, created=True)
    existing.items = cleaned
    existing.photos = list(photos)
    existing.hours = hours
    existing.updated_at = now
    session.add(existing)
    await session.flush()
    return Saved(log=existing, created=False)


async def recent_logs(session: AsyncSession, person_id: int, *, limit: int = 10) -> list[WorkLog]:
    """A person's latest logs, newest first."""
    query = (
        select(WorkLog)
        .where(WorkLog.person_id == person_id)
        .order_by(col(WorkLog.day).desc())
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def logs_between(
    session: AsyncSession, start: date, end: date, *, person_ids: Iterable[int] | None = None
) -> list[WorkLog]:
    """Logs of days start..end inclusive, by day then person."""
    query = select(WorkLog).where(col(WorkLog.day) >= start, col(WorkLog.day) <= end)
    if person_ids is not None:
        query = query.where(col(WorkLog.person_id).in_(list(person_ids)))
    query = query.order_by(col(WorkLog.day), col(WorkLog.person_id))
    return list((await session.exec(query)).all())


async def logs_filed_between(
    session: AsyncSession, start: datetime, end: datetime
) -> list[WorkLog]:
    """Logs first filed in [start, end)."""
    query = (
        select(WorkLog)
        .where(col(WorkLog.filed_at) >= start, col(WorkLog.filed_at) < end)
        .order_by(col(WorkLog.filed_at))
    )
    return list((await session.exec(query)).all())


# --- staff and names -------------------------------------------------------------------------


async def active_staff(session: AsyncSession) -> list[Person]:
    """Active people with the staff role, by name."""
    query = select(Person).where(Person.role == Role.STAFF, col(Person.active).is_(True))
    return sorted((await session.exec(query)).all(), key=lambda p: (p.name, p.id or 0))


async def find_staff(session: AsyncSession, name: str) -> list[Person]:
    """Staff matching a name: the exact match, else those whose name starts with it.

    One result is a match; several are the candidates to list; none is no match.
    Active staff come first; inactive staff are found only when no active one matches.
    """
    wanted = name.strip()
    if not wanted:
        return []
    query = select(Person).where(Person.role == Role.STAFF)
    everyone = sorted(
        (await session.exec(query)).all(), key=lambda p: (not p.active, p.name, p.id or 0)
    )
    for pool in ([p for p in everyone if p.active], everyone):
        exact = [p for p in pool if p.name == wanted]
        if exact:
            return exact
        prefixed = [p for p in pool if p.name.startswith(wanted)]
        if prefixed:
            return prefixed
    return []


# --- leave -----------------------------------------------------------------------------------


async def record_leave(
    session: AsyncSession,
    *,
    person_id: int,
    start: date,
    end: date,
    reason: str | None,
    recorded_by_id: int | None,
    now: datetime,
) -> Leave:
    """Record days of leave (inclusive); ValueError when the range is backwards or too long."""
    if end < start:
        raise ValueError("end before start")
    if (end - start).days + 1 > MAX_LEAVE_DAYS:
        raise ValueError("too long")
    leave = Leave(
        person_id=person_id,
        start=start,
        end=end,
        reason=reason[:200] if reason else None,
        recorded_by_id=recorded_by_id,
        created_at=now,
    )
    return await saved(session, leave)


async def leaves_overlapping(
    session: AsyncSession, start: date, end: date, *, person_ids: Iterable[int] | None = None
) -> list[Leave]:
    """Leave records touching start..end."""
    query = select(Leave).where(col(Leave.start) <= end, col(Leave.end) >= start)
    if person_ids is not None:
        query = query.where(col(Leave.person_id).in_(list(person_ids)))
    return list((await session.exec(query.order_by(col(Leave.start), col(Leave.id)))).all())


async def on_leave(session: AsyncSession, day: date) -> set[int]:
    """Ids of people on leave that day."""
    return {leave.person_id for leave in await leaves_overlapping(session, day, day)}


def is_row_id(value: int) -> bool:
    """Whether a number can be a row's id (a forged button may carry any number; PostgreSQL's
    ids are 32-bit, so a larger one must not reach a query)."""
    return 0 < value <= MAX_ROW_ID


async def delete_leave(session: AsyncSession, leave_id: int) -> Leave | None:
    """Remove a leave record; None when it was already gone (or never existed)."""
    if not is_row_id(leave_id):
        return None
    leave = await session.get(Leave, leave_id)
    if leave is not None:
        await session.delete(leave)
        await session.flush()
    return leave


def leave_days(leaves: Iterable[Leave]) -> dict[int, set[date]]:
    """Person id → every day covered by their leave records."""
    days: dict[int, set[date]] = defaultdict(set)
    for leave in leaves:
        d = leave.start
        while d <= leave.end:
            days[leave.person_id].add(d)
            d += timedelta(days=1)
    return days


# --- the day's picture -----------------------------------------------------------------------


@dataclass(frozen=True)
class DayStatus:
    """Who stands where for one day's logs (staff only)."""

    day: date
    working: bool
    filed: list[tuple[Person, WorkLog]]
    missing: list[Person]
    on_leave: list[Person]


async def day_status(session: AsyncSession, day: date, profile: SchoolProfile) -> DayStatus:
    """The staff's logs of a day: filed, missing and on leave (three queries)."""
    staff = await active_staff(session)
    ids = [p.id for p in staff if p.id is not None]
    logs = {log.person_id: log for log in await logs_between(session, day, day, person_ids=ids)}
    away = await on_leave(session, day)
    filed, missing, leave = [], [], []
    for person in staff:
        log = logs.get(person.id or 0)
        if log is not None:
            filed.append((person, log))
        elif person.id in away:
            leave.append(person)
        else:
            missing.append(person)
    return DayStatus(
        day=day,
        working=profile.calendar.is_working_day(day),
        filed=filed,
        missing=missing,
        on_leave=leave,
    )


async def people_to_remind(
    session: AsyncSession, day: date, profile: SchoolProfile
) -> list[Person]:
    """Staff without a log of ``day`` who are not on leave; nobody on a non-working day."""
    if not profile.calendar.is_working_day(day):
        return []
    return (await day_status(session, day, profile)).missing


# --- the pre-filled draft ----------------------------------------------------------------------


@dataclass(frozen=True)
class FinishedJob:
    """A repair job the person finished that day."""

    number: str
    place: str
    category_key: str
    result: str | None


@dataclass(frozen=True)
class FinishedRound:
    """An inspection round the person finished that day."""

    plan_key: str


@dataclass(frozen=True)
class ServedBooking:
    """A meeting or reception the person prepared that day (ticked checklist steps of)."""

    number: str
    title: str
    venue_key: str


Fact = FinishedJob | FinishedRound | ServedBooking


def fact_item(fact: Fact) -> dict[str, str]:
    """A fact as a log item (data; `notices.worklogs.item_text` words it for a reader)."""
    if isinstance(fact, ServedBooking):
        return {"service": fact.number, "title": fact.title, "venue": fact.venue_key}
    if isinstance(fact, FinishedJob):
        return {
            "repair": fact.number,
            "place": fact.place,
            "category": fact.category_key,
            "result": fact.result or "",
        }
    return {"inspection": fact.plan_key}


async def day_activity(
    session: AsyncSession, person_id: int, day: date, tz: ZoneInfo
) -> list[Fact]:
    """What the bot knows the person did on a day: jobs completed, inspection rounds finished,
    meetings and receptions prepared.

    Reads the ticket and inspection tables directly, in the order things happened.
    """
    start, end = day_bounds(day, tz)
    tickets = await session.exec(
        select(Ticket)
        .where(
            Ticket.assignee_id == person_id,
            col(Ticket.completed_at) >= start,
            col(Ticket.completed_at) < end,
        )
        .order_by(col(Ticket.completed_at))
    )
    found: list[tuple[datetime, Fact]] = []
    for ticket in tickets.all():
        assert ticket.completed_at is not None
        found.append(
            (
                ticket.completed_at,
                FinishedJob(ticket.number, ticket.place, ticket.category_key, ticket.result),
            )
        )
    rounds = await session.exec(
        select(InspectionAssignment, InspectionRound)
        .join(InspectionRound, col(InspectionRound.id) == col(InspectionAssignment.round_id))
        .where(
            InspectionAssignment.person_id == person_id,
            col(InspectionAssignment.finished_at) >= start,
            col(InspectionAssignment.finished_at) < end,
            # a round someone else walked is not in this person's log
            exists().where(
                col(InspectionMark.round_id) == col(InspectionAssignment.round_id),
                col(InspectionMark.marked_by_id) == person_id,
            ),
        )
        .order_by(col(InspectionAssignment.finished_at))
    )
    for assignment, inspection_round in rounds.all():
        assert assignment.finished_at is not None
        found.append((assignment.finished_at, FinishedRound(inspection_round.plan_key)))
    from storage import bookings

    for at, booking in await bookings.worked_on(session, person_id, start, end):
        found.append((at, ServedBooking(booking.number, booking.title, booking.venue_key)))
    found.sort(key=lambda pair: pair[0])
    return [fact for _, fact in found]


# --- the appraisal's figures -----------------------------------------------------------------


async def month_stats(
    session: AsyncSession, month: Month, profile: SchoolProfile, *, today: date
) -> dict[int, LogStats]:
    """Per active staff member: expected working days, logs on time, late, missing, leave.

    Expected days are the calendar's working days of the month up to ``today`` (inclusive)
    and from the day the person registered, minus their leave days. Logs of days that were
    not expected (weekends, leave) are not counted. Someone with no expected day and no log
    is left out (the component does not apply to them). Three queries in all.
    """
    first = month.first_day
    last = min(month.last_day, today)
    staff = await active_staff(session)
    if last < first or not staff:
        return {}
    ids = [p.id for p in staff if p.id is not None]
    working = profile.calendar.working_days(first, last)
    away = leave_days(await leaves_overlapping(session, first, last, person_ids=ids))
    # Only who, which day and whether late: a month of a large school is tens of thousands
    # of logs, and their items are not needed here.
    filed_days = await session.exec(
        select(col(WorkLog.person_id), col(WorkLog.day), col(WorkLog.late)).where(
            col(WorkLog.day) >= first,
            col(WorkLog.day) <= last,
            col(WorkLog.person_id).in_(ids),
        )
    )
    logs: dict[int, dict[date, bool]] = defaultdict(dict)
    for person_id, day, was_late in filed_days:
        logs[person_id][day] = was_late
    stats: dict[int, LogStats] = {}
    for person in staff:
        assert person.id is not None
        joined = local_day(person.created_at, profile.tz)
        days = [d for d in working if d >= joined]
        leave = [d for d in days if d in away.get(person.id, set())]
        expected = [d for d in days if d not in away.get(person.id, set())]
        mine = logs.get(person.id, {})
        filed = [mine[d] for d in expected if d in mine]
        if not expected and not mine:
            continue
        late = sum(1 for was_late in filed if was_late)
        stats[person.id] = LogStats(
            expected_days=len(expected),
            on_time=len(filed) - late,
            late=late,
            missing=len(expected) - len(filed),
            leave_days=len(leave),
        )
    return stats


# --- the ledger ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerEntry:
    """One row of the work-log ledger: a log filed, or an expected working day without one."""

    day: date
    person: Person
    log: WorkLog | None
    on_leave: bool = False


async def ledger_entries(
    session: AsyncSession, start: date, end: date, profile: SchoolProfile, *, now: datetime
) -> list[LedgerEntry]:
    """Every log filed in start..end, and for each active staff member every working day
    (from the day they registered, whose on-time window has closed) without one: on leave or
    missing. By day, then name."""
    logs = await logs_between(session, start, end)
    staff = await active_staff(session)
    ids = {log.person_id for log in logs} | {p.id for p in staff if p.id is not None}
    found = await session.exec(select(Person).where(col(Person.id).in_(sorted(ids))))
    people = {p.id: p for p in found.all() if p.id is not None}
    entries = [LedgerEntry(log.day, people[log.person_id], log) for log in logs]
    filed = {(log.person_id, log.day) for log in logs}
    closed = [d for d in profile.calendar.working_days(start, end) if deadline(profile, d) <= now]
    staff_ids = [p.id for p in staff if p.id is not None]
    away = leave_days(await leaves_overlapping(session, start, end, person_ids=staff_ids))
    for person in staff:
        assert person.id is not None
        joined = local_day(person.created_at, profile.tz)
        for day in closed:
            if day >= joined and (person.id, day) not in filed:
                leave = day in away.get(person.id, set())
                entries.append(LedgerEntry(day, person, None, on_leave=leave))
    return sorted(entries, key=lambda e: (e.day, e.person.name, e.person.id or 0))


# --- dates typed by people -------------------------------------------------------------------

_RELATIVE_DAYS = {
    "today": 0,
    "今天": 0,
    "今日": 0,
    "yesterday": 1,
    "昨天": 1,
    "昨日": 1,
    "前天": 2,
}


def parse_day(text: str, today: date) -> date | None:
    """'2026-11-20', '2026/11/20', '20261120', '11-20' or '11/20' (this year), '昨天'.

    None when the text is not a date.
    """
    value = text.strip().lower()
    if value in _RELATIVE_DAYS:
        return today - timedelta(days=_RELATIVE_DAYS[value])
    value = value.replace("/", "-").replace(".", "-")
    try:
        if len(value) == 8 and value.isdigit():
            return date(int(value[:4]), int(value[4:6]), int(value[6:]))
        parts = [int(p) for p in value.split("-")]
    except ValueError:
        return None
    try:
        if len(parts) == 3 and parts[0] >= 1000:
            return date(parts[0], parts[1], parts[2])
        if len(parts) == 2:
            return date(today.year, parts[0], parts[1])
    except ValueError:
        return None
    return None
