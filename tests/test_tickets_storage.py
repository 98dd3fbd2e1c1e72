"""Storage rules of repair tickets: numbering, the guarded status machine, deadlines, stats."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from school.clock import ManualClock
from school.profile import SchoolProfile
from storage import ticket_moves as moves
from storage import tickets
from storage.database import Database
from storage.models import Person, Role, TicketStatus
from storage.stats import Month
from storage.ticket_flow import Actor, Move


async def _make(
    session: AsyncSession,
    ticket_id: int,
    move: Move,
    person: Person | None,
    profile: SchoolProfile,
    now: datetime,
    *,
    telegram_id: int | None = None,
    **details: Any,
) -> moves.Change:
    """A move by a person, as the actions make it."""
    actor = Actor.of(person, profile, telegram_id=telegram_id)
    return await moves.make(
        session, ticket_id, move, actor, profile=profile, now=now, details=moves.Details(**details)
    )


async def _person(
    db: Database, clock: ManualClock, telegram_id: int, name: str, role: Role, post: str | None
) -> Person:
    async with db.transaction() as session:
        person = Person(
            telegram_id=telegram_id,
            name=name,
            role=role,
            post_key=post,
            created_at=clock.now(),
        )
        session.add(person)
        await session.flush()
    return person


async def _cast(db: Database, clock: ManualClock) -> tuple[Person, Person, Person, Person]:
    director = await _person(db, clock, 1, "张主任", Role.DIRECTOR, "director")
    plumber = await _person(db, clock, 2, "李师傅", Role.STAFF, "electrician")
    fixer = await _person(db, clock, 3, "赵师傅", Role.STAFF, "repair")
    teacher = await _person(db, clock, 4, "王芳", Role.TEACHER, None)
    return director, plumber, fixer, teacher


async def _ticket(
    db: Database,
    clock: ManualClock,
    profile: SchoolProfile,
    teacher: Person,
    *,
    urgency: str = "normal",
    category: str = "plumbing",
    room: str = "女厕",
) -> int:
    async with db.transaction() as session:
        report = tickets.Report(
            category=category,
            place=f"实验楼3楼{room}",
            description="水龙头一直滴水",
            urgency=urgency,
            building="lab",
            floor="3楼",
            room=room,
            photos=["PHOTO1", "PHOTO2"],
        )
        reporter = tickets.Reporter.of(teacher)
        ticket = await tickets.create_ticket(
            session, report, reporter, profile=profile, now=clock.now()
        )
    assert ticket.id is not None
    return ticket.id


async def test_numbers_deadlines_photos_and_event(
    database: Database, clock: ManualClock, profile: SchoolProfile
) -> None:
    _d, _p, _f, teacher = await _cast(database, clock)
    first = await _ticket(database, clock, profile, teacher)
    second = await _ticket(database, clock, profile, teacher, urgency="urgent")
    async with database.transaction() as session:
        a = await tickets.get_ticket(session, first)
        b = await tickets.get_ticket(session, second)
        assert a is not None and b is not None
        assert (a.number, b.number) == ("BX-2611-001", "BX-2611-002")
        assert a.accept_by == clock.now() + timedelta(hours=24)
        # Mon 09:00 + 3 working days = Thu 09:00
        assert a.finish_by is not None
        assert a.finish_by.astimezone(profile.tz).strftime("%a %H:%M") == "Thu 09:00"
        assert b.accept_by == clock.now() + timedelta(minutes=30)
        assert (await tickets.media_of(session, first)).photos == ["PHOTO1", "PHOTO2"]
        tickets.keep_voice(
            session, first, tickets.Voice("V1", 5), kind=tickets.VOICE, now=clock.now()
        )
        tickets.keep_voice(
            session, first, tickets.Voice("V2", 7), kind=tickets.VOICE, now=clock.now()
        )
        assert await tickets.media_of(session, first) == tickets.TicketMedia(
            photos=["PHOTO1", "PHOTO2"], voice=tickets.Voice("V2", 7), done_voice=None
        )
        assert await tickets.media_of(session, second) == tickets.TicketMedia(
            photos=["PHOTO1", "PHOTO2"], voice=None, done_voice=None
        )
        events = await tickets.events_of(session, first)
        assert [(e.action, e.to_status) for e in events] == [("report", "open")]
    clock.advance(timedelta(days=10))  # December: the sequence starts again
    third = await _ticket(database, clock, profile, teacher)
    async with database.transaction() as session:
        c = await tickets.get_ticket(session, third)
        assert c is not None and c.number == "BX-2612-001"


async def test_concurrent_reports_get_distinct_numbers(
    database: Database, clock: ManualClock, profile: SchoolProfile
) -> None:
    """A whole class reporting at once: every report is filed, numbered without gaps."""
    _d, _p, _f, teacher = await _cast(database, clock)
    ids = await asyncio.gather(*(_ticket(database, clock, profile, teacher) for _ in range(30)))
    async with database.transaction() as session:
        numbers = set()
        for ticket_id in ids:
            ticket = await tickets.get_ticket(session, ticket_id)
            assert ticket is not None
            numbers.add(ticket.number)
    assert numbers == {f"BX-2611-{n:03d}" for n in range(1, 31)}


async def test_numbers_go_past_999(
    database: Database, clock: ManualClock, profile: SchoolProfile
) -> None:
    _d, _p, _f, teacher = await _cast(database, clock)
    first = await _ticket(database, clock, profile, teacher)
    async with database.transaction() as session:
        ticket = await tickets.get_ticket(session, first)
        assert ticket is not None
        ticket.number = "BX-2611-999"
        session.add(ticket)
    second = await _ticket(database, clock, profile, teacher)
    third = await _ticket(database, clock, profile, teacher)
    async with database.reading() as session:
        numbers = [(await tickets.get_ticket(session, i)) for i in (second, third)]
    assert [t.number for t in numbers if t] == ["BX-2611-1000", "BX-2611-1001"]


async def test_take_is_guarded_and_permissions_hold(
    database: Database, clock: ManualClock, profile: SchoolProfile
) -> None:
    _director, plumber, fixer, teacher = await _cast(database, clock)
    ticket_id = await _ticket(database, clock, profile, teacher)
    now = clock.now()
    async with database.transaction() as session:
        with pytest.raises(moves.NotAllowed):
            await _make(session, ticket_id, Move.TAKE, teacher, profile, now)
    async with database.transaction() as session:
        first = await _make(session, ticket_id, Move.TAKE, plumber, profile, now)
    async with database.transaction() as session:
        again = await _make(session, ticket_id, Move.TAKE, plumber, profile, now)
        other = await _make(session, ticket_id, Move.TAKE, fixer, profile, now)
    assert first.changed and not again.changed and not other.changed
    assert other.ticket.assignee_id == plumber.id
    async with database.transaction() as session:
        with pytest.raises(moves.NotAllowed):
            await _make(session, ticket_id, Move.START, fixer, profile, now)
        with pytest.raises(moves.NotAllowed):
            await _make(
                session,
                ticket_id,
                Move.COMPLETE,
                fixer,
                profile,
                now,
                result="fixed",
                note=None,
                photo_file_id=None,
            )
        with pytest.raises(moves.NotAllowed):
            await _make(session, ticket_id, Move.ASSIGN, plumber, profile, now, assignee=fixer)
        with pytest.raises(moves.NotAllowed):
            await moves.nudge(
                session,
                ticket_id,
                Actor.of(None, telegram_id=999),
                interval=timedelta(hours=4),
                now=now,
            )
    async with database.transaction() as session:
        late = await _make(
            session, ticket_id, Move.CANCEL, teacher, profile, now, telegram_id=teacher.telegram_id
        )
    assert not late.changed and late.ticket.status == TicketStatus.ACCEPTED


async def test_whole_life_with_rework_and_stats(
    database: Database, clock: ManualClock, profile: SchoolProfile
) -> None:
    director, plumber, fixer, teacher = await _cast(database, clock)
    ticket_id = await _ticket(database, clock, profile, teacher)
    tid = teacher.telegram_id
    async with database.transaction() as session:
        assigned = await _make(
            session, ticket_id, Move.ASSIGN, director, profile, clock.now(), assignee=fixer
        )
    assert assigned.changed and assigned.ticket.status == TicketStatus.ACCEPTED
    assert assigned.ticket.accepted_at == clock.now()
    clock.advance(timedelta(minutes=10))
    async with database.transaction() as session:
        moved = await _make(
            session, ticket_id, Move.ASSIGN, director, profile, clock.now(), assignee=plumber
        )
        assert moved.event is not None and moved.event.action == "transfer"
        started = await _make(session, ticket_id, Move.START, plumber, profile, clock.now())
        assert started.ticket.status == TicketStatus.IN_PROGRESS
        until = clock.now() + timedelta(days=2)
        deferred = await _make(
            session,
            ticket_id,
            Move.DEFER,
            plumber,
            profile,
            clock.now(),
            reason="等配件",
            until=until,
        )
        assert deferred.ticket.finish_by == until
        done = await _make(
            session,
            ticket_id,
            Move.COMPLETE,
            plumber,
            profile,
            clock.now(),
            result="replaced",
            note="换了新龙头",
            photo_file_id="AFTER",
        )
        assert done.ticket.status == TicketStatus.AWAITING_ACCEPTANCE
        assert await tickets.pictures_of(session, ticket_id) == ["PHOTO1", "PHOTO2", "AFTER"]
        tickets.keep_voice(
            session,
            ticket_id,
            tickets.Voice("DONE", 3),
            kind=tickets.COMPLETION_VOICE,
            now=clock.now(),
        )
        media = await tickets.media_of(session, ticket_id)
        assert (media.photos, media.done_voice) == (["PHOTO1", "PHOTO2"], tickets.Voice("DONE", 3))
    async with database.transaction() as session:
        back = await _make(
            session,
            ticket_id,
            Move.REWORK,
            teacher,
            profile,
            clock.now(),
            telegram_id=tid,
            reason="还在滴",
        )
        assert back.ticket.status == TicketStatus.REWORK and back.ticket.rework_count == 1
        await _make(
            session, ticket_id, Move.COMPLETE, plumber, profile, clock.now(), result="fixed"
        )
        closed = await _make(
            session,
            ticket_id,
            Move.ACCEPT,
            teacher,
            profile,
            clock.now(),
            telegram_id=tid,
            rating=4,
        )
        twice = await _make(
            session,
            ticket_id,
            Move.ACCEPT,
            teacher,
            profile,
            clock.now(),
            telegram_id=tid,
            rating=1,
        )
        assert closed.changed and not twice.changed and twice.ticket.rating == 4
        assert await moves.add_rating_comment(
            session, ticket_id, reporter_telegram_id=tid, comment="很快"
        )
        actions = [e.action for e in await tickets.events_of(session, ticket_id)]
    assert actions == [
        "report", "assign", "transfer", "start", "defer", "complete", "rework", "complete",
        "accept",
    ]  # fmt: skip
    async with database.transaction() as session:
        stats = await tickets.month_stats(session, Month(2026, 11), profile)
    assert plumber.id is not None and fixer.id is not None
    mine = stats[plumber.id]
    assert (mine.jobs, mine.jobs_on_time, mine.rework) == (1, 1, 1)  # one job, sent back once
    assert (mine.taken, mine.accepted_on_time, mine.ratings) == (1, 1, (4,))
    assert fixer.id not in stats


async def test_duplicates_follow_cancel_and_nudge(
    database: Database, clock: ManualClock, profile: SchoolProfile
) -> None:
    _d, _p, _f, teacher = await _cast(database, clock)
    ticket_id = await _ticket(database, clock, profile, teacher)
    other = await _person(database, clock, 5, "刘洋", Role.TEACHER, None)
    async with database.transaction() as session:
        here = tickets.Report(
            "plumbing", "x", "", "normal", building="lab", floor="3楼", room="女厕"
        )
        same = await tickets.find_duplicates(session, here)
        elsewhere = await tickets.find_duplicates(session, replace(here, room="男厕"))
        assert [t.id for t in same] == [ticket_id] and elsewhere == []
        assert await tickets.follow(
            session, ticket_id=ticket_id, telegram_id=5, name="刘洋", person=other,
            now=clock.now(),
        )  # fmt: skip
        assert not await tickets.follow(
            session, ticket_id=ticket_id, telegram_id=5, name="刘洋", person=other,
            now=clock.now(),
        )  # fmt: skip
        assert [t.id for t in await tickets.reporter_tickets(session, 5)] == [ticket_id]
    interval = timedelta(hours=4)
    tid = teacher.telegram_id
    async with database.transaction() as session:
        nudged = await moves.nudge(
            session, ticket_id, Actor.of(teacher, telegram_id=tid), interval=interval,
            now=clock.now(),
        )  # fmt: skip
        assert nudged.changed
    async with database.transaction() as session:
        with pytest.raises(moves.NotAllowed) as too_soon:
            await moves.nudge(
                session,
                ticket_id,
                Actor.of(teacher, telegram_id=tid),
                interval=interval,
                now=clock.now() + timedelta(hours=1),
            )
        assert too_soon.value.reason == "too_soon"
        cancelled = await _make(
            session, ticket_id, Move.CANCEL, teacher, profile, clock.now(), telegram_id=tid
        )
        assert cancelled.ticket.status == TicketStatus.CANCELLED


async def test_overdue_urgent_and_auto_accept_claim_once(
    database: Database, clock: ManualClock, profile: SchoolProfile
) -> None:
    _d, plumber, _f, teacher = await _cast(database, clock)
    urgent = await _ticket(database, clock, profile, teacher, urgency="urgent", room="男厕")
    normal = await _ticket(database, clock, profile, teacher)
    async with database.transaction() as session:
        assert await moves.claim_overdue(session, now=clock.now()) == []
    clock.advance(timedelta(minutes=31))
    async with database.transaction() as session:
        assert [t.id for t in await moves.claim_overdue(session, now=clock.now())] == [urgent]
        alerts = await moves.claim_urgent_alerts(session, profile=profile, now=clock.now())
        assert [t.id for t in alerts] == [urgent]
    async with database.transaction() as session:
        assert await moves.claim_overdue(session, now=clock.now()) == []
        assert await moves.claim_urgent_alerts(session, profile=profile, now=clock.now()) == []
        await _make(session, normal, Move.TAKE, plumber, profile, clock.now())
        await _make(session, normal, Move.COMPLETE, plumber, profile, clock.now(), result="fixed")
    clock.advance(timedelta(days=6))
    async with database.transaction() as session:
        assert await moves.auto_accept_due(session, profile=profile, now=clock.now()) == []
    clock.advance(timedelta(days=1))
    async with database.transaction() as session:
        closed = await moves.auto_accept_due(session, profile=profile, now=clock.now())
        assert [c.ticket.id for c in closed] == [normal]
        assert closed[0].ticket.rating == profile.repair.default_rating
        assert closed[0].ticket.auto_closed
        assert await moves.auto_accept_due(session, profile=profile, now=clock.now()) == []
