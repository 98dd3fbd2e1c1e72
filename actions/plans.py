"""Use cases of the semester plan (学期工作计划): import the plan (owners resolved to people or
posts), the daily reminders and overdue flags, the weekly digest, a progress report."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from notices import plans as notices
from notices.services import Services
from school.profile import SchoolProfile
from storage import people
from storage import plans as store
from storage.models import Person, Role
from storage.plan_models import PlanItem
from storage.plans import Row


class PlanError(ValueError):
    """Rows that cannot be imported; nothing was."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def resolve_owner(
    profile: SchoolProfile, staff: Sequence[Person], owner: str
) -> tuple[int | None, str | None]:
    """(person id, post key) of an owner written as a person's name or a post (name, alias or
    key); (None, None) when neither."""
    text = owner.strip()
    for person in staff:
        if person.name == text:
            return person.id, None
    for post in profile.posts:
        if text in (post.key, post.name, *post.aliases):
            return None, post.key
    return None, None


async def import_plan(services: Services, semester: str, rows: Sequence[Row]) -> tuple[int, int]:
    """Import a semester's rows (all or nothing); (added, updated). Raises PlanError."""
    profile = services.profile
    problems: list[str] = []
    specs = []
    titles: set[str] = set()
    async with services.database.transaction() as session:
        staff = [p for p in await people.list_people(session) if Role(p.role) != Role.TEACHER]
        for row in rows:
            person_id, post = resolve_owner(profile, staff, row.owner)
            if person_id is None and post is None:
                problems.append(
                    f"row {row.line}: owner {row.owner!r} is neither a person nor a post"
                )
            if row.category not in profile.plan.categories:
                problems.append(
                    f"row {row.line}: category {row.category!r} is not one of "
                    + "、".join(profile.plan.categories)
                )
            if row.title in titles:
                problems.append(f"row {row.line}: {row.title!r} appears twice")
            titles.add(row.title)
            late = [d for d, _title in row.milestones if d > row.due]
            if late:
                problems.append(f"row {row.line}: a milestone is after the due date")
            specs.append(
                store.ItemSpec(
                    title=row.title,
                    category=row.category,
                    owner_label=row.owner.strip()[:64],
                    due=row.due,
                    owner_id=person_id,
                    owner_post=post,
                    milestones=row.milestones,
                )
            )
        if problems:
            raise PlanError(problems)
        return await store.import_items(session, semester, specs, now=services.now())


def owners_of(item: PlanItem, staff: Sequence[Person]) -> list[Person]:
    """The people answering for an item: the named person, or everyone of its post."""
    return [p for p in staff if store.owned_by(item, p.id, p.post_key)]


async def daily(services: Services, occurrence: datetime) -> None:
    """Reminders before milestones and due dates (working days only), and overdue items
    flagged to the directors once."""
    profile = services.profile
    today = occurrence.astimezone(profile.tz).date()
    async with services.database.transaction() as session:
        semester = await store.latest_semester(session)
        if semester is None:
            return
        found = await store.entries(session, semester)
        staff = [p for p in await people.list_people(session) if Role(p.role) != Role.TEACHER]
        directors = await people.active_directors(session)
        for entry in found:
            item = entry.item
            assert item.id is not None
            if item.percent >= 100:
                continue
            if item.due < today and await store.claim_overdue(session, item.id, services.now()):
                await notices.queue_overdue(session, services, directors, item)
            if not profile.calendar.is_working_day(today):
                continue
            for deadline, milestone in entry.deadlines():
                days = store.reminder_due(today, deadline, profile.plan.remind_days_before)
                if days is None:
                    continue
                for person in owners_of(item, staff):
                    await notices.queue_reminder(
                        session, services, person, item, deadline, milestone, days
                    )


async def weekly_digest(services: Services, occurrence: datetime) -> bool:
    """The week's digest to the leaders' group, once a week; False when there is no plan or
    no leaders' group."""
    today = occurrence.astimezone(services.profile.tz).date()
    week_end = today + timedelta(days=6 - today.weekday())
    year, week, _day = today.isocalendar()
    async with services.database.transaction() as session:
        semester = await store.latest_semester(session)
        if semester is None:
            return False
        found = await store.entries(session, semester)
        return await notices.queue_digest(
            session, services, f"plans.digest.{year}-W{week:02d}", semester, found, today, week_end
        )


async def owner_known(services: Services, owner: str) -> bool:
    """Whether an owner is a registered staff member's name or a post."""
    async with services.database.reading() as session:
        staff = [p for p in await people.list_people(session) if Role(p.role) != Role.TEACHER]
    return resolve_owner(services.profile, staff, owner) != (None, None)


async def current_semester(services: Services) -> str:
    """The semester items go to: the latest imported, else today's."""
    async with services.database.reading() as session:
        latest = await store.latest_semester(session)
    return latest or store.semester_of(services.local_now().date())


async def overview(services: Services, person: Person) -> tuple[str | None, list[store.Entry]]:
    """The current semester's items: all of them for a director, one's own for staff."""
    async with services.database.reading() as session:
        semester = await store.latest_semester(session)
        found = await store.entries(session, semester) if semester else []
    if Role(person.role) != Role.DIRECTOR:
        found = [e for e in found if store.owned_by(e.item, person.id, person.post_key)]
    return semester, found


async def item_for(services: Services, item_id: int, person: Person) -> PlanItem | None:
    """The item when the person may report on it (its owner, or a director)."""
    async with services.database.reading() as session:
        item = await store.get_item(session, item_id)
    if item is None:
        return None
    if Role(person.role) == Role.DIRECTOR or store.owned_by(item, person.id, person.post_key):
        return item
    return None


async def report_progress(
    services: Services,
    item_id: int,
    person: Person,
    *,
    percent: int,
    note: str | None,
    photo: str | None,
) -> PlanItem | None:
    """Store a progress report; the item as it now stands (None: gone)."""
    async with services.database.transaction() as session:
        item = await store.get_item(session, item_id)
        if item is None:
            return None
        await store.record_progress(
            session,
            item,
            person_id=person.id,
            percent=percent,
            note=note,
            photo=photo,
            today=services.local_now().date(),
            now=services.now(),
        )
        return item
