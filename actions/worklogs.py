"""The work logs' use cases: each is the storage change and its notices in ONE transaction,
called by the handlers (a person acting) and the jobs (the clock) alike.

Nothing here knows Telegram updates: the caller answers the person acting with what the action
returns, and starts the outbox's delivery after it (`outbox.deliver_soon`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from notices import worklogs as notices
from notices.services import Services
from storage import people, post_duties, worklogs
from storage.models import Leave, Person, PostDuties
from storage.worklogs import Saved


async def save_log(
    services: Services,
    *,
    person_id: int,
    day: date,
    items: Sequence[worklogs.LogItem],
    photos: Sequence[str],
    hours: float | None,
) -> Saved:
    """File (on time or late, 补交) or edit a day's log, the rules checked at the moment of
    saving; raises storage.worklogs.SaveProblem. Nobody else is told."""
    async with services.database.transaction() as session:
        return await worklogs.save_log(
            session,
            person_id=person_id,
            day=day,
            items=items,
            photos=photos,
            hours=hours,
            profile=services.profile,
            now=services.now(),
        )


@dataclass(frozen=True)
class LeaveRecorded:
    """The outcome of /leave: who matched the name, and the leave when exactly one did."""

    candidates: list[Person]
    leave: Leave | None = None
    working_days: int = 0


async def record_leave(
    services: Services,
    *,
    name: str,
    start: date,
    end: date,
    reason: str | None,
    recorded_by_id: int | None,
) -> LeaveRecorded:
    """Record leave for the one active staff member called `name` and tell them."""
    async with services.database.transaction() as session:
        candidates = [p for p in await worklogs.find_staff(session, name) if p.active]
        if len(candidates) != 1:
            return LeaveRecorded(candidates)
        person = candidates[0]
        assert person.id is not None
        leave = await worklogs.record_leave(
            session,
            person_id=person.id,
            start=start,
            end=end,
            reason=reason,
            recorded_by_id=recorded_by_id,
            now=services.now(),
        )
        await notices.queue_leave_recorded(session, services, person, leave)
    working = len(services.profile.calendar.working_days(start, end))
    return LeaveRecorded(candidates, leave, working)


async def delete_leave(services: Services, leave_id: int) -> bool:
    """Remove a leave record; False when there is none by that id (any more)."""
    async with services.database.transaction() as session:
        return await worklogs.delete_leave(session, leave_id) is not None


async def submit_duties(services: Services, *, person: Person, text: str) -> PostDuties:
    """File a staff member's draft of their post duties (an earlier pending one is withdrawn)
    and ask the directors to approve it; ValueError when empty or too long."""
    assert person.id is not None
    async with services.database.transaction() as session:
        draft, _withdrawn = await post_duties.submit_duties(
            session, person_id=person.id, text=text, now=services.now()
        )
        await notices.queue_duties_request(session, services, person, draft)
    return draft


@dataclass(frozen=True)
class DutiesDecided:
    """The outcome of a director's decision: the draft as it stands, whose it is, and whether
    this decision changed it (False: it was handled before)."""

    draft: PostDuties
    staff: Person | None
    changed: bool


async def decide_duties(
    services: Services,
    *,
    director: Person,
    duties_id: int,
    approve: bool,
    comment: str | None,
) -> DutiesDecided | None:
    """Approve or return a pending draft once and tell its author; None: no such draft."""
    async with services.database.transaction() as session:
        try:
            draft, changed = await post_duties.decide_duties(
                session,
                duties_id=duties_id,
                approve=approve,
                director_id=director.id,
                comment=comment,
                now=services.now(),
            )
        except LookupError:
            return None
        staff = await people.get_person(session, draft.person_id)
        if changed and staff is not None:
            await notices.queue_duties_decision(
                session, services, staff, draft, approve=approve, comment=comment
            )
    return DutiesDecided(draft, staff, changed)


async def send_reminders(services: Services, day: date, *, second: bool = False) -> int:
    """Remind every staff member without a log of `day` who is not on leave (nobody on a
    non-working day). Returns how many were queued now: a second call for the same day and
    kind queues none."""
    queued = 0
    async with services.database.transaction() as session:
        for person in await worklogs.people_to_remind(session, day, services.profile):
            queued += await notices.queue_reminder(session, services, person, day, second=second)
    return queued


async def send_summary(services: Services, day: date) -> int:
    """The day's summary to the leaders' group or the directors; nothing on a non-working
    day. Returns how many messages were queued now."""
    if not services.profile.calendar.is_working_day(day):
        return 0
    async with services.database.transaction() as session:
        return await notices.queue_summary(session, services, day)
