"""What each role sees in the cockpit, as JSON-ready dicts, translated for the reader.

The numbers come from the queries the chat's commands use, so the page and the chat never
disagree: the ticket board from `storage.tickets.active_tickets` and `is_overdue` (/tickets),
the day's logs from `storage.worklogs.day_status` (/logs), a round's progress from
`storage.inspections.progress` (/inspections) and a score from `actions.appraisal.period_result`
(/myscore, /appraisal preview).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from actions import appraisal as appraisal_actions
from notices import tickets as told
from notices.appraisal import COMPONENT_NAMES, score_text
from notices.services import Services
from school.i18n import N_
from storage import appraisal, bookings, inspections, people, post_duties, worklogs
from storage import tickets as store
from storage.appraisal.results import Period
from storage.models import Person, Role, Ticket
from storage.stats import Month
from storage.ticket_flow import ACTIVE, AWAITING

Translate = Callable[[str], str]
Json = dict[str, Any]

# Headings of the page, translated on the server (the page has no catalogue of its own).
LABELS = {
    "title": N_("Logistics cockpit"),
    "today": N_("Today"),
    "tickets": N_("Open repair jobs"),
    "open": N_("Open"),
    "overdue": N_("Overdue"),
    "urgent": N_("Urgent"),
    "nothing_open": N_("Nothing open. 👍"),
    "logs": N_("Work logs today"),
    "filed": N_("Filed"),
    "late": N_("Late"),
    "missing": N_("Missing"),
    "leave": N_("On leave"),
    "not_working_day": N_("(Not a working day.)"),
    "inspection": N_("Inspection round"),
    "no_round": N_("No inspection round yet."),
    "marked": N_("marked"),
    "announced": N_("Last announced"),
    "problems": N_("{count} problem(s)"),
    "approvals": N_("Waiting for your approval"),
    "join_requests": N_("Requests to join"),
    "duties": N_("Post duties"),
    "services": N_("Meetings and receptions"),
    "none": N_("None"),
    "my_jobs": N_("My repair jobs"),
    "my_logs": N_("My work logs"),
    "my_score": N_("My score this month (preliminary)"),
    "not_appraised": N_("Not appraised this month."),
    "my_reports": N_("My repair requests"),
    "no_reports": N_("You have no repair requests yet. /report files one."),
    "no_logs": N_("No logs yet."),
    "month_logs": N_("This month: {on_time} on time, {late} late, {missing} missing"),
    "error": N_("Could not load the cockpit. Close it and open it again from the chat."),
    "back": N_("Back"),
    "timeline": N_("Timeline"),
    "photos": N_("Photos: {count}"),
    "photo": N_("Photo {number}"),
    "no_picture": N_("The picture could not be loaded."),
    "chart": N_("Repair tickets by category"),
    "reporter": N_("Reported by"),
    "month": N_("This month"),
    "ranking": N_("Ranking so far (preliminary)"),
    "nobody": N_("Nobody was appraised in this period."),
    "repairs": N_("Repairs this month"),
    "jobs": N_("Finished"),
    "on_time": N_("On time"),
    "rework": N_("Rework"),
    "rating": N_("Rating"),
    "awaiting": N_("Please check it"),
    "accept": N_("Accept the repair: how many stars?"),
    "rework_reason": N_("Or ask for rework: what is still wrong?"),
    "ask_rework": N_("Ask for rework"),
    "thanks": N_("Thank you!"),
}
RECENT_LOGS = 7
RECENT_ROUNDS = 10  # where the last announced round is looked for
MY_REPORTS = 10
# A ticket's timeline: what each event (storage: ticket_event.action) was.
EVENT_LABELS = {
    "report": N_("reported it"),
    "inspection": N_("found it in an inspection"),
    "take": N_("took the job"),
    "assign": N_("assigned it"),
    "start": N_("started the repair"),
    "defer": N_("deferred it"),
    "release": N_("handed it over"),
    "reject": N_("returned it"),
    "complete": N_("finished the repair"),
    "accept": N_("accepted the repair"),
    "rework": N_("asked for rework"),
    "cancel": N_("withdrew it"),
    "nudge": N_("nudged"),
    "follow": N_("has the same problem"),
    "auto_accept": N_("closed as accepted (no answer)"),
    "unassign": N_("back to the repair group (holder deactivated)"),
}


def labels(_: Translate) -> dict[str, str]:
    """The page's headings in the reader's language."""
    return {key: _(text) for key, text in LABELS.items()}


def has_cockpit(person: Person | None) -> bool:
    """Whether a person gets the cockpit (every active registered person: their own view)."""
    return person is not None and person.active


def _ticket(services: Services, ticket: Ticket, holders: dict[int, str], now: datetime) -> Json:
    profile = services.profile
    try:
        building = profile.building(ticket.building_key).name if ticket.building_key else ""
    except KeyError:
        building = ""
    return {
        "id": ticket.id,
        "number": ticket.number,
        "place": ticket.place,
        "building": building,
        "category": told.category_name(profile, ticket.category_key),
        "urgency": told.urgency_name(profile, ticket.urgency_key),
        "urgent": ticket.urgency_key == store.most_urgent_key(profile),
        "overdue": store.is_overdue(ticket, now),
        "holder": holders.get(ticket.assignee_id) if ticket.assignee_id else None,
    }


def _urgency_rank(services: Services) -> dict[str, int]:
    return {u.key: index for index, u in enumerate(services.profile.repair.urgencies)}


async def ticket_board(
    session: AsyncSession, services: Services, _: Translate, *, assignee_id: int | None = None
) -> Json:
    """Open tickets by status (the order of /tickets); in a column, overdue first, then the
    most urgent, then by building."""
    now = services.now()
    found = await store.active_tickets(session, assignee_id=assignee_id)
    holders = await told.names(session, *(t.assignee_id for t in found))
    rank = _urgency_rank(services)
    columns = []
    for status in ACTIVE:
        of_status = [t for t in found if t.status == status]
        if not of_status:
            continue
        of_status.sort(
            key=lambda t: (
                not store.is_overdue(t, now),
                rank.get(t.urgency_key, len(rank)),
                t.building_key or "~",
                t.number,
            )
        )
        columns.append(
            {
                "status": str(status),
                "label": told.status_label(status, _),
                "count": len(of_status),
                "tickets": [_ticket(services, t, holders, now) for t in of_status],
            }
        )
    return {
        "count": len(found),
        "overdue": sum(1 for t in found if store.is_overdue(t, now)),
        "columns": columns,
    }


async def day_logs(session: AsyncSession, services: Services) -> Json:
    """Today's logs as /logs counts them: filed (and late), missing, on leave."""
    today = services.local_now().date()
    status = await worklogs.day_status(session, today, services.profile)
    return {
        "day": today.isoformat(),
        "working": status.working,
        "filed": [{"name": p.name, "late": log.late} for p, log in status.filed],
        "late": sum(1 for _p, log in status.filed if log.late),
        "missing": [p.name for p in status.missing],
        "leave": [p.name for p in status.on_leave],
    }


async def current_round(session: AsyncSession, services: Services) -> Json | None:
    """The latest inspection round and how far it got, and the last announced result (通报)."""
    recent = await inspections.recent_rounds(session, limit=RECENT_ROUNDS)
    if not recent:
        return None
    round_ = recent[0]
    progress = await inspections.progress(session, services.profile, round_)
    announced = next((r for r in recent if r.announced_at is not None), None)
    last = None
    if announced is not None and announced.announced_at is not None:
        assert announced.id is not None
        marks = await inspections.marks_of(session, announced.id)
        last = {
            "name": inspections.plan_name(services.profile, announced),
            "at": told.local_time(services, announced.announced_at),
            "problems": sum(1 for m in marks if not m.ok),
        }
    return {
        "name": inspections.plan_name(services.profile, round_),
        "status": round_.status,
        "done": progress.done,
        "total": progress.total,
        "deadline": told.local_time(services, round_.deadline_at),
        "announced": last,
    }


async def approvals(session: AsyncSession) -> Json:
    """What waits for a director: requests to join, drafted post duties, meeting and reception
    requests (会务, one per request as the chat asks once for a weekly series)."""
    requests = await people.pending_join_requests(session)
    drafts = await post_duties.pending_duties(session)
    names = await told.names(session, *(d.person_id for d in drafts))
    requested = await bookings.waiting_for_approval(session)
    return {
        "join_requests": [r.name for r in requests],
        "duties": [names.get(d.person_id, "?") for d in drafts],
        "services": [f"{b.number} {b.title}" for b in requested],
    }


async def today(services: Services, _: Translate) -> Json:
    """The director's Today page."""
    async with services.database.reading() as session:
        return {
            "view": "director",
            "tickets": await ticket_board(session, services, _),
            "logs": await day_logs(session, services),
            "inspection": await current_round(session, services),
            "approvals": await approvals(session),
        }


async def score(services: Services, person: Person, _: Translate) -> Json:
    """A person's appraisal this month so far (as /appraisal preview computes it)."""
    assert person.id is not None
    today_ = services.local_now().date()
    period = Period.of_month(Month.of(today_))
    result, version, _correction = await appraisal_actions.period_result(
        services, period, today=today_
    )
    row = result.of(person.id)
    if row is None or row.total is None:
        return {"person": person.name, "period": str(period), "total": None}
    return {
        "person": person.name,
        "period": str(period),
        "version": version,
        "total": round(row.total, 1),
        "grade": row.grade,
        "rank": row.rank,
        "components": [
            {
                "name": _(COMPONENT_NAMES[c.key]),
                "score": None if c.score is None else round(c.score, 1),
                "weight": round(c.weight_used, 1),
            }
            for c in row.components
            if c.applies
        ],
    }


async def staff_view(services: Services, person: Person, _: Translate) -> Json:
    """A staff member's own jobs, logs and score."""
    assert person.id is not None
    today_ = services.local_now().date()
    async with services.database.reading() as session:
        board = await ticket_board(session, services, _, assignee_id=person.id)
        recent = await worklogs.recent_logs(session, person.id, limit=RECENT_LOGS)
        stats = (
            await worklogs.month_stats(session, Month.of(today_), services.profile, today=today_)
        ).get(person.id)
    return {
        "view": "staff",
        "tickets": board,
        "logs": {
            "recent": [
                {"day": log.day.isoformat(), "late": log.late, "items": len(log.items or [])}
                for log in recent
            ],
            "on_time": stats.on_time if stats else 0,
            "late": stats.late if stats else 0,
            "missing": stats.missing if stats else 0,
        },
        "score": await score(services, person, _),
    }


async def teacher_view(services: Services, person: Person, _: Translate) -> Json:
    """A teacher's own repair requests and where each stands."""
    now = services.now()
    async with services.database.reading() as session:
        found = await store.reporter_tickets(session, person.telegram_id, limit=MY_REPORTS)
        holders = await told.names(session, *(t.assignee_id for t in found))
    return {
        "view": "teacher",
        "reports": [
            {
                **_ticket(services, t, holders, now),
                "status": told.status_label(t.status, _),
                "awaiting": t.status in AWAITING,
            }
            for t in found
        ],
    }


async def month(services: Services, _: Translate) -> Json:
    """The director's month so far: the appraisal as /appraisal preview computes it, and the
    repair figures it reads (jobs finished, on time, rework, ratings)."""
    today_ = services.local_now().date()
    this_month = Month.of(today_)
    period = Period.of_month(this_month)
    async with services.database.transaction() as session:  # as /appraisal preview does
        _inputs, result = await appraisal.compute_period(
            session, period, services.profile, today=today_
        )
        repairs = list((await store.month_stats(session, this_month, services.profile)).values())
    ratings = [r for stats in repairs for r in stats.ratings]
    return {
        "view": "month",
        "period": str(period),
        "ranking": [
            {
                "rank": row.rank,
                "person_id": row.person.id,
                "name": row.person.name,
                "total": score_text(row.total),
                "grade": row.grade,
                "star": row.star,
                "vetoed": row.vetoed,
            }
            for row in result.ranked
        ],
        "repairs": {
            "jobs": sum(s.jobs for s in repairs),
            "on_time": sum(s.jobs_on_time for s in repairs),
            "rework": sum(s.rework for s in repairs),
            "rating": round(sum(ratings) / len(ratings), 1) if ratings else None,
        },
    }


async def may_see_ticket(session: AsyncSession, person: Person, ticket: Ticket) -> bool:
    """The crew see every ticket; a teacher the ones they reported or follow."""
    if person.role in (Role.DIRECTOR, Role.STAFF):
        return True
    if ticket.reporter_telegram_id == person.telegram_id:
        return True
    assert ticket.id is not None
    followers = await store.followers_of(session, ticket.id)
    return any(f.telegram_id == person.telegram_id for f in followers)


async def ticket_detail(
    session: AsyncSession, services: Services, ticket: Ticket, _: Translate
) -> Json:
    """A ticket's card and its timeline: who did what, when."""
    assert ticket.id is not None
    events = await store.events_of(session, ticket.id)
    holders = await told.names(session, ticket.assignee_id, *(e.actor_id for e in events))
    photos = await store.pictures_of(session, ticket.id)
    now = services.now()
    return {
        **_ticket(services, ticket, holders, now),
        "status": told.status_label(ticket.status, _),
        "description": ticket.description,
        "reporter": ticket.reporter_name,
        "created": told.local_time(services, ticket.created_at),
        "limits": told.limits_text(services, ticket, _),
        "photos": len(photos),
        "timeline": [
            {
                "at": told.local_time(services, event.at),
                "who": holders.get(event.actor_id) if event.actor_id else None,
                "what": _(EVENT_LABELS[event.action])
                if event.action in EVENT_LABELS
                else event.action,
                "status": told.status_label(event.to_status, _) if event.to_status else None,
                "note": event.note,
            }
            for event in events
        ],
    }


async def own_view(services: Services, person: Person, _: Translate) -> Json:
    """What the person sees first: the director's Today, or their own page."""
    if person.role == Role.DIRECTOR:
        return await today(services, _)
    if person.role == Role.STAFF:
        return await staff_view(services, person, _)
    return await teacher_view(services, person, _)
