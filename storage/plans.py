"""The semester work plan (学期工作计划) in the database, and its rules as pure functions: an
item's status on a day, which reminder is due before a milestone or the due date, the
semester a day belongs to.

Items are imported from the plan's Excel file (`import_items`: a second import of the same
semester updates the items by title), progress is reported by the owners (`record_progress`),
and an overdue item is flagged once (`claim_overdue`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.plan_models import PlanItem, PlanMilestone, PlanProgress
from storage.rows import saved


class Status(StrEnum):
    """Where an item stands on a day (the order /plan lists them in)."""

    OVERDUE = "overdue"
    DUE_SOON = "due_soon"  # due within a week
    IN_PROGRESS = "in_progress"
    NOT_STARTED = "not_started"
    DONE = "done"


DUE_SOON_DAYS = 7


def status_of(percent: int, due: date, today: date) -> Status:
    """An item's status from its progress and due date."""
    if percent >= 100:
        return Status.DONE
    if due < today:
        return Status.OVERDUE
    if (due - today).days < DUE_SOON_DAYS:
        return Status.DUE_SOON
    return Status.IN_PROGRESS if percent > 0 else Status.NOT_STARTED


def reminder_due(today: date, deadline: date, days_before: Sequence[int]) -> int | None:
    """Which reminder before `deadline` is due `today`: the smallest of `days_before` whose day
    has come (so a late start sends one reminder, not each one passed); None after the
    deadline or before the first reminder's day."""
    if today > deadline:
        return None
    come = [n for n in days_before if (deadline - today).days <= n]
    return min(come) if come else None


def semester_of(day: date) -> str:
    """The semester a day is in: 2026秋季 (August to January), 2027春季 (February to July)."""
    if day.month >= 8:
        return f"{day.year}秋季"
    if day.month == 1:
        return f"{day.year - 1}秋季"
    return f"{day.year}春季"


def parse_day(text: str) -> date | None:
    """A date written 2026-12-31 (or 2026/12/31)."""
    try:
        return date.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        return None


# --- importing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A row of the plan's file as written: what, category, owner, due, milestones."""

    line: int
    title: str
    category: str
    owner: str
    due: date
    milestones: Sequence[tuple[date, str]] = ()


@dataclass(frozen=True)
class ItemSpec:
    """An item as the plan's file gives it, its owner resolved."""

    title: str
    category: str
    owner_label: str
    due: date
    owner_id: int | None = None
    owner_post: str | None = None
    milestones: Sequence[tuple[date, str]] = field(default_factory=tuple)


async def import_items(
    session: AsyncSession, semester: str, specs: Sequence[ItemSpec], *, now: datetime
) -> tuple[int, int]:
    """Store a semester's items (an item of the same title is updated, its progress kept);
    returns (added, updated)."""
    added = updated = 0
    for spec in specs:
        item = (
            await session.exec(
                select(PlanItem).where(PlanItem.semester == semester, PlanItem.title == spec.title)
            )
        ).first()
        if item is None:
            item = PlanItem(
                semester=semester,
                title=spec.title,
                category=spec.category,
                owner_label=spec.owner_label,
                due=spec.due,
                created_at=now,
            )
            added += 1
        else:
            updated += 1
        item.category, item.owner_label, item.due = spec.category, spec.owner_label, spec.due
        item.owner_id, item.owner_post = spec.owner_id, spec.owner_post
        item = await saved(session, item)
        assert item.id is not None
        await session.exec(delete(PlanMilestone).where(col(PlanMilestone.item_id) == item.id))
        for day, title in spec.milestones:
            session.add(PlanMilestone(item_id=item.id, title=title, due=day))
    await session.flush()
    return added, updated


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """An item with its milestones."""

    item: PlanItem
    milestones: list[PlanMilestone]

    def status(self, today: date) -> Status:
        return status_of(self.item.percent, self.item.due, today)

    def deadlines(self) -> list[tuple[date, str | None]]:
        """The milestones' dates and the due date (None: the item itself)."""
        found: list[tuple[date, str | None]] = [(m.due, m.title) for m in self.milestones]
        return [*found, (self.item.due, None)]


async def entries(session: AsyncSession, semester: str | None = None) -> list[Entry]:
    """The items (of a semester; all when None), by due date, with their milestones."""
    query = select(PlanItem)
    if semester is not None:
        query = query.where(PlanItem.semester == semester)
    items = (await session.exec(query.order_by(col(PlanItem.due), col(PlanItem.id)))).all()
    ids = [i.id for i in items]
    stones = (
        await session.exec(
            select(PlanMilestone)
            .where(col(PlanMilestone.item_id).in_(ids))
            .order_by(col(PlanMilestone.due))
        )
    ).all()
    by_item: dict[int, list[PlanMilestone]] = {}
    for stone in stones:
        by_item.setdefault(stone.item_id, []).append(stone)
    return [Entry(item, by_item.get(item.id or 0, [])) for item in items]


async def latest_semester(session: AsyncSession) -> str | None:
    """The semester of the most recently imported item."""
    item = (
        await session.exec(select(PlanItem).order_by(col(PlanItem.created_at).desc()).limit(1))
    ).first()
    return item.semester if item is not None else None


async def get_item(session: AsyncSession, item_id: int) -> PlanItem | None:
    return await session.get(PlanItem, item_id)


def owned_by(item: PlanItem, person_id: int | None, post_key: str | None) -> bool:
    """Whether a person answers for the item (named, or by their post)."""
    if item.owner_id is not None:
        return item.owner_id == person_id
    return item.owner_post is not None and item.owner_post == post_key


# --- progress and flags ------------------------------------------------------------------------


async def record_progress(
    session: AsyncSession,
    item: PlanItem,
    *,
    person_id: int | None,
    percent: int,
    note: str | None,
    photo: str | None,
    today: date,
    now: datetime,
) -> PlanProgress:
    """A progress report: kept in the item's history, the item shows the latest."""
    assert item.id is not None
    percent = max(0, min(100, percent))
    report = await saved(
        session,
        PlanProgress(
            item_id=item.id,
            person_id=person_id,
            percent=percent,
            note=note,
            photo_file_id=photo,
            created_at=now,
        ),
    )
    item.percent = percent
    item.note = note or item.note
    item.photo_file_id = photo or item.photo_file_id
    item.reported_at = now
    item.done_on = (item.done_on or today) if percent >= 100 else None
    await saved(session, item)
    return report


async def claim_overdue(session: AsyncSession, item_id: int, now: datetime) -> bool:
    """Flag an overdue item once; False when it was flagged before."""
    result = await session.exec(
        update(PlanItem)
        .where(col(PlanItem.id) == item_id, col(PlanItem.overdue_flagged_at).is_(None))
        .values(overdue_flagged_at=now)
    )
    return result.rowcount == 1


async def progress_since(session: AsyncSession, since: datetime) -> list[PlanProgress]:
    """Progress reports from `since` on."""
    rows = await session.exec(
        select(PlanProgress)
        .where(col(PlanProgress.created_at) >= since)
        .order_by(col(PlanProgress.created_at))
    )
    return list(rows.all())


# --- follow-through, for the appraisal -------------------------------------------------------


@dataclass(frozen=True)
class PlanStats:
    """A person's plan items due in a month: done on time, done late, not done."""

    due: int = 0
    on_time: int = 0
    late: int = 0
    not_done: int = 0


def follow_through(items: Sequence[PlanItem], first: date, last: date) -> PlanStats:
    """How the items due between `first` and `last` came out (pure)."""
    due = [i for i in items if first <= i.due <= last]
    on_time = sum(1 for i in due if i.done_on is not None and i.done_on <= i.due)
    late = sum(1 for i in due if i.done_on is not None and i.done_on > i.due)
    return PlanStats(len(due), on_time, late, len(due) - on_time - late)


async def month_stats(
    session: AsyncSession, first: date, last: date, people: Sequence[tuple[int, str | None]]
) -> dict[int, PlanStats]:
    """Each person's follow-through on the items due in a month (named, or by their post);
    people with no item due are left out."""
    items = (
        await session.exec(
            select(PlanItem).where(col(PlanItem.due) >= first, col(PlanItem.due) <= last)
        )
    ).all()
    found = {}
    for person_id, post_key in people:
        mine = [i for i in items if owned_by(i, person_id, post_key)]
        stats = follow_through(mine, first, last)
        if stats.due:
            found[person_id] = stats
    return found
