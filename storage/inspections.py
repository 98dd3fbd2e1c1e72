"""Inspection rounds (每周小查, 每月联查): opening, marks, completion, summaries and statistics.

A round is one opening of a profile plan for one scheduled occurrence (unique per plan and
occurrence, so opening twice is harmless). Its inspectors get an assignment each. The walk is
stored as marks (正常 / 异常 per checklist item, `place_key` "" = the plan's whole area), so
progress survives a restart: the walk simply continues with the first unmarked item.

Round status: open → completed (every item marked) or → closed (the deadline passed first;
the remaining items can still be marked late, which completes the round late, until the plan's
`late_marks_for` is over or its next round opens: see marks_until).

A round's results (summaries, problems and their tickets, trends) are in
storage.inspection_results; when rounds open and are due in storage.inspection_calendar.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from school.profile import InspectionItem, InspectionPlan, SchoolProfile
from storage.database import insert_on_conflict
from storage.inspection_calendar import deadline_for, late_marks_until, reminder_at
from storage.models import (
    InspectionAssignment,
    InspectionMark,
    InspectionRound,
    Person,
    Role,
    Ticket,
)
from storage.stats import InspectionStats, Month

OPEN = "open"
COMPLETED = "completed"
CLOSED = "closed"

DIRECTOR_POST = "director"  # directors have no post_key; they hold this post if the profile has it
MAX_ID = 2**31 - 1  # ids are INTEGER columns (32 bits on PostgreSQL)
NOTE_LIMIT = 500
PLACE_LIMIT = 200

# Which one-shot field of a round a job claims.
REMINDED = "reminded_at"
ANNOUNCED = "announced_at"
MISSED_REPORTED = "missed_reported_at"
_CLAIMABLE = {REMINDED, ANNOUNCED, MISSED_REPORTED}


# --- lookups ---------------------------------------------------------------------------------


def plan_of(profile: SchoolProfile, round_: InspectionRound) -> InspectionPlan | None:
    """The profile plan of a round (None if the plan was removed from the profile)."""
    try:
        return profile.inspection_plan(round_.plan_key)
    except KeyError:
        return None


def plan_name(profile: SchoolProfile, round_: InspectionRound) -> str:
    """The plan's name, or its key when the profile no longer has it."""
    plan = plan_of(profile, round_)
    return plan.name if plan is not None else round_.plan_key


def items_of(profile: SchoolProfile, round_: InspectionRound) -> list[InspectionItem]:
    """The checklist items of a round, in checklist order."""
    plan = plan_of(profile, round_)
    if plan is None:
        return []
    return sorted(profile.plan_items(plan), key=lambda item: item.number)


def marks_until(profile: SchoolProfile, round_: InspectionRound) -> datetime:
    """Until when the round takes marks (late ones after its deadline); a round whose plan
    left the profile takes none after its deadline."""
    plan = plan_of(profile, round_)
    return round_.deadline_at if plan is None else late_marks_until(profile, plan, round_)


def takes_marks(profile: SchoolProfile, round_: InspectionRound, now: datetime) -> bool:
    """Whether the round can be marked now: not completed, and not past marks_until."""
    return round_.status != COMPLETED and now <= marks_until(profile, round_)


def item_or_none(profile: SchoolProfile, key: str) -> InspectionItem | None:
    """A checklist item by key (None if the profile no longer has it)."""
    try:
        return profile.inspection_item(key)
    except KeyError:
        return None


def post_of(profile: SchoolProfile, person: Person) -> str | None:
    """The post a person holds for inspections: their post, or "director" for directors."""
    if person.post_key:
        return person.post_key
    if Role(person.role) == Role.DIRECTOR and any(p.key == DIRECTOR_POST for p in profile.posts):
        return DIRECTOR_POST
    return None


async def inspectors_for(
    session: AsyncSession, profile: SchoolProfile, plan: InspectionPlan
) -> list[Person]:
    """Active people in the plan's inspector posts, plus those it names (by Person.name)."""
    active = (await session.exec(select(Person).where(col(Person.active).is_(True)))).all()
    posts = set(plan.inspector_posts)
    names = set(plan.inspector_people)
    chosen = [
        p
        for p in active
        if (post_of(profile, p) in posts and Role(p.role) != Role.TEACHER) or p.name in names
    ]
    return sorted(chosen, key=lambda p: p.id or 0)


async def get_round(session: AsyncSession, round_id: int) -> InspectionRound | None:
    """The round with this id (None for an id no row can have: a forged button's)."""
    if not 0 < round_id <= MAX_ID:
        return None
    return await session.get(InspectionRound, round_id)


async def assignments_of(session: AsyncSession, round_id: int) -> list[InspectionAssignment]:
    """The inspectors' assignments of a round."""
    query = select(InspectionAssignment).where(InspectionAssignment.round_id == round_id)
    return list((await session.exec(query.order_by(col(InspectionAssignment.id)))).all())


async def inspectors_of(session: AsyncSession, round_id: int) -> list[Person]:
    """The inspectors of a round, in assignment order."""
    query = (
        select(Person)
        .join(InspectionAssignment, col(InspectionAssignment.person_id) == col(Person.id))
        .where(InspectionAssignment.round_id == round_id)
        .order_by(col(InspectionAssignment.id))
    )
    return list((await session.exec(query)).all())


async def is_inspector(session: AsyncSession, round_id: int, person_id: int) -> bool:
    """Whether the person is one of the round's inspectors."""
    query = select(InspectionAssignment.id).where(
        InspectionAssignment.round_id == round_id, InspectionAssignment.person_id == person_id
    )
    return (await session.exec(query)).first() is not None


async def marks_of(session: AsyncSession, round_id: int) -> list[InspectionMark]:
    """Every mark of a round, in the order they were made."""
    query = select(InspectionMark).where(InspectionMark.round_id == round_id)
    return list((await session.exec(query.order_by(col(InspectionMark.id)))).all())


async def rounds_of_person(
    session: AsyncSession, person_id: int, *, unfinished: bool = True, limit: int = 5
) -> list[InspectionRound]:
    """A person's rounds (by default those not completed yet), newest first."""
    query = (
        select(InspectionRound)
        .join(InspectionAssignment, col(InspectionAssignment.round_id) == col(InspectionRound.id))
        .where(InspectionAssignment.person_id == person_id)
    )
    if unfinished:
        query = query.where(InspectionRound.status != COMPLETED)
    query = query.order_by(col(InspectionRound.occurrence).desc()).limit(limit)
    return list((await session.exec(query)).all())


async def recent_rounds(session: AsyncSession, *, limit: int = 10) -> list[InspectionRound]:
    """The most recent rounds, newest first."""
    query = select(InspectionRound).order_by(col(InspectionRound.occurrence).desc()).limit(limit)
    return list((await session.exec(query)).all())


# --- opening ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedRound:
    """The round for an occurrence, whether this call created it, and its inspectors."""

    round: InspectionRound
    created: bool
    inspectors: list[Person]


async def open_round(
    session: AsyncSession,
    *,
    profile: SchoolProfile,
    plan: InspectionPlan,
    occurrence: datetime,
    now: datetime,
) -> OpenedRound:
    """Open the plan's round for a scheduled occurrence, once (unique plan + occurrence)."""
    values = {
        "plan_key": plan.key,
        "occurrence": occurrence.astimezone(UTC),
        "opened_at": now,
        "deadline_at": deadline_for(profile, plan, max(occurrence, now)),
        "status": OPEN,
    }
    statement = (
        insert_on_conflict(session, InspectionRound)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["plan_key", "occurrence"])
    )
    created = bool((await session.exec(statement)).rowcount)
    round_ = (
        await session.exec(
            select(InspectionRound).where(
                InspectionRound.plan_key == plan.key,
                InspectionRound.occurrence == values["occurrence"],
            )
        )
    ).one()
    assert round_.id is not None
    if not created:
        return OpenedRound(round_, False, await inspectors_of(session, round_.id))
    inspectors = await inspectors_for(session, profile, plan)
    for person in inspectors:
        assert person.id is not None
        session.add(InspectionAssignment(round_id=round_.id, person_id=person.id))
    await session.flush()
    return OpenedRound(round_, True, inspectors)


# --- the walk --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Where a round's walk stands."""

    items: list[InspectionItem]
    marks: dict[str, InspectionMark]

    @property
    def done(self) -> int:
        return sum(1 for item in self.items if item.key in self.marks)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def next_item(self) -> InspectionItem | None:
        """The first item nobody has marked yet."""
        return next((item for item in self.items if item.key not in self.marks), None)

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.done == self.total

    def unmarked_in_area(self, area: str) -> list[InspectionItem]:
        """Unmarked items of one area (教室/办公室 ...)."""
        return [i for i in self.items if i.area == area and i.key not in self.marks]


async def progress(
    session: AsyncSession, profile: SchoolProfile, round_: InspectionRound
) -> Progress:
    """The round's items and the marks made so far."""
    assert round_.id is not None
    marks = {m.item_key: m for m in await marks_of(session, round_.id) if m.place_key == ""}
    return Progress(items_of(profile, round_), marks)


@dataclass
class MarkResult:
    """What marking did: the mark (new, or the one somebody made first), and completion."""

    round: InspectionRound
    mark: InspectionMark
    created: bool
    completed_now: bool = False
    ticket: Ticket | None = None


async def _insert_mark(session: AsyncSession, values: dict[str, Any]) -> bool:
    statement = (
        insert_on_conflict(session, InspectionMark)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["round_id", "item_key", "place_key"])
    )
    return bool((await session.exec(statement)).rowcount)


async def _mark_row(session: AsyncSession, round_id: int, item_key: str) -> InspectionMark:
    query = select(InspectionMark).where(
        InspectionMark.round_id == round_id,
        InspectionMark.item_key == item_key,
        InspectionMark.place_key == "",
    )
    mark = (await session.exec(query.execution_options(populate_existing=True))).one()
    return mark


async def record_mark(
    session: AsyncSession,
    *,
    profile: SchoolProfile,
    round_id: int,
    item_key: str,
    person: Person,
    ok: bool,
    now: datetime,
    note: str | None = None,
    place_detail: str | None = None,
    photo_file_id: str | None = None,
    building_key: str | None = None,
    floor: str | None = None,
    room: str | None = None,
) -> MarkResult:
    """Mark one item 正常 or 异常 (once: a second mark of the same item changes nothing).

    An 异常 becomes a repair ticket (category from the item, the place, note and photo),
    linked to the mark, in the same transaction. Marking the last item completes the round.
    """
    assert person.id is not None
    round_ = await session.get(InspectionRound, round_id, populate_existing=True)
    if round_ is None or round_.id is None:
        raise LookupError(f"no inspection round {round_id}")
    if round_.status == COMPLETED:
        raise ValueError("the round is already completed")
    item = profile.inspection_item(item_key)
    created = await _insert_mark(
        session,
        {
            "round_id": round_.id,
            "item_key": item_key,
            "place_key": "",
            "ok": ok,
            "note": note[:1000] if note else None,
            "place_detail": place_detail[:PLACE_LIMIT] if place_detail else None,
            "photo_file_id": photo_file_id,
            "marked_by_id": person.id,
            "marked_at": now,
        },
    )
    mark = await _mark_row(session, round_.id, item_key)
    result = MarkResult(round=round_, mark=mark, created=created)
    if not created:
        return result
    await _started(session, round_.id, person.id, now)
    if not ok:
        result.ticket = await _ticket_for(
            session,
            profile=profile,
            round_=round_,
            item=item,
            person=person,
            note=note or "",
            place=place_detail,
            photo_file_id=photo_file_id,
            building_key=building_key,
            floor=floor,
            room=room,
            now=now,
        )
        mark.ticket_id = result.ticket.id
        session.add(mark)
        await session.flush()
    result.completed_now = await complete_if_done(session, profile=profile, round_=round_, now=now)
    return result


async def mark_area_ok(
    session: AsyncSession,
    *,
    profile: SchoolProfile,
    round_id: int,
    area: str,
    person: Person,
    now: datetime,
) -> tuple[int, bool]:
    """本区域全部正常: mark every unmarked item of an area 正常; (how many, completed now)."""
    round_ = await session.get(InspectionRound, round_id)
    if round_ is None:
        raise LookupError(f"no inspection round {round_id}")
    walk = await progress(session, profile, round_)
    count = 0
    completed = False
    for item in walk.unmarked_in_area(area):
        result = await record_mark(
            session, profile=profile, round_id=round_id, item_key=item.key, person=person,
            ok=True, now=now,
        )  # fmt: skip
        count += int(result.created)
        completed = completed or result.completed_now
    return count, completed


async def _started(session: AsyncSession, round_id: int, person_id: int, now: datetime) -> None:
    await session.exec(
        update(InspectionAssignment)
        .where(
            col(InspectionAssignment.round_id) == round_id,
            col(InspectionAssignment.person_id) == person_id,
            col(InspectionAssignment.started_at).is_(None),
        )
        .values(started_at=now)
    )


async def _ticket_for(
    session: AsyncSession,
    *,
    profile: SchoolProfile,
    round_: InspectionRound,
    item: InspectionItem,
    person: Person,
    note: str,
    place: str | None,
    photo_file_id: str | None,
    building_key: str | None,
    floor: str | None,
    room: str | None,
    now: datetime,
) -> Ticket:
    """The repair ticket (待整改) for an 异常, filed by the inspector."""
    from storage import tickets  # the repairs feature; imported late (optional at import time)

    if building_key is None and place:
        found = profile.match_place(place)
        if found is not None:
            building_key, floor, room = found.building.key, found.floor, found.room
    place_text = place or "、".join(b.name for b in _plan_places(profile, round_))
    description = f"【{plan_name(profile, round_)}】{item.number}. {item.text}"
    if note:
        description += f"\n{note}"
    report = tickets.Report(
        category=item.category,
        place=place_text[:PLACE_LIMIT],
        description=description,
        urgency=profile.repair.default_urgency,
        building=building_key,
        floor=floor,
        room=room,
        photos=(photo_file_id,) if photo_file_id else (),
    )
    reporter = tickets.Reporter.of(person)
    return await tickets.create_ticket(
        session, report, reporter, profile=profile, now=now, source="inspection"
    )


def _plan_places(profile: SchoolProfile, round_: InspectionRound) -> list[Any]:
    plan = plan_of(profile, round_)
    return profile.plan_places(plan) if plan is not None else []


async def complete_if_done(
    session: AsyncSession, *, profile: SchoolProfile, round_: InspectionRound, now: datetime
) -> bool:
    """Complete the round when every item is marked; True only for the call that did it.

    Assignments are finished: every inspector of a non-joint round (any of them may do it),
    in a joint round those who marked at least one item.
    """
    assert round_.id is not None
    walk = await progress(session, profile, round_)
    if not walk.complete:
        return False
    done = await session.exec(
        update(InspectionRound)
        .where(col(InspectionRound.id) == round_.id, col(InspectionRound.status) != COMPLETED)
        .values(status=COMPLETED, completed_at=now)
    )
    if done.rowcount != 1:
        return False
    plan = plan_of(profile, round_)
    finished = update(InspectionAssignment).where(
        col(InspectionAssignment.round_id) == round_.id,
        col(InspectionAssignment.finished_at).is_(None),
    )
    if plan is None or plan.joint:
        markers = {m.marked_by_id for m in walk.marks.values()}
        finished = finished.where(col(InspectionAssignment.person_id).in_(markers))
    await session.exec(finished.values(finished_at=now))
    await session.refresh(round_)
    return True


# --- one-shot duties of the check job --------------------------------------------------------


async def claim(session: AsyncSession, round_id: int, what: str, now: datetime) -> bool:
    """Set a round's reminded_at / announced_at / missed_reported_at once; False if set."""
    if what not in _CLAIMABLE:
        raise ValueError(what)
    column = getattr(InspectionRound, what)
    result = await session.exec(
        update(InspectionRound)
        .where(col(InspectionRound.id) == round_id, col(column).is_(None))
        .values({what: now})
    )
    return result.rowcount == 1


async def rounds_to_remind(
    session: AsyncSession, profile: SchoolProfile, now: datetime
) -> list[InspectionRound]:
    """Open rounds whose reminder time has come (before the deadline) and not yet reminded."""
    query = select(InspectionRound).where(
        InspectionRound.status == OPEN,
        col(InspectionRound.reminded_at).is_(None),
        col(InspectionRound.deadline_at) > now,
    )
    due = []
    for round_ in (await session.exec(query)).all():
        plan = plan_of(profile, round_)
        if plan is not None and reminder_at(plan, round_) <= now:
            due.append(round_)
    return due


async def close_overdue(session: AsyncSession, now: datetime) -> list[InspectionRound]:
    """Rounds still open at their deadline become closed; returns those closed by this call."""
    query = select(InspectionRound).where(
        InspectionRound.status == OPEN, col(InspectionRound.deadline_at) <= now
    )
    closed = []
    for round_ in (await session.exec(query)).all():
        result = await session.exec(
            update(InspectionRound)
            .where(col(InspectionRound.id) == round_.id, col(InspectionRound.status) == OPEN)
            .values(status=CLOSED)
        )
        if result.rowcount == 1:
            await session.refresh(round_)
            closed.append(round_)
    return closed


async def rounds_to_announce(session: AsyncSession) -> list[InspectionRound]:
    """Completed or closed rounds whose summary has not gone out yet."""
    query = select(InspectionRound).where(
        col(InspectionRound.status).in_([COMPLETED, CLOSED]),
        col(InspectionRound.announced_at).is_(None),
    )
    return list((await session.exec(query.order_by(col(InspectionRound.id)))).all())


# --- the appraisal's figures -----------------------------------------------------------------


def month_bounds(month: Month, profile: SchoolProfile) -> tuple[datetime, datetime]:
    """A month's start and end (UTC) in school time."""
    tz = profile.tz
    start = datetime.combine(month.first_day, time(0), tzinfo=tz)
    end = datetime.combine(month.next().first_day, time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


async def month_stats(
    session: AsyncSession, month: Month, profile: SchoolProfile
) -> dict[int, InspectionStats]:
    """Per person: rounds assigned in the month, done on time, done late, missed (one query).

    A round counts in the month of its scheduled occurrence (school time). Credit follows the
    marks: a finished assignment (see complete_if_done) is done, on time by the deadline, by one
    who marked an item of the round, and `unmarked` (no credit) for one who did not; missed when
    the round is past its deadline unfinished for them. Open rounds count as assigned only.
    """
    start, end = month_bounds(month, profile)
    marked = (
        select(InspectionMark.id)
        .where(
            col(InspectionMark.round_id) == col(InspectionAssignment.round_id),
            col(InspectionMark.marked_by_id) == col(InspectionAssignment.person_id),
        )
        .exists()
    )
    query = (
        select(InspectionAssignment, InspectionRound.deadline_at, InspectionRound.status, marked)
        .join(InspectionRound, col(InspectionRound.id) == col(InspectionAssignment.round_id))
        .where(col(InspectionRound.occurrence) >= start, col(InspectionRound.occurrence) < end)
    )
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    rows = (await session.exec(query)).all()
    for assignment, deadline_at, status, walked in rows:
        row, finished_at = counts[assignment.person_id], assignment.finished_at
        row[0] += 1
        if finished_at is not None:
            row[(1 if finished_at <= deadline_at else 2) if walked else 4] += 1
        elif status != OPEN:
            row[3] += 1
    return {
        pid: InspectionStats(assigned=a, on_time=o, late=la, missed=m, unmarked=u)
        for pid, (a, o, la, m, u) in counts.items()
    }
