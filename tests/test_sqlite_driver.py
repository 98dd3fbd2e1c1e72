"""SQLite's one-trip cursor (storage/sqlite_driver.py) behaves as the driver's own for what the
storage does: rows, counts of changed rows, RETURNING, many rows at once, errors, rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from storage import people, persisted_state
from storage.database import Database
from storage.models import Person, Role
from storage.sqlite_driver import OneTripCursor

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'houqin.db'}")
    await database.migrate()
    yield database
    await database.dispose()


async def test_rows_counts_returning_and_many_rows(sqlite: Database) -> None:
    async with sqlite.transaction() as session:
        session.add(Person(telegram_id=1, name="王", role=Role.STAFF, created_at=NOW))
        session.add(Person(telegram_id=2, name="李", role=Role.TEACHER, created_at=NOW))
        await session.flush()
        in_use = (await session.connection()).sync_connection
        assert in_use is not None and in_use.connection.dbapi_connection is not None
        assert isinstance(in_use.connection.dbapi_connection.cursor(), OneTripCursor)
        result = await session.exec(
            update(Person).where(col(Person.telegram_id) > 0).values(name="x")
        )
        assert result.rowcount == 2
        changes = {("user", str(i)): {"n": i} for i in range(50)}
        await persisted_state.write(session, changes, now=NOW)
    async with sqlite.connection() as connection:
        await persisted_state.write(connection, {("user", "3"): persisted_state.REMOVED}, now=NOW)
        count = await connection.scalar(text("SELECT count(*) FROM persisted_state"))
        assert count == 49
    async with sqlite.reading_connection() as connection:
        person = await people.person_by_telegram_id(connection, 2)
    assert person is not None and person.name == "x" and person.created_at == NOW
    async with sqlite.reading() as session:
        assert len(await people.list_people(session)) == 2


async def test_a_failed_statement_rolls_back_the_unit_of_work(sqlite: Database) -> None:
    with pytest.raises(IntegrityError):
        async with sqlite.transaction() as session:
            session.add(Person(telegram_id=7, name="王", role=Role.STAFF, created_at=NOW))
            await session.flush()
            session.add(Person(telegram_id=7, name="又是王", role=Role.STAFF, created_at=NOW))
            await session.flush()
    async with sqlite.reading() as session:
        assert await people.get_person_by_telegram_id(session, 7) is None
