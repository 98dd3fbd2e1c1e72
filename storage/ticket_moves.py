"""The moves on a repair ticket, guarded by the status table (storage.ticket_flow), and the
clock's claims (overdue digest, urgent alert, automatic acceptance).

Every move is a conditional UPDATE guarded by the status (and holder) the caller saw, so a
button pressed twice, or two people pressing at once, changes a ticket once. A move that no
longer applies returns a `Change` with `event=None` and the ticket as it is now; one the table
does not allow the actor to make raises `NotAllowed`. Time comes in as `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from school.profile import SchoolProfile
from storage import ticket_flow as flow
from storage.models import Person, Ticket, TicketEvent, TicketPhoto, TicketStatus
from storage.ticket_flow import HELD, UNFINISHED, Actor, Move, Verdict, can_handle

RESULTS = ("fixed", "replaced", "unfixable")
MAX_REASON = 500
MAX_NOTE = 1000


class NotAllowed(Exception):
    """The person may not do this to the ticket; `reason` names why.

    Reasons: 'not_yours' (someone else holds it), 'not_reporter', 'role', 'too_soon'.
    """

    def __init__(self, reason: str, *, until: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.until = until


@dataclass(frozen=True)
class Change:
    """The outcome of a transition: the ticket now, and the event if it changed."""

    ticket: Ticket
    event: TicketEvent | None

    @property
    def changed(self) -> bool:
        """True when this call changed the ticket."""
        return self.event is not None


# --- transitions -------------------------------------------------------------------------------


async def _load(session: AsyncSession, ticket_id: int) -> Ticket:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise LookupError(f"no ticket {ticket_id}")
    await session.refresh(ticket)
    return ticket


async def _recorded(
    session: AsyncSession,
    ticket: Ticket,
    actor: Actor,
    action: str,
    from_status: TicketStatus,
    to_status: TicketStatus,
    *,
    note: str | None,
    now: datetime,
) -> Change:
    """The change made, with its event recorded in the ticket's history."""
    assert ticket.id is not None
    event = TicketEvent(
        ticket_id=ticket.id,
        actor_id=actor.person_id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note[:MAX_NOTE] if note else None,
        at=now,
    )
    session.add(event)
    await session.flush()
    return Change(ticket, event)


async def _transition(
    session: AsyncSession,
    ticket: Ticket,
    *,
    move: Move,
    actor: Actor,
    now: datetime,
    note: str | None = None,
    values: dict[str, Any] | None = None,
    action: str | None = None,
) -> Change:
    """Make `move` as the table (storage.ticket_flow) allows it: refuse an actor it does not
    allow (NotAllowed), ignore a ticket that moved on (a Change without an event), otherwise
    move it from the status (and holder) seen, once, and record the event."""
    verdict = flow.judge(move, ticket, actor)
    if verdict == Verdict.MOVED_ON:
        return Change(ticket, None)
    if verdict != Verdict.ALLOWED:
        raise NotAllowed(verdict.value)
    seen_status = TicketStatus(ticket.status)
    to_status = flow.FLOW[move].to_state or seen_status
    assert ticket.id is not None
    guard = [col(Ticket.id) == ticket.id, col(Ticket.status) == seen_status]
    if ticket.assignee_id is None:
        guard.append(col(Ticket.assignee_id).is_(None))
    else:
        guard.append(col(Ticket.assignee_id) == ticket.assignee_id)
    result = await session.exec(
        update(Ticket).where(*guard).values(status=to_status, **(values or {}))
    )
    await session.refresh(ticket)
    if result.rowcount != 1:
        return Change(ticket, None)
    return await _recorded(
        session, ticket, actor, action or move.value, seen_status, to_status, note=note, now=now
    )


async def take(
    session: AsyncSession, ticket_id: int, *, worker: Person, profile: SchoolProfile, now: datetime
) -> Change:
    """接单: a repair worker (or a director) takes an open ticket."""
    ticket = await _load(session, ticket_id)
    return await _transition(
        session,
        ticket,
        move=Move.TAKE,
        actor=Actor.of(worker, profile),
        now=now,
        values={"assignee_id": worker.id, "accepted_at": now, "overdue_reported_at": None},
    )


async def assign(
    session: AsyncSession,
    ticket_id: int,
    *,
    director: Person,
    assignee: Person,
    profile: SchoolProfile,
    now: datetime,
) -> Change:
    """指派 / 转单 by a director: the ticket goes to a person, as 已接单."""
    if not can_handle(assignee, profile):
        raise NotAllowed("role")
    ticket = await _load(session, ticket_id)
    actor = Actor.of(director, profile)
    if actor.director and ticket.assignee_id == assignee.id and ticket.status in HELD:
        return Change(ticket, None)
    was_open = ticket.status == TicketStatus.OPEN
    return await _transition(
        session,
        ticket,
        move=Move.ASSIGN,
        actor=actor,
        now=now,
        note=assignee.name,
        action="assign" if was_open else "transfer",
        values={
            "assignee_id": assignee.id,
            "accepted_at": now if was_open or ticket.accepted_at is None else ticket.accepted_at,
            "overdue_reported_at": None,
        },
    )


async def start(session: AsyncSession, ticket_id: int, *, worker: Person, now: datetime) -> Change:
    """开始维修, by the holder."""
    ticket = await _load(session, ticket_id)
    return await _transition(
        session,
        ticket,
        move=Move.START,
        actor=Actor.of(worker),
        now=now,
        values={"started_at": ticket.started_at or now},
    )


async def defer(
    session: AsyncSession,
    ticket_id: int,
    *,
    worker: Person,
    reason: str,
    until: datetime,
    now: datetime,
) -> Change:
    """申请延期: a reason and a new date; the finish deadline moves to that date."""
    ticket = await _load(session, ticket_id)
    actor = Actor.of(worker)
    if flow.refusal(Move.DEFER, ticket, actor) is None and until <= now:
        raise ValueError("the new date must be in the future")
    return await _transition(
        session,
        ticket,
        move=Move.DEFER,
        actor=actor,
        now=now,
        note=reason,
        values={
            "deferred_until": until,
            "finish_by": until,
            "status_reason": reason[:MAX_REASON],
            "overdue_reported_at": None,
        },
    )


async def release(
    session: AsyncSession, ticket_id: int, *, worker: Person, reason: str, now: datetime
) -> Change:
    """转单 by a worker: hand the job back to the group (待接单 again) with a reason."""
    ticket = await _load(session, ticket_id)
    return await _transition(
        session,
        ticket,
        move=Move.RELEASE,
        actor=Actor.of(worker),
        now=now,
        note=reason,
        values={"assignee_id": None, "status_reason": reason[:MAX_REASON]},
    )


async def reject(
    session: AsyncSession,
    ticket_id: int,
    *,
    actor: Person,
    reason: str,
    profile: SchoolProfile,
    now: datetime,
) -> Change:
    """退回: not a job for the repair team (or not a fault), with a reason."""
    ticket = await _load(session, ticket_id)
    return await _transition(
        session,
        ticket,
        move=Move.REJECT,
        actor=Actor.of(actor, profile),
        now=now,
        note=reason,
        values={"status_reason": reason[:MAX_REASON], "closed_at": now},
    )


async def complete(
    session: AsyncSession,
    ticket_id: int,
    *,
    worker: Person,
    result: str,
    note: str | None,
    photo_file_id: str | None,
    now: datetime,
) -> Change:
    """维修完成: result (已修复/已换新/无法修复), optional note and photo; waits for 验收."""
    if result not in RESULTS:
        raise ValueError(f"unknown result {result!r}")
    ticket = await _load(session, ticket_id)
    change = await _transition(
        session,
        ticket,
        move=Move.COMPLETE,
        actor=Actor.of(worker),
        now=now,
        note=note,
        values={
            "completed_at": now,
            "result": result,
            "result_note": note[:MAX_NOTE] if note else None,
        },
    )
    if change.changed and photo_file_id:
        assert ticket.id is not None
        session.add(
            TicketPhoto(ticket_id=ticket.id, file_id=photo_file_id, kind="completion", added_at=now)
        )
        await session.flush()
    return change


async def accept(
    session: AsyncSession,
    ticket_id: int,
    *,
    reporter_telegram_id: int,
    reporter: Person | None,
    rating: int,
    now: datetime,
) -> Change:
    """确认验收 with a 1-5 rating: the ticket is 已完成."""
    if not 1 <= rating <= 5:
        raise ValueError("a rating is 1-5")
    ticket = await _load(session, ticket_id)
    return await _transition(
        session,
        ticket,
        move=Move.ACCEPT,
        actor=Actor.of(reporter, telegram_id=reporter_telegram_id),
        now=now,
        note=str(rating),
        values={"rating": rating, "closed_at": now},
    )


async def add_rating_comment(
    session: AsyncSession, ticket_id: int, *, reporter_telegram_id: int, comment: str
) -> bool:
    """The reporter's optional comment on an accepted job; False if it has one already."""
    ticket = await _load(session, ticket_id)
    if ticket.reporter_telegram_id != reporter_telegram_id:
        raise NotAllowed(Verdict.NOT_REPORTER.value)
    result = await session.exec(
        update(Ticket)
        .where(
            col(Ticket.id) == ticket_id,
            col(Ticket.status) == TicketStatus.CLOSED,
            col(Ticket.rating_comment).is_(None),
        )
        .values(rating_comment=comment[:MAX_NOTE])
    )
    await session.refresh(ticket)
    return bool(result.rowcount)


async def rework(
    session: AsyncSession,
    ticket_id: int,
    *,
    reporter_telegram_id: int,
    reporter: Person | None,
    reason: str,
    profile: SchoolProfile,
    now: datetime,
) -> Change:
    """返修: the reporter rejects the fix; the job goes back to its worker with a new limit."""
    ticket = await _load(session, ticket_id)
    _accept_by, finish_by = profile.deadlines(now, ticket.urgency_key)
    return await _transition(
        session,
        ticket,
        move=Move.REWORK,
        actor=Actor.of(reporter, telegram_id=reporter_telegram_id),
        now=now,
        note=reason,
        values={
            "status_reason": reason[:MAX_REASON],
            "rework_count": ticket.rework_count + 1,
            "finish_by": finish_by,
            "overdue_reported_at": None,
        },
    )


async def cancel(
    session: AsyncSession,
    ticket_id: int,
    *,
    reporter_telegram_id: int,
    reporter: Person | None,
    now: datetime,
) -> Change:
    """撤销 by the reporter, only before anyone took it."""
    ticket = await _load(session, ticket_id)
    return await _transition(
        session,
        ticket,
        move=Move.CANCEL,
        actor=Actor.of(reporter, telegram_id=reporter_telegram_id),
        now=now,
        values={"closed_at": now},
    )


async def nudge(
    session: AsyncSession,
    ticket_id: int,
    *,
    reporter_telegram_id: int,
    reporter: Person | None,
    interval: timedelta,
    now: datetime,
) -> Change:
    """催办: at most once per interval, on an unfinished ticket; NotAllowed('too_soon')."""
    ticket = await _load(session, ticket_id)
    actor = Actor.of(reporter, telegram_id=reporter_telegram_id)
    verdict = flow.judge(Move.NUDGE, ticket, actor)
    if verdict == Verdict.MOVED_ON:
        return Change(ticket, None)
    if verdict != Verdict.ALLOWED:
        raise NotAllowed(verdict.value)
    threshold = now - interval
    if ticket.last_nudge_at is not None and ticket.last_nudge_at > threshold:
        raise NotAllowed("too_soon", until=ticket.last_nudge_at + interval)
    result = await session.exec(
        update(Ticket)
        .where(
            col(Ticket.id) == ticket_id,
            col(Ticket.status).in_(flow.FLOW[Move.NUDGE].from_states),
            or_(col(Ticket.last_nudge_at).is_(None), col(Ticket.last_nudge_at) <= threshold),
        )
        .values(last_nudge_at=now)
    )
    await session.refresh(ticket)
    if result.rowcount != 1:
        raise NotAllowed("too_soon", until=(ticket.last_nudge_at or now) + interval)
    return await _recorded(
        session, ticket, actor, "nudge", ticket.status, ticket.status, note=None, now=now
    )


# --- scheduled checks --------------------------------------------------------------------------


async def auto_accept_due(
    session: AsyncSession, *, profile: SchoolProfile, now: datetime
) -> list[Change]:
    """Close tickets left in 待验收 for auto_accept_days with the default rating."""
    limit = now - timedelta(days=profile.repair.auto_accept_days)
    query = select(Ticket).where(
        col(Ticket.status).in_(flow.FLOW[Move.AUTO_ACCEPT].from_states),
        col(Ticket.completed_at) <= limit,
    )
    changes = []
    for ticket in (await session.exec(query.order_by(col(Ticket.id)))).all():
        change = await _transition(
            session,
            ticket,
            move=Move.AUTO_ACCEPT,
            actor=flow.SYSTEM,
            now=now,
            note=str(profile.repair.default_rating),
            values={
                "rating": profile.repair.default_rating,
                "closed_at": now,
                "auto_closed": True,
            },
        )
        if change.changed:
            changes.append(change)
    return changes


async def _claim_each(
    session: AsyncSession, candidates: Any, flag: Any, now: datetime
) -> list[Ticket]:
    """Set `flag` (a nullable timestamp column) to now on each candidate still without it.

    One conditional UPDATE per ticket, so two overlapping checks never claim the same one.
    """
    claimed = []
    for ticket_id in (await session.exec(candidates.order_by(col(Ticket.id)))).all():
        assert ticket_id is not None
        result = await session.exec(
            update(Ticket).where(col(Ticket.id) == ticket_id, flag.is_(None)).values({flag: now})
        )
        if result.rowcount == 1:
            claimed.append(await _load(session, ticket_id))
    return claimed


async def claim_overdue(session: AsyncSession, *, now: datetime) -> list[Ticket]:
    """Newly overdue tickets, each marked reported so it goes into one digest only."""
    overdue = or_(
        and_(col(Ticket.status) == TicketStatus.OPEN, col(Ticket.accept_by) < now),
        and_(col(Ticket.status).in_(UNFINISHED), col(Ticket.finish_by) < now),
    )
    flag = col(Ticket.overdue_reported_at)
    return await _claim_each(session, select(Ticket.id).where(overdue, flag.is_(None)), flag, now)


async def claim_urgent_alerts(
    session: AsyncSession, *, profile: SchoolProfile, now: datetime
) -> list[Ticket]:
    """Most-urgent tickets nobody took within their limit, each claimed for one alert."""
    flag = col(Ticket.urgent_alerted_at)
    candidates = select(Ticket.id).where(
        col(Ticket.status).in_(flow.FLOW[Move.TAKE].from_states),  # nobody took it yet
        Ticket.urgency_key == profile.repair.urgencies[0].key,  # the most urgent level
        col(Ticket.accept_by) < now,
        flag.is_(None),
    )
    return await _claim_each(session, candidates, flag, now)
