"""The results of inspection rounds: a round's summary (marks, problems with the state of their
repair tickets, inspectors and who marked), the previous round's problems (复查), and how often
each item failed per month (trends). The rounds themselves are in storage.inspections.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from school.profile import InspectionItem, SchoolProfile
from storage.inspections import (
    Progress,
    inspectors_of,
    item_or_none,
    items_of,
    month_bounds,
    plan_name,
    progress,
)
from storage.models import InspectionMark, InspectionRound, Person, Ticket, TicketStatus
from storage.stats import Month

# --- summaries -------------------------------------------------------------------------------


def fixed_label(ticket: Ticket | None) -> str:
    """ "fixed" (已整改), "dropped" (ticket rejected/cancelled) or "open" (待整改)."""
    if ticket is None:
        return "open"
    if ticket.status == TicketStatus.CLOSED:
        return "fixed"
    if ticket.status in (TicketStatus.REJECTED, TicketStatus.CANCELLED):
        return "dropped"
    return "open"


@dataclass(frozen=True)
class Problem:
    """An 异常 with its item, the mark, and the repair ticket behind it."""

    item: InspectionItem | None
    mark: InspectionMark
    ticket: Ticket | None

    @property
    def state(self) -> str:
        return fixed_label(self.ticket)


@dataclass
class RoundSummary:
    """Everything the 通报 and the detail view show about a round."""

    round: InspectionRound
    plan_name: str
    items: list[InspectionItem]
    marks: dict[str, InspectionMark]
    problems: list[Problem]
    inspectors: list[Person]
    markers: dict[int, Person] = field(default_factory=dict)

    @property
    def checked(self) -> int:
        return sum(1 for item in self.items if item.key in self.marks)

    @property
    def ok_count(self) -> int:
        return sum(1 for item in self.items if item.key in self.marks and self.marks[item.key].ok)

    @property
    def unchecked(self) -> list[InspectionItem]:
        return [item for item in self.items if item.key not in self.marks]

    def problem_for(self, item_key: str) -> Problem | None:
        return next((p for p in self.problems if p.mark.item_key == item_key), None)


async def _tickets(session: AsyncSession, ids: set[int]) -> dict[int, Ticket]:
    if not ids:
        return {}
    query = select(Ticket).where(col(Ticket.id).in_(ids))
    return {t.id: t for t in (await session.exec(query)).all() if t.id is not None}


async def problems_of(
    session: AsyncSession, profile: SchoolProfile, walk: Progress
) -> list[Problem]:
    """The 异常 among a walk's marks, in checklist order, each with its repair ticket."""
    marks = walk.marks
    tickets = await _tickets(session, {m.ticket_id for m in marks.values() if m.ticket_id})
    problems = [
        Problem(item_or_none(profile, key), mark, tickets.get(mark.ticket_id or 0))
        for key, mark in marks.items()
        if not mark.ok
    ]
    order = {item.key: item.number for item in walk.items}
    problems.sort(key=lambda p: order.get(p.mark.item_key, 999))
    return problems


async def summary(
    session: AsyncSession, profile: SchoolProfile, round_: InspectionRound
) -> RoundSummary:
    """The round's results: marks, problems with their tickets, inspectors and who marked."""
    assert round_.id is not None
    walk = await progress(session, profile, round_)
    marks = walk.marks
    problems = await problems_of(session, profile, walk)
    inspectors = await inspectors_of(session, round_.id)
    marker_ids = {m.marked_by_id for m in marks.values()}
    known = {p.id: p for p in inspectors if p.id is not None}
    missing = marker_ids - set(known)
    if missing:
        extra = await session.exec(select(Person).where(col(Person.id).in_(missing)))
        known.update({p.id: p for p in extra.all() if p.id is not None})
    markers = {pid: known[pid] for pid in marker_ids if pid in known}
    return RoundSummary(
        round=round_,
        plan_name=plan_name(profile, round_),
        items=walk.items,
        marks=marks,
        problems=problems,
        inspectors=inspectors,
        markers=markers,
    )


async def previous_round(session: AsyncSession, round_: InspectionRound) -> InspectionRound | None:
    """The round of the same plan before this one."""
    query = (
        select(InspectionRound)
        .where(
            InspectionRound.plan_key == round_.plan_key,
            col(InspectionRound.occurrence) < round_.occurrence,
        )
        .order_by(col(InspectionRound.occurrence).desc())
        .limit(1)
    )
    return (await session.exec(query)).first()


async def previous_problems(
    session: AsyncSession, profile: SchoolProfile, round_: InspectionRound
) -> list[Problem]:
    """复查: the previous round's 异常 for this round's items, each with its ticket's state."""
    before = await previous_round(session, round_)
    if before is None:
        return []
    keys = {item.key for item in items_of(profile, round_)}
    earlier = await summary(session, profile, before)
    return [p for p in earlier.problems if p.mark.item_key in keys]


# --- trends ---------------------------------------------------------------------------------


async def item_trend(
    session: AsyncSession, profile: SchoolProfile, months: Sequence[Month]
) -> dict[str, dict[Month, tuple[int, int]]]:
    """Per item and month: (异常 count, times checked), over the given months (school time)."""
    if not months:
        return {}
    start, _ = month_bounds(min(months), profile)
    _, end = month_bounds(max(months), profile)
    query = (
        select(InspectionMark.item_key, InspectionMark.ok, InspectionRound.occurrence)
        .join(InspectionRound, col(InspectionRound.id) == col(InspectionMark.round_id))
        .where(col(InspectionRound.occurrence) >= start, col(InspectionRound.occurrence) < end)
    )
    wanted = set(months)
    trend: dict[str, dict[Month, tuple[int, int]]] = defaultdict(dict)
    for item_key, ok, occurrence in (await session.exec(query)).all():
        month = Month.of(occurrence.astimezone(profile.tz).date())
        if month not in wanted:
            continue
        failed, checked = trend[item_key].get(month, (0, 0))
        trend[item_key][month] = (failed + (0 if ok else 1), checked + 1)
    return dict(trend)
