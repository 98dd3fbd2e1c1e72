"""The repair ticket's status machine as one table.

Each row says, for one move (接单, 指派, 开始维修, 延期, 转单, 退回, 维修完成, 验收, 返修, 撤销,
催办, 同一问题, 自动验收, a deactivated holder's jobs going back): the statuses it may start
from, the status it leads to, who may make it, and what it asks of the person making it.
Everything else derives from the table: the storage guards (`storage.ticket_moves` refuses
or ignores a move exactly as `judge` says), the buttons a card, a notice or /mytickets shows,
the handlers' checks before they ask for a reason, and the lists (what is active, what is
final).
Nothing here knows Telegram.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from school.profile import SchoolProfile
from storage.models import Person, Role, Ticket, TicketStatus


class Move(enum.StrEnum):
    """What someone can do to a ticket."""

    TAKE = "take"  # 接单
    ASSIGN = "assign"  # 指派 / a director's 转单
    START = "start"  # 开始维修
    DEFER = "defer"  # 延期
    RELEASE = "release"  # 转单 by the holder: back to the repair group
    REJECT = "reject"  # 退回
    COMPLETE = "complete"  # 维修完成
    ACCEPT = "accept"  # 确认验收 with a rating
    REWORK = "rework"  # 返修
    CANCEL = "cancel"  # 撤销
    NUDGE = "nudge"  # 催办
    FOLLOW = "follow"  # 同一问题: follow an open ticket
    AUTO_ACCEPT = "auto_accept"  # closed after days in 待验收
    UNASSIGN = "unassign"  # the holder was deactivated: the job goes back to the repair group


class Who(enum.StrEnum):
    """Who may make a move."""

    CREW = "crew"  # directors and staff whose post handles repairs
    DIRECTOR = "director"
    HOLDER = "holder"  # whoever holds the job (while someone holds it)
    REPORTER = "reporter"  # the person who reported it
    ANYONE = "anyone"  # anyone who may report faults
    SYSTEM = "system"  # a scheduled job


class Asks(enum.StrEnum):
    """What a move asks of the person making it, in their private chat."""

    NOTHING = "nothing"
    PERSON = "person"  # the director picks who does it
    REASON = "reason"
    REASON_AND_DATE = "reason_and_date"
    RESULT = "result"  # the result, then a photo or note (optional)
    RATING = "rating"  # 1-5 stars, then a comment (optional)


# Nobody has taken the job yet.
UNTAKEN = frozenset({TicketStatus.OPEN})
# Statuses in which someone holds the job.
HELD = frozenset(
    {
        TicketStatus.ACCEPTED,
        TicketStatus.IN_PROGRESS,
        TicketStatus.DEFERRED,
        TicketStatus.REWORK,
    }
)
# Not finished yet: the finish deadline still applies.
UNFINISHED = frozenset({TicketStatus.OPEN, *HELD})
AWAITING = frozenset({TicketStatus.AWAITING_ACCEPTANCE})


@dataclass(frozen=True)
class Transition:
    """One row of the table."""

    move: Move
    from_states: frozenset[TicketStatus]
    to_state: TicketStatus | None  # None: the status stays (催办, 同一问题)
    who: Who
    asks: Asks


FLOW: dict[Move, Transition] = {
    row.move: row
    for row in (
        Transition(Move.TAKE, UNTAKEN, TicketStatus.ACCEPTED, Who.CREW, Asks.NOTHING),
        Transition(Move.ASSIGN, UNFINISHED, TicketStatus.ACCEPTED, Who.DIRECTOR, Asks.PERSON),
        Transition(
            Move.START,
            HELD - {TicketStatus.IN_PROGRESS},
            TicketStatus.IN_PROGRESS,
            Who.HOLDER,
            Asks.NOTHING,
        ),
        Transition(Move.DEFER, HELD, TicketStatus.DEFERRED, Who.HOLDER, Asks.REASON_AND_DATE),
        Transition(Move.RELEASE, HELD, TicketStatus.OPEN, Who.HOLDER, Asks.REASON),
        Transition(Move.REJECT, UNTAKEN, TicketStatus.REJECTED, Who.CREW, Asks.REASON),
        Transition(Move.COMPLETE, HELD, TicketStatus.AWAITING_ACCEPTANCE, Who.HOLDER, Asks.RESULT),
        Transition(Move.ACCEPT, AWAITING, TicketStatus.CLOSED, Who.REPORTER, Asks.RATING),
        Transition(Move.REWORK, AWAITING, TicketStatus.REWORK, Who.REPORTER, Asks.REASON),
        Transition(Move.CANCEL, UNTAKEN, TicketStatus.CANCELLED, Who.REPORTER, Asks.NOTHING),
        Transition(Move.NUDGE, UNFINISHED, None, Who.REPORTER, Asks.NOTHING),
        Transition(Move.FOLLOW, UNFINISHED, None, Who.ANYONE, Asks.NOTHING),
        Transition(Move.AUTO_ACCEPT, AWAITING, TicketStatus.CLOSED, Who.SYSTEM, Asks.NOTHING),
        Transition(Move.UNASSIGN, HELD, TicketStatus.OPEN, Who.SYSTEM, Asks.NOTHING),
    )
}

# The order statuses are listed in (/tickets groups open jobs in this order).
ORDER = (
    TicketStatus.OPEN,
    TicketStatus.ACCEPTED,
    TicketStatus.IN_PROGRESS,
    TicketStatus.DEFERRED,
    TicketStatus.REWORK,
    TicketStatus.AWAITING_ACCEPTANCE,
    TicketStatus.CLOSED,
    TicketStatus.REJECTED,
    TicketStatus.CANCELLED,
)
# Everything that still needs someone (shown on /tickets): a status some move starts from.
ACTIVE = tuple(s for s in ORDER if any(s in row.from_states for row in FLOW.values()))
FINAL = tuple(s for s in ORDER if s not in ACTIVE)
# Statuses in which the card names the holder.
SHOWS_HOLDER = HELD | AWAITING


# --- who is acting ---------------------------------------------------------------------------


def can_handle(person: Person | None, profile: SchoolProfile) -> bool:
    """Directors and staff whose post handles repairs may take and do jobs."""
    if person is None or not person.active:
        return False
    if person.role == Role.DIRECTOR:
        return True
    if person.role != Role.STAFF or not person.post_key:
        return False
    try:
        return profile.post(person.post_key).handles_repairs
    except KeyError:
        return False


@dataclass(frozen=True)
class Actor:
    """The person making a move, as the table sees them."""

    person_id: int | None
    telegram_id: int | None
    crew: bool
    director: bool

    @classmethod
    def of(
        cls,
        person: Person | None,
        profile: SchoolProfile | None = None,
        *,
        telegram_id: int | None = None,
    ) -> Actor:
        """The actor for a person (None: someone unregistered, by their Telegram id)."""
        return cls(
            person_id=person.id if person is not None else None,
            telegram_id=telegram_id
            if telegram_id is not None
            else (person.telegram_id if person is not None else None),
            crew=can_handle(person, profile) if profile is not None else False,
            director=person is not None and person.active and person.role == Role.DIRECTOR,
        )


SYSTEM = Actor(person_id=None, telegram_id=None, crew=False, director=False)


class Verdict(enum.StrEnum):
    """What the table says of a move by an actor on a ticket as it is now."""

    ALLOWED = "allowed"
    MOVED_ON = "moved_on"  # the ticket is no longer in a status the move starts from
    ROLE = "role"  # the actor's role cannot make it
    NOT_YOURS = "not_yours"  # someone else holds the job
    NOT_REPORTER = "not_reporter"


def refusal(move: Move, ticket: Ticket, actor: Actor) -> Verdict | None:
    """Why the actor may not make the move whatever the status (None: they may)."""
    who = FLOW[move].who
    if who == Who.CREW and not actor.crew:
        return Verdict.ROLE
    if who == Who.DIRECTOR and not actor.director:
        return Verdict.ROLE
    if who == Who.HOLDER and ticket.status in HELD and ticket.assignee_id != actor.person_id:
        return Verdict.NOT_YOURS
    if who == Who.REPORTER and ticket.reporter_telegram_id != actor.telegram_id:
        return Verdict.NOT_REPORTER
    if who == Who.SYSTEM and actor != SYSTEM:
        return Verdict.ROLE
    return None


def judge(move: Move, ticket: Ticket, actor: Actor) -> Verdict:
    """The verdict on a move: who may make it first, then whether the status allows it."""
    refused = refusal(move, ticket, actor)
    if refused is not None:
        return refused
    if ticket.status not in FLOW[move].from_states:
        return Verdict.MOVED_ON
    return Verdict.ALLOWED


def moves_from(status: str) -> list[Move]:
    """The moves that start from a status, in the table's order."""
    return [row.move for row in FLOW.values() if status in row.from_states]
