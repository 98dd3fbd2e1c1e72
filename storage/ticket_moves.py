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
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from school.profile import SchoolProfile
from storage import ticket_costs as costs
from storage import ticket_flow as flow
from storage.models import Person, Ticket, TicketEvent, TicketPhoto, TicketStatus
from storage.rows import saved
from storage.ticket_costs import MaterialLine
from storage.ticket_flow import HELD, UNFINISHED, Actor, Move, Verdict, can_handle
from storage.tickets import COMPLETION_VOICE, Voice, keep_voice

RESULTS = ("fixed", "replaced", "unfixable")
MAX_REASON = 500
MAX_NOTE = 1000


@dataclass(eq=False)
class NotAllowed(Exception):
    """The person may not do this to the ticket; `reason` names why: 'not_yours' (someone
    else holds it), 'not_reporter', 'role', 'too_soon' (with `until`), 'nobody'."""

    reason: str
    until: datetime | None = None

    def __post_init__(self) -> None:
        super().__init__(self.reason)


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
    return Change(ticket, await saved(session, event))


@dataclass(frozen=True)
class Details:
    """What the person making a move gives with it (the status table's `asks`)."""

    reason: str | None = None  # 延期, 转单, 退回, 返修
    until: datetime | None = None  # 延期: the new finish date
    assignee: Person | None = None  # 指派
    result: str | None = None  # 维修完成: one of RESULTS
    note: str | None = None  # 维修完成
    photo_file_id: str | None = None  # 维修完成
    voice: Voice | None = None  # 维修完成: a voice note
    materials: tuple[MaterialLine, ...] = ()  # 维修完成: the materials used
    hours: Decimal | None = None  # 维修完成: hours worked (added to the job's)
    rating: int | None = None  # 验收: 1-5


NOTHING = Details()


@dataclass(frozen=True)
class _Request:
    """A move asked for: by whom, with what, under which profile, when."""

    move: Move
    actor: Actor
    details: Details
    profile: SchoolProfile
    now: datetime


@dataclass(frozen=True)
class _Effect:
    """What a move writes besides the status: the ticket's columns, the event's note, and the
    event's action when it differs from the move's name."""

    values: dict[str, Any]
    note: str | None = None
    action: str | None = None


def _reason(details: Details) -> str:
    if not details.reason:
        raise ValueError("this move needs a reason")
    return details.reason[:MAX_REASON]


def _effect(request: _Request, ticket: Ticket) -> _Effect:
    """The columns a move sets besides the status (the status table says which status)."""
    move, details, now = request.move, request.details, request.now
    values: dict[str, Any] = {}
    if move in (Move.TAKE, Move.ASSIGN):
        held_since = None if ticket.status == TicketStatus.OPEN else ticket.accepted_at
        values["accepted_at"] = held_since or now
        values["overdue_reported_at"] = None
        if move == Move.TAKE:
            return _Effect(values | {"assignee_id": request.actor.person_id})
        assert details.assignee is not None
        values["assignee_id"] = details.assignee.id
        action = "assign" if ticket.status == TicketStatus.OPEN else "transfer"
        return _Effect(values, note=details.assignee.name, action=action)
    if move == Move.START:
        return _Effect({"started_at": ticket.started_at or now})
    if move in (Move.DEFER, Move.RELEASE, Move.REJECT, Move.REWORK, Move.UNASSIGN):
        values["status_reason"] = _reason(details)
        if move == Move.DEFER:
            values |= {"deferred_until": details.until, "finish_by": details.until}
        elif move in (Move.RELEASE, Move.UNASSIGN):
            values["assignee_id"] = None
        elif move == Move.REJECT:
            values["closed_at"] = now
        else:  # 返修: a new limit to finish by
            values["rework_count"] = ticket.rework_count + 1
            values["finish_by"] = request.profile.deadlines(now, ticket.urgency_key)[1]
        if move in (Move.DEFER, Move.REWORK):
            values["overdue_reported_at"] = None
        return _Effect(values, note=details.reason)
    if move == Move.COMPLETE:
        note = details.note[:MAX_NOTE] if details.note else None
        values = {"completed_at": now, "result": details.result, "result_note": note}
        if details.hours is not None:
            values["hours"] = (ticket.hours or Decimal(0)) + details.hours
        return _Effect(values, note)
    if move in (Move.ACCEPT, Move.AUTO_ACCEPT):
        automatic = move == Move.AUTO_ACCEPT
        rating = request.profile.repair.default_rating if automatic else details.rating
        values = {"rating": rating, "closed_at": now} | ({"auto_closed": True} if automatic else {})
        return _Effect(values, note=str(rating))
    if move == Move.CANCEL:
        return _Effect({"closed_at": now})
    raise ValueError(f"{move} is not a move of the status")


def _check(request: _Request, ticket: Ticket) -> None:
    """Refuse what the details make impossible, before anything is written."""
    move, details = request.move, request.details
    if move == Move.ASSIGN and not can_handle(details.assignee, request.profile):
        raise NotAllowed("role")
    if move == Move.DEFER and flow.refusal(move, ticket, request.actor) is None:
        if details.until is None or details.until <= request.now:
            raise ValueError("the new date must be in the future")
    if move == Move.COMPLETE and details.result not in RESULTS:
        raise ValueError(f"unknown result {details.result!r}")
    if move == Move.ACCEPT and details.rating not in range(1, 6):
        raise ValueError("a rating is 1-5")


async def make(
    session: AsyncSession,
    ticket_id: int,
    move: Move,
    actor: Actor,
    *,
    profile: SchoolProfile,
    now: datetime,
    details: Details = NOTHING,
) -> Change:
    """Make `move` on a ticket as the status table (storage.ticket_flow) allows it: refuse an
    actor it does not allow (NotAllowed), ignore a ticket that moved on (a Change without an
    event), otherwise move it from the status (and holder) seen, once, and record the event.
    接单 takes the job for the actor; a director's 指派 names `details.assignee`."""
    ticket = await _load(session, ticket_id)
    request = _Request(move, actor, details, profile, now)
    _check(request, ticket)
    if move == Move.ASSIGN and actor.director and ticket.status in HELD:
        assert details.assignee is not None
        if ticket.assignee_id == details.assignee.id:
            return Change(ticket, None)
    change = await _transition(session, ticket, request)
    if change.changed and move == Move.COMPLETE and details.photo_file_id:
        assert ticket.id is not None
        photo = TicketPhoto(
            ticket_id=ticket.id, file_id=details.photo_file_id, kind="completion", added_at=now
        )
        await saved(session, photo)
    if change.changed and move == Move.COMPLETE and details.materials:
        assert ticket.id is not None and change.event is not None
        costs.keep_lines(
            session,
            ticket.id,
            details.materials,
            event_id=change.event.id,
            person_id=actor.person_id,
            now=now,
        )
        await session.flush()
    if change.changed and move == Move.COMPLETE and details.voice is not None:
        assert ticket.id is not None
        keep_voice(session, ticket.id, details.voice, kind=COMPLETION_VOICE, now=now)
        await session.flush()
    return change


async def _transition(session: AsyncSession, ticket: Ticket, request: _Request) -> Change:
    """The guarded UPDATE of a move the table allows, and its event."""
    move, actor = request.move, request.actor
    verdict = flow.judge(move, ticket, actor)
    if verdict == Verdict.MOVED_ON:
        return Change(ticket, None)
    if verdict != Verdict.ALLOWED:
        raise NotAllowed(verdict.value)
    effect = _effect(request, ticket)
    seen_status = TicketStatus(ticket.status)
    to_status = flow.FLOW[move].to_state or seen_status
    assert ticket.id is not None
    guard = [col(Ticket.id) == ticket.id, col(Ticket.status) == seen_status]
    if ticket.assignee_id is None:
        guard.append(col(Ticket.assignee_id).is_(None))
    else:
        guard.append(col(Ticket.assignee_id) == ticket.assignee_id)
    result = await session.exec(
        update(Ticket).where(*guard).values(status=to_status, **effect.values)
    )
    await session.refresh(ticket)
    if result.rowcount != 1:
        return Change(ticket, None)
    action = effect.action or move.value
    return await _recorded(
        session, ticket, actor, action, seen_status, to_status, note=effect.note, now=request.now
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


async def nudge(
    session: AsyncSession, ticket_id: int, actor: Actor, *, interval: timedelta, now: datetime
) -> Change:
    """催办: at most once per interval, on an unfinished ticket; NotAllowed('too_soon')."""
    ticket = await _load(session, ticket_id)
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
        request = _Request(Move.AUTO_ACCEPT, flow.SYSTEM, NOTHING, profile, now)
        change = await _transition(session, ticket, request)
        if change.changed:
            changes.append(change)
    return changes


async def send_back_held(
    session: AsyncSession, person: Person, *, reason: str, profile: SchoolProfile, now: datetime
) -> list[Change]:
    """The unfinished jobs a person holds go back to the repair group (待接单), as when they
    are deactivated; each with its event. Done jobs waiting for acceptance stay theirs."""
    held = select(Ticket).where(col(Ticket.status).in_(HELD), Ticket.assignee_id == person.id)
    changes = []
    for ticket in (await session.exec(held.order_by(col(Ticket.id)))).all():
        request = _Request(Move.UNASSIGN, flow.SYSTEM, Details(reason=reason), profile, now)
        change = await _transition(session, ticket, request)
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
