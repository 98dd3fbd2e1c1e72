"""Storage rules: invites, join requests, people, groups, timestamps and migrations."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlmodel import SQLModel

from school.clock import ManualClock
from storage import groups, people
from storage.database import Database
from storage.models import GroupPurpose, JoinRequestStatus, Person, Role


async def _director(db: Database, now: datetime) -> Person:
    async with db.transaction() as session:
        invite = await people.create_invite(session, role=Role.DIRECTOR, now=now)
    async with db.transaction() as session:
        registration = await people.redeem_invite(
            session,
            code=invite.code,
            telegram_id=1,
            telegram_name="张主任",
            username=None,
            now=now,
        )
    return registration.person


async def test_migrations_match_the_models(database: Database) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_invite_registers_once_by_default(database: Database, clock: ManualClock) -> None:
    now = clock.now()
    async with database.transaction() as session:
        invite = await people.create_invite(
            session, role=Role.STAFF, post_key="electrician", name="李师傅", now=now
        )
    async with database.transaction() as session:
        registration = await people.redeem_invite(
            session,
            code=invite.code,
            telegram_id=42,
            telegram_name="Li",
            username="li",
            now=now,
        )
    assert registration.is_new
    assert registration.person.role == Role.STAFF
    assert registration.person.post_key == "electrician"
    assert registration.person.name == "李师傅"
    with pytest.raises(people.InviteProblem) as raised:
        async with database.transaction() as session:
            await people.redeem_invite(
                session,
                code=invite.code,
                telegram_id=43,
                telegram_name="Wang",
                username=None,
                now=now,
            )
    assert raised.value.reason == "used_up"


async def test_expired_and_unknown_codes(database: Database, clock: ManualClock) -> None:
    async with database.transaction() as session:
        invite = await people.create_invite(
            session, role=Role.TEACHER, now=clock.now(), lifetime=timedelta(hours=1)
        )
    for code, reason, when in [
        (invite.code, "expired", clock.now() + timedelta(hours=2)),
        ("nonsense", "unknown", clock.now()),
    ]:
        with pytest.raises(people.InviteProblem) as raised:
            async with database.transaction() as session:
                await people.redeem_invite(
                    session, code=code, telegram_id=7, telegram_name="x", username=None, now=when
                )
        assert raised.value.reason == reason
    async with database.transaction() as session:
        assert await people.get_person_by_telegram_id(session, 7) is None


async def test_multi_use_invite_is_never_overused(database: Database, clock: ManualClock) -> None:
    async with database.transaction() as session:
        invite = await people.create_invite(session, role=Role.TEACHER, now=clock.now(), max_uses=3)

    async def redeem(user_id: int) -> bool:
        try:
            async with database.transaction() as session:
                await people.redeem_invite(
                    session,
                    code=invite.code,
                    telegram_id=user_id,
                    telegram_name=f"T{user_id}",
                    username=None,
                    now=clock.now(),
                )
        except people.InviteProblem:
            return False
        return True

    results = await asyncio.gather(*(redeem(100 + i) for i in range(6)))
    assert sum(results) == 3
    async with database.transaction() as session:
        assert len(await people.list_people(session)) == 3


async def test_staff_invite_needs_a_post(database: Database, clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="post"):
        async with database.transaction() as session:
            await people.create_invite(session, role=Role.STAFF, now=clock.now())


async def test_join_request_is_decided_once(database: Database, clock: ManualClock) -> None:
    director = await _director(database, clock.now())
    async with database.transaction() as session:
        request, created = await people.request_to_join(
            session, telegram_id=9, name="赵老师", username="zhao", now=clock.now()
        )
        again, created_again = await people.request_to_join(
            session, telegram_id=9, name="赵老师", username="zhao", now=clock.now()
        )
    assert created and not created_again and again.id == request.id
    async with database.transaction() as session:
        decided, person, changed = await people.decide_join_request(
            session, request_id=request.id or 0, approve=True, director=director, now=clock.now()
        )
    assert changed and decided.status == JoinRequestStatus.APPROVED
    assert person is not None and person.role == Role.TEACHER
    async with database.transaction() as session:
        _, _, changed_twice = await people.decide_join_request(
            session,
            request_id=request.id or 0,
            approve=False,
            director=director,
            now=clock.now(),
        )
    assert not changed_twice


async def test_deactivated_people_are_hidden_and_keep_history(
    database: Database, clock: ManualClock
) -> None:
    director = await _director(database, clock.now())
    async with database.transaction() as session:
        await people.deactivate_person(session, director.id or 0, now=clock.now())
    async with database.transaction() as session:
        assert await people.list_people(session) == []
        everyone = await people.list_people(session, include_inactive=True)
    assert [p.name for p in everyone] == ["张主任"]
    assert everyone[0].deactivated_at == clock.now()


async def test_timestamps_come_back_aware(database: Database, clock: ManualClock) -> None:
    director = await _director(database, clock.now())
    async with database.transaction() as session:
        stored = await people.get_person(session, director.id or 0)
    assert stored is not None
    assert stored.created_at.tzinfo is not None
    assert stored.created_at == clock.now().astimezone(UTC)


async def test_naive_timestamps_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive"):
        async with database.transaction() as session:
            await people.create_invite(session, role=Role.TEACHER, now=datetime(2026, 1, 1, 8, 0))


async def test_binding_a_purpose_moves_it(database: Database, clock: ManualClock) -> None:
    director = await _director(database, clock.now())
    async with database.transaction() as session:
        await groups.bind_group(
            session,
            chat_id=-1,
            title="维修一群",
            purpose=GroupPurpose.REPAIR,
            director=director,
            now=clock.now(),
        )
    async with database.transaction() as session:
        _, previous = await groups.bind_group(
            session,
            chat_id=-2,
            title="维修二群",
            purpose=GroupPurpose.REPAIR,
            director=director,
            now=clock.now(),
        )
    assert previous is not None and previous.chat_id == -1
    async with database.transaction() as session:
        current = await groups.group_for(session, GroupPurpose.REPAIR)
        assert current is not None and current.chat_id == -2
        await groups.record_left(session, chat_id=-2, now=clock.now())
    async with database.transaction() as session:
        assert await groups.group_for(session, GroupPurpose.REPAIR) is None
        left = await groups.get_group(session, -2)
    assert left is not None and not left.is_member and left.left_at == clock.now()
