"""Appraisal inputs from the database: the gathering's query count, the director's scores,
adjustments and the name search."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import event

from school.profile import SchoolProfile
from storage import appraisal
from storage.database import Database
from storage.models import (
    InspectionAssignment,
    InspectionRound,
    LeaderScore,
    Person,
    Role,
    Ticket,
    TicketEvent,
    TicketStatus,
    WorkLog,
)
from storage.stats import Month
from tests.conftest import SCHOOL_TZ

# --- gathering -------------------------------------------------------------------------------


@contextmanager
def counting_queries(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)


async def _staff(database: Database, count: int, start: int) -> list[int]:
    now = datetime(2026, 9, 1, 9, 0, tzinfo=SCHOOL_TZ)
    ids = []
    async with database.transaction() as session:
        for i in range(start, start + count):
            staff = Person(
                telegram_id=10_000 + i,
                name=f"员工{i:03d}",
                role=Role.STAFF,
                post_key="electrician",
                created_at=now,
            )
            session.add(staff)
            await session.flush()
            assert staff.id is not None
            ids.append(staff.id)
            day = date(2026, 10, 9)
            session.add(
                WorkLog(
                    person_id=staff.id,
                    day=day,
                    items=["巡检"],
                    filed_at=now,
                    updated_at=now,
                )
            )
            session.add(LeaderScore(person_id=staff.id, period="2026-10", score=90, updated_at=now))
            ticket = Ticket(
                number=f"BX-2610-{i:03d}",
                reporter_telegram_id=1,
                reporter_name="王芳",
                category_key="water",
                place="实验楼",
                description="漏水",
                urgency_key="normal",
                status=TicketStatus.CLOSED,
                assignee_id=staff.id,
                created_at=now,
                accepted_at=datetime(2026, 10, 9, 10, tzinfo=SCHOOL_TZ),
                closed_at=datetime(2026, 10, 10, 10, tzinfo=SCHOOL_TZ),
                finish_by=datetime(2026, 10, 12, 10, tzinfo=SCHOOL_TZ),
                rating=5,
            )
            session.add(ticket)
            await session.flush()
            assert ticket.id is not None
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    actor_id=staff.id,
                    action="complete",
                    at=datetime(2026, 10, 9, 15, tzinfo=SCHOOL_TZ),
                )
            )
            rnd = InspectionRound(
                plan_key=f"weekly{i}",
                occurrence=datetime(2026, 10, 9, 15, tzinfo=SCHOOL_TZ),
                opened_at=datetime(2026, 10, 9, 15, tzinfo=SCHOOL_TZ),
                deadline_at=datetime(2026, 10, 9, 18, tzinfo=SCHOOL_TZ),
                status="completed",
            )
            session.add(rnd)
            await session.flush()
            assert rnd.id is not None
            session.add(
                InspectionAssignment(
                    round_id=rnd.id,
                    person_id=staff.id,
                    finished_at=datetime(2026, 10, 9, 17, tzinfo=SCHOOL_TZ),
                )
            )
    return ids


async def test_gathering_uses_a_constant_number_of_queries(
    database: Database, profile: SchoolProfile
) -> None:
    month = Month(2026, 10)
    today = date(2026, 11, 2)
    await _staff(database, 2, 0)
    async with database.transaction() as session:
        with counting_queries(database) as few:
            inputs = await appraisal.gather_month(session, month, profile, today=today)
    assert len(inputs.people) == 2
    await _staff(database, 20, 100)
    async with database.transaction() as session:
        with counting_queries(database) as many:
            inputs = await appraisal.gather_month(session, month, profile, today=today)
    assert len(inputs.people) == 22
    assert len(many) == len(few), many
    result = appraisal.score_inputs(inputs, profile.appraisal)
    scored = result.ranked[0]
    assert {c.key for c in scored.components if c.applies} == set(appraisal.COMPONENTS)
    assert scored.components[0].inputs["on_time"] == 1


async def test_leader_score_upsert_and_adjustment_validation(
    database: Database, profile: SchoolProfile
) -> None:
    [staff] = await _staff(database, 1, 0)
    now = datetime(2026, 10, 30, 9, tzinfo=SCHOOL_TZ)
    async with database.transaction() as session:
        for score in (80.0, 95.0):
            await appraisal.set_leader_score(
                session,
                person_id=staff,
                period=Month(2026, 11),
                score=score,
                given_by_id=None,
                now=now,
            )
        with pytest.raises(ValueError):
            await appraisal.set_leader_score(
                session,
                person_id=staff,
                period=Month(2026, 11),
                score=101,
                given_by_id=None,
                now=now,
            )
        for points, reason in ((0, "x"), (3, " "), (101, "x")):
            with pytest.raises(ValueError):
                await appraisal.add_adjustment(
                    session,
                    person_id=staff,
                    period=Month(2026, 11),
                    points=points,
                    reason=reason,
                    given_by_id=None,
                    now=now,
                )
    async with database.transaction() as session:
        assert await appraisal.leader_scores(session, Month(2026, 11)) == {staff: 95.0}
        assert [p.name for p in await appraisal.find_appraised(session, profile, "员工")] == [
            "员工000"
        ]
