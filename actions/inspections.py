"""Use cases of the inspections feature (检查), each one transaction with its notices:
open a round, the check job's reminders / deadlines / 通报, start or resume a walk, mark an
item 正常 (or a whole area), mark it 异常 (a repair ticket with its card), pause.

Called by the walk's handlers and the jobs alike; they answer the person acting with what
these return.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from notices import inspections as notices
from notices import place_history as place_notices
from notices import tickets as ticket_notices
from notices.services import Services
from school.profile import InspectionItem
from storage import inspection_calendar as calendar
from storage import inspection_results as results
from storage import inspections as store
from storage import people
from storage.models import InspectionRound, Person, Ticket
from storage.stats import Month

log = logging.getLogger(__name__)


class Refusal(StrEnum):
    """Why a person may not mark a round (or an item of it)."""

    NO_ROUND = "no_round"
    NOT_INSPECTOR = "not_inspector"
    COMPLETED = "completed"
    TOO_LATE = "too_late"  # closed, and the time for late marks is over
    NO_ITEM = "no_item"  # not (or no longer) on the round's checklist


# --- opening and the check job ---------------------------------------------------------------


async def open_plan_round(
    services: Services, plan_key: str, occurrence: datetime
) -> store.OpenedRound | None:
    """Open the plan's round for a scheduled occurrence unless the school calendar says no;
    tell the staff group and each inspector. None when no round opens that day."""
    profile = services.profile
    plan = profile.inspection_plan(plan_key)
    day = occurrence.astimezone(profile.tz).date()
    reason = calendar.skip_reason(profile, plan, day)
    if reason is not None:
        log.info("no %s round on %s (%s)", plan.key, day, reason)
        return None
    async with services.database.transaction() as session:
        opened = await store.open_round(
            session, profile=profile, plan=plan, occurrence=occurrence, now=services.now()
        )
        if opened.created:
            await notices.queue_opening(session, services, opened)
    if opened.created:
        log.info(
            "opened %s round %s with %d inspectors",
            plan.key,
            opened.round.id,
            len(opened.inspectors),
        )
    return opened


async def check_rounds(services: Services) -> None:
    """Reminders before the deadline; at the deadline the round is closed, its 通报 published
    and the director told it was missed; completed rounds not yet announced are announced
    (each at most once per round)."""
    now = services.now()
    async with services.database.transaction() as session:
        for round_ in await store.rounds_to_remind(session, services.profile, now):
            assert round_.id is not None
            if await store.claim(session, round_.id, store.REMINDED, now):
                await notices.queue_reminders(session, services, round_)
        for round_ in await store.close_overdue(session, now):
            await notices.queue_summary(session, services, round_)
            await notices.queue_missed_report(session, services, round_)
        for round_ in await store.rounds_to_announce(session):
            await notices.queue_summary(session, services, round_)


async def _announce_if_completed(
    session: AsyncSession, services: Services, round_: InspectionRound, completed_now: bool
) -> None:
    """After a mark: the round's 通报 when it just completed (or a late follow-up)."""
    if not completed_now:
        return
    if round_.announced_at is None:
        await notices.queue_summary(session, services, round_)
    else:
        await notices.queue_late_completion(session, services, round_)


# --- the walk --------------------------------------------------------------------------------


async def round_to_mark(
    services: Services, round_id: int, person: Person
) -> InspectionRound | Refusal:
    """The round when the person may mark it now, or why not."""
    assert person.id is not None
    async with services.database.reading() as session:
        round_ = await store.get_round(session, round_id)
        if round_ is None:
            return Refusal.NO_ROUND
        if not await store.is_inspector(session, round_id, person.id):
            return Refusal.NOT_INSPECTOR
    if round_.status == store.COMPLETED:
        return Refusal.COMPLETED
    if not store.takes_marks(services.profile, round_, services.now()):
        return Refusal.TOO_LATE
    return round_


@dataclass(frozen=True)
class RoundOver:
    """A round that takes no more marks, as told to an inspector pressing one of its old
    buttons: its result, who marked it, whether the presser did, and until when it took
    marks."""

    summary: results.RoundSummary
    marked_by_me: bool
    until: datetime


async def round_over(services: Services, round_id: int, person: Person) -> RoundOver | None:
    """The result of a round that is completed or past its late marks (None otherwise)."""
    async with services.database.reading() as session:
        round_ = await store.get_round(session, round_id)
        if round_ is None or store.takes_marks(services.profile, round_, services.now()):
            return None
        summary = await results.summary(session, services.profile, round_)
    mine = any(m.marked_by_id == person.id for m in summary.marks.values())
    return RoundOver(summary, mine, store.marks_until(services.profile, round_))


def checklist_item(services: Services, round_: InspectionRound, key: str) -> InspectionItem | None:
    """The item of the round's checklist with this key (None: not on it, or forged)."""
    return next((i for i in store.items_of(services.profile, round_) if i.key == key), None)


@dataclass(frozen=True)
class Position:
    """Where a round's walk stands: the next item (None: all marked), the last round's
    problem with it, and the 异常 found so far (with their tickets)."""

    round: InspectionRound
    walk: store.Progress
    item: InspectionItem | None
    previous: results.Problem | None
    problems: list[results.Problem] = field(default_factory=list)


async def position(services: Services, round_id: int) -> Position | None:
    """The round's next unmarked item (None when the round does not exist)."""
    async with services.database.reading() as session:
        round_ = await store.get_round(session, round_id)
        if round_ is None:
            return None
        walk = await store.progress(session, services.profile, round_)
        item = walk.next_item
        previous = None
        if item is not None:
            earlier = await results.previous_problems(session, services.profile, round_)
            previous = next((p for p in earlier if p.mark.item_key == item.key), None)
        problems = await results.problems_of(session, services.profile, walk)
    return Position(round_, walk, item, previous, problems)


async def start(services: Services, round_id: int, person: Person) -> list[results.Problem]:
    """开始检查: the previous round's problems to re-check (复查), when this inspector has not
    started yet."""
    async with services.database.reading() as session:
        round_ = await store.get_round(session, round_id)
        if round_ is None:
            return []
        assignment = next(
            (a for a in await store.assignments_of(session, round_id) if a.person_id == person.id),
            None,
        )
        if assignment is None or assignment.started_at is not None:
            return []
        return await results.previous_problems(session, services.profile, round_)


@dataclass
class Marked:
    """What marking did: how many items this call marked (0: somebody was first), who was
    first, the 异常's repair ticket."""

    count: int
    first_by: Person | None = None
    ticket: Ticket | None = None
    completed: bool = field(default=False)
    round: InspectionRound | None = None  # as this call left it


async def mark_ok(
    services: Services, round_id: int, item: InspectionItem, person: Person, *, whole_area: bool
) -> Marked:
    """正常 on an item, or 本区域全部正常 on its area; the 通报 when the round completes."""
    async with services.database.transaction() as session:
        if whole_area:
            count, completed = await store.mark_area_ok(
                session,
                profile=services.profile,
                round_id=round_id,
                area=item.area,
                person=person,
                now=services.now(),
            )
            round_ = await store.get_round(session, round_id)
            assert round_ is not None
            marked = Marked(count, completed=completed)
        else:
            round_, marked = await _mark_item(session, services, round_id, item, person, None)
        await _announce_if_completed(session, services, round_, marked.completed)
        marked.round = round_
    return marked


async def is_marked(services: Services, round_id: int, item_key: str) -> bool:
    """Whether the item of the round is marked already."""
    async with services.database.reading() as session:
        round_ = await store.get_round(session, round_id)
        if round_ is None:
            return False
        walk = await store.progress(session, services.profile, round_)
    return item_key in walk.marks


@dataclass(frozen=True)
class Problem:
    """An 异常 as the inspector gave it."""

    note: str
    photo_file_id: str | None
    place: str | None  # typed, or the building's label; None: the plan's whole area
    building_key: str | None


async def mark_problem(
    services: Services,
    round_id: int,
    item: InspectionItem,
    person: Person,
    problem: Problem,
) -> Marked:
    """异常: the mark and its repair ticket (待整改) in one transaction with the ticket's card
    and, when the round completes, its 通报. The caller publishes the card after the commit."""
    async with services.database.transaction() as session:
        round_, marked = await _mark_item(session, services, round_id, item, person, problem)
        await _announce_if_completed(session, services, round_, marked.completed)
        marked.round = round_
    return marked


async def _mark_item(
    session: AsyncSession,
    services: Services,
    round_id: int,
    item: InspectionItem,
    person: Person,
    problem: Problem | None,
) -> tuple[InspectionRound, Marked]:
    """Mark one item 正常 (no problem) or 异常 (the problem becomes a repair ticket, its card
    queued); the round, and what marking did."""
    result = await store.record_mark(
        session,
        profile=services.profile,
        round_id=round_id,
        item_key=item.key,
        person=person,
        ok=problem is None,
        now=services.now(),
        note=problem.note if problem else None,
        place_detail=problem.place if problem else None,
        photo_file_id=problem.photo_file_id if problem else None,
        building_key=problem.building_key if problem else None,
    )
    marked = Marked(int(result.created), ticket=result.ticket, completed=result.completed_now)
    if result.created and result.ticket is not None:
        # The card is queued with the mark and its ticket: a crash after the commit
        # still posts it, once, at the next start.
        await ticket_notices.queue_publication(session, services, result.ticket)
        await place_notices.flag_repeats(session, services, result.ticket)
    if not result.created:
        marked.first_by = await people.get_person(session, result.mark.marked_by_id)
    return result.round, marked


async def progress(services: Services, round_id: int) -> store.Progress | None:
    """暂停: where the round's walk stands (marks are saved as they are made)."""
    async with services.database.reading() as session:
        round_ = await store.get_round(session, round_id)
        return await store.progress(session, services.profile, round_) if round_ else None


# --- /inspections ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """A person's unfinished rounds and the recent rounds with their results."""

    mine: list[InspectionRound]
    recent: list[results.RoundSummary]


async def overview(services: Services, person_id: int, *, recent: int) -> Overview:
    """What /inspections shows."""
    async with services.database.reading() as session:
        unfinished = await store.rounds_of_person(session, person_id)
        mine = [r for r in unfinished if store.takes_marks(services.profile, r, services.now())]
        rounds = await store.recent_rounds(session, limit=recent)
        summaries = [await results.summary(session, services.profile, r) for r in rounds]
    return Overview(mine, summaries)


async def round_summary(services: Services, round_id: int) -> results.RoundSummary | None:
    """A round's results (None when it does not exist)."""
    async with services.database.reading() as session:
        round_ = await store.get_round(session, round_id)
        return await results.summary(session, services.profile, round_) if round_ else None


async def item_trend(
    services: Services, months: int
) -> tuple[list[Month], dict[str, dict[Month, tuple[int, int]]]]:
    """How often each item failed per month over the last `months` months (school time)."""
    month = Month.of(services.local_now().date())
    wanted = [month]
    for _n in range(months - 1):
        wanted.insert(0, wanted[0].previous())
    async with services.database.reading() as session:
        return wanted, await results.item_trend(session, services.profile, wanted)
