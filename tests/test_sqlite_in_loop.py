"""SQLite on the event loop's thread: statements run there, and a lock held by another
process is waited for with asyncio sleeps, never by freezing the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlmodel import select

from devtools.loop_watch import LoopWatch
from storage.database import Database, DatabaseBusy
from storage.models import Person, Role


@pytest.fixture(params=["sqlite", "sqlite+aiosqlite"])
async def sqlite_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Database]:
    database = Database(f"{request.param}:///{tmp_path / 'houqin.db'}", busy_timeout_ms=400)
    await database.migrate()
    yield database
    await database.dispose()


def _other_process_writes(database: Database) -> sqlite3.Connection:
    blocker = sqlite3.connect(database.engine.url.database or "", timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    return blocker


async def test_plain_sqlite_urls_run_in_the_loop_and_aiosqlite_stays_available(
    sqlite_database: Database,
) -> None:
    expected = "inloop" if sqlite_database.url.startswith("sqlite:") else "aiosqlite"
    assert sqlite_database.engine.dialect.driver == expected
    async with sqlite_database.transaction() as session:
        session.add(
            Person(telegram_id=1, name="王老师", role=Role.TEACHER, created_at=datetime.now(UTC))
        )
    async with sqlite_database.connection() as connection:
        rows = (await connection.execute(text("SELECT name FROM person"))).all()
    assert [row.name for row in rows] == ["王老师"]


async def test_a_lock_held_elsewhere_is_waited_for_without_freezing_the_loop(
    sqlite_database: Database,
) -> None:
    blocker = _other_process_writes(sqlite_database)
    asyncio.get_running_loop().call_later(0.15, blocker.rollback)
    async with LoopWatch() as watch:
        async with sqlite_database.connection() as connection:
            await connection.execute(text("UPDATE person SET name = name"))
        async with sqlite_database.transaction() as session:
            await session.exec(update(Person).values(name=Person.name))
    blocker.close()
    assert watch.longest < 0.1


async def test_a_lock_held_too_long_is_database_busy(sqlite_database: Database) -> None:
    blocker = _other_process_writes(sqlite_database)
    start = time.perf_counter()
    async with LoopWatch() as watch:
        with pytest.raises(DatabaseBusy):
            async with sqlite_database.transaction() as session:
                await session.exec(select(Person))
    blocker.rollback()
    blocker.close()
    assert time.perf_counter() - start >= 0.4  # the whole busy timeout was waited for
    assert watch.longest < 0.1


async def test_a_long_unit_of_work_lets_the_loop_run_between_its_statements(
    sqlite_database: Database,
) -> None:
    # 30 statements of a few milliseconds each, in one transaction: about 150 ms in all.
    slow = text(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 30000) "
        "SELECT count(*) FROM n"
    )
    start = time.perf_counter()
    async with LoopWatch() as watch, sqlite_database.reading_connection() as connection:
        for _ in range(30):
            assert (await connection.execute(slow)).scalar() == 30000
    took = time.perf_counter() - start
    assert took > 0.1
    assert watch.longest < took / 2
