"""The ticket status machine is one table: the buttons a person is offered and the storage's
guards agree. For any ticket (status, holder, reporter), any person and any move: the storage
accepts the move exactly when the table says so, refuses it for the table's reason, and a
button is offered exactly for the moves the storage would accept from the person it is shown
to (the shared repair-group card aside: it shows every crew member the same buttons, and the
storage refuses the ones that are not theirs with a reason)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from notices.ticket_buttons import (
    HAND_OVER,
    card_moves,
    offered_to_reporter_on_notice,
    pressed_move,
    reporter_moves,
)
from school.profile import SchoolProfile
from storage import ticket_moves as moves
from storage import tickets
from storage.database import Database
from storage.models import Person, Role, Ticket, TicketStatus
from storage.ticket_flow import ACTIVE, FINAL, FLOW, HELD, Actor, Move, Verdict, Who, judge

NOW = datetime(2026, 11, 23, 9, 0).astimezone()
PEOPLE = {
    "director": (1, Role.DIRECTOR, "director"),
    "plumber": (2, Role.STAFF, "electrician"),
    "fixer": (3, Role.STAFF, "repair"),
    "guard": (4, Role.STAFF, "guard"),  # staff whose post does not handle repairs
    "teacher": (5, Role.TEACHER, None),
    "teacher2": (6, Role.TEACHER, None),
}
STRANGER = 99  # someone unregistered (a teachers' group member)
# Moves a person makes through a button (自动验收 is the clock's; 同一问题 has no status change).
PRESSED = [m for m in Move if FLOW[m].who not in (Who.SYSTEM, Who.ANYONE)]


async def _people(db: Database) -> dict[str, Person]:
    found = {}
    async with db.transaction() as session:
        for name, (telegram_id, role, post) in PEOPLE.items():
            person = Person(
                telegram_id=telegram_id, name=name, role=role, post_key=post, created_at=NOW
            )
            session.add(person)
            await session.flush()
            found[name] = person
    return found


async def _ticket(
    db: Database,
    profile: SchoolProfile,
    reporter: Person,
    status: TicketStatus,
    holder: Person | None,
) -> Ticket:
    async with db.transaction() as session:
        report = tickets.Report("plumbing", "实验楼3楼女厕", "水龙头滴水", "normal")
        ticket = await tickets.create_ticket(
            session, report, tickets.Reporter.of(reporter), profile=profile, now=NOW
        )
        await session.exec(
            update(Ticket)
            .where(Ticket.id == ticket.id)  # type: ignore[arg-type]
            .values(status=status, assignee_id=holder.id if holder else None)
        )
        await session.refresh(ticket)
    return ticket


async def _storage_outcome(
    db: Database,
    profile: SchoolProfile,
    ticket: Ticket,
    move: Move,
    person: Person | None,
    telegram_id: int,
    crew: dict[str, Person],
) -> str:
    """What the storage does with the move: 'allowed', 'moved_on' or the refusal's reason."""
    assert ticket.id is not None
    tid = ticket.id
    later = NOW + timedelta(days=2)
    async with db.transaction() as session:
        try:
            other = crew["fixer"] if ticket.assignee_id == crew["plumber"].id else crew["plumber"]
            details = {
                Move.ASSIGN: moves.Details(assignee=other),
                Move.DEFER: moves.Details(reason="等配件", until=later),
                Move.RELEASE: moves.Details(reason="不会修"),
                Move.REJECT: moves.Details(reason="非维修"),
                Move.COMPLETE: moves.Details(result="fixed"),
                Move.ACCEPT: moves.Details(rating=5),
                Move.REWORK: moves.Details(reason="还在漏"),
                Move.UNASSIGN: moves.Details(reason="已停用"),
            }.get(move, moves.NOTHING)
            actor = Actor.of(person, profile, telegram_id=telegram_id)
            if move == Move.NUDGE:
                change = await moves.nudge(
                    session, tid, actor, interval=timedelta(hours=1), now=NOW
                )
            else:
                change = await moves.make(
                    session, tid, move, actor, profile=profile, now=NOW, details=details
                )
        except moves.NotAllowed as problem:
            return problem.reason
    if change.changed:
        assert change.ticket.status == (FLOW[move].to_state or ticket.status)
        return Verdict.ALLOWED.value
    return Verdict.MOVED_ON.value


def _offered(ticket: Ticket, actor: Actor, *, crew: bool, reporter: bool) -> dict[Move, str]:
    """The moves the buttons shown to this person make, by where they are shown."""
    shown: dict[Move, str] = {}
    if crew:  # the card in the repair group (and an assignee's private copy)
        for row in card_moves(ticket.status):
            for move in row:
                shown[pressed_move(move, director=actor.director)] = "card"
    if reporter:  # /mytickets and the 'repaired, please check' notice
        for move in reporter_moves(ticket.status):
            shown.setdefault(move, "mine")
        for move in offered_to_reporter_on_notice(ticket.status):
            shown.setdefault(move, "notice")
    return shown


STATUSES = st.sampled_from(list(TicketStatus))
HOLDERS = st.sampled_from(["plumber", "fixer", "director", None])
ACTORS = st.sampled_from([*PEOPLE, "stranger"])
REPORTERS = st.sampled_from(["teacher", "plumber"])


def test_buttons_and_storage_agree_on_every_move(tmp_path: Path, profile: SchoolProfile) -> None:
    loop = asyncio.new_event_loop()
    db = Database(f"sqlite:///{tmp_path / 'flow.db'}")
    loop.run_until_complete(db.migrate())
    cast = loop.run_until_complete(_people(db))
    seen: set[tuple[str, str]] = set()

    @settings(
        max_examples=400,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        derandomize=True,
    )
    @given(
        status=STATUSES,
        holder=HOLDERS,
        actor_name=ACTORS,
        reporter_name=REPORTERS,
        move=st.sampled_from(PRESSED),
    )
    def check(
        status: TicketStatus,
        holder: str | None,
        actor_name: str,
        reporter_name: str,
        move: Move,
    ) -> None:
        held = status in HELD or status == TicketStatus.AWAITING_ACCEPTANCE
        holder_person = cast[holder] if holder is not None and held else None
        reporter = cast[reporter_name]
        ticket = loop.run_until_complete(_ticket(db, profile, reporter, status, holder_person))
        person = cast.get(actor_name)
        telegram_id = person.telegram_id if person is not None else STRANGER
        actor = Actor.of(person, profile, telegram_id=telegram_id)

        verdict = judge(move, ticket, actor)
        if person is None and FLOW[move].who != Who.REPORTER:
            # Someone unregistered has no crew move at all (the storage takes a person).
            outcome = Verdict.ROLE.value if FLOW[move].who != Who.HOLDER else verdict.value
        else:
            outcome = loop.run_until_complete(
                _storage_outcome(db, profile, ticket, move, person, telegram_id, cast)
            )
        # The storage does exactly what the table says.
        assert outcome == verdict.value, (move, status, actor_name)

        shown = _offered(
            ticket, actor, crew=actor.crew, reporter=ticket.reporter_telegram_id == telegram_id
        )
        if move in shown:
            # A button is never offered for a status the move does not start from; one shown
            # to this person alone (theirs as the reporter) is never refused.
            assert verdict != Verdict.MOVED_ON, (move, status, shown[move])
            if shown[move] != "card":
                assert verdict == Verdict.ALLOWED, (move, status, actor_name)
        elif verdict == Verdict.ALLOWED:
            # Vice versa: what the storage would accept is offered, except the one move a
            # shared button merges: a director's 转单 picks the next person (指派).
            assert actor.director and move in HAND_OVER, (move, status, actor_name)
        seen.add((move.value, verdict.value))

    try:
        check()
    finally:
        loop.run_until_complete(db.dispose())
        loop.close()
    assert {verdict for _, verdict in seen} >= {"allowed", "moved_on", "role", "not_yours"}


@pytest.mark.parametrize("status", list(TicketStatus))
def test_the_lists_and_the_card_derive_from_the_table(status: TicketStatus) -> None:
    starts = {m for m in Move if status in FLOW[m].from_states}
    assert (status in ACTIVE) == bool(starts)
    assert (status in FINAL) == (not starts)
    for row in card_moves(status):
        for move in row:
            assert status in FLOW[move].from_states
    for move in reporter_moves(status):
        assert status in FLOW[move].from_states and FLOW[move].who == Who.REPORTER
