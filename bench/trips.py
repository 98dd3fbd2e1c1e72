"""What the two database trips of every update cost, piece by piece, measured alone.

Every update the bot handles loads who is behind it (`handlers.common.identify`, so that
permissions are checked on the server) and writes the form state it leaves (the persistence,
so that a restart resumes the form). This prints the CPU time of each trip through Houqin's
storage, of the pieces it is made of, and of the same statement on plain sqlite3 (what SQLite
itself costs), one after another on an idle event loop:

    python -m bench.trips [--database-url URL] [--times 3000]

`bench.throughput --trips` measures the same two trips inside a bot under load.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from bench.common import BENCH_START, bench_services, machine_line
from storage import people, persisted_state
from storage.database import READ_ONLY, Database
from storage.models import Person, Role

TELEGRAM_ID = 4242
STATE_KIND = "conversation:bench"
# The same two statements as SQL on plain sqlite3 (what SQLAlchemy emits for them, in short).
PLAIN_PERSON = "SELECT * FROM person WHERE telegram_id = ?"
PLAIN_UPSERT = (
    "INSERT INTO persisted_state (kind, key, data, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at"
)


async def cpu_per_call(call: Callable[[], Awaitable[object]], times: int) -> float:
    """Microseconds of CPU per call, after a warm-up."""
    for _ in range(min(200, times)):
        await call()
    started = time.process_time()
    for _ in range(times):
        await call()
    return (time.process_time() - started) / times * 1e6


class Trips:
    """The two database trips Houqin makes for every update, and nothing else of Houqin: who
    is behind it (before the answer) and the form state it leaves (after), through Houqin's own
    storage functions and database layer (`kind` "product"), or as the same two statements on
    a plain sqlite3 connection ("sqlite3": what SQLite itself costs, without SQLAlchemy).
    `bench.serve floor --trips KIND` makes them around each answer."""

    def __init__(self, kind: str, database_url: str) -> None:
        self.database = Database(database_url)
        self.plain: sqlite3.Connection | None = None
        if kind == "sqlite3":
            path = database_url.split("///", 1)[1]
            self.plain = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    async def who(self, telegram_id: int) -> object:
        if self.plain is not None:
            return self.plain.execute(PLAIN_PERSON, (telegram_id,)).fetchone()
        async with self.database.reading_connection() as connection:
            return await people.person_by_telegram_id(connection, telegram_id)

    async def leave(self, telegram_id: int, step: int) -> None:
        kind, key = STATE_KIND, f"[{telegram_id}]"
        if self.plain is not None:
            self.plain.execute("BEGIN IMMEDIATE")
            self.plain.execute(PLAIN_UPSERT, (kind, key, str(step), BENCH_START.isoformat()))
            self.plain.execute("COMMIT")
            return
        async with self.database.connection() as connection:
            await persisted_state.write(connection, {(kind, key): step}, now=BENCH_START)

    async def close(self) -> None:
        if self.plain is not None:
            self.plain.close()
        await self.database.dispose()


async def measure(database: Database, times: int) -> list[tuple[str, float]]:
    read_engine = database.engine.execution_options(**{READ_ONLY: True})
    product = Trips("product", database.url)
    plain = Trips("sqlite3", database.url) if database.dialect == "sqlite" else None

    async def identify() -> None:
        await product.who(TELEGRAM_ID)

    async def checkout_only() -> None:
        async with read_engine.connect():
            pass

    async def checkout_and_begin() -> None:
        async with read_engine.connect() as connection:
            await connection.begin()

    async def write_state() -> None:
        await product.leave(TELEGRAM_ID, 3)

    async def write_transaction_only() -> None:
        async with database.connection():
            pass

    figures = [
        ("who is behind an update (identify's trip)", await cpu_per_call(identify, times)),
        ("  a pooled connection, out and back", await cpu_per_call(checkout_only, times)),
        ("  the same with BEGIN and the rollback", await cpu_per_call(checkout_and_begin, times)),
    ]
    async with read_engine.connect() as open_connection:

        async def statement_only(connection: AsyncConnection = open_connection) -> None:
            await people.person_by_telegram_id(connection, TELEGRAM_ID)

        figures.append(
            ("  the statement and the person object", await cpu_per_call(statement_only, times))
        )
    figures += [
        ("the form state it leaves (one upsert)", await cpu_per_call(write_state, times)),
        ("  its transaction alone", await cpu_per_call(write_transaction_only, times)),
    ]
    if plain is not None:

        async def plain_select() -> None:
            await plain.who(TELEGRAM_ID)

        async def plain_upsert() -> None:
            await plain.leave(TELEGRAM_ID, 3)

        figures += [
            ("plain sqlite3: the person's row", await cpu_per_call(plain_select, times)),
            ("plain sqlite3: the upsert and commit", await cpu_per_call(plain_upsert, times)),
        ]
        await plain.close()
    await product.close()
    return figures


async def main(database_url: str | None, times: int) -> None:
    async with bench_services(database_url) as services:
        async with services.database.transaction() as session:
            session.add(
                Person(
                    telegram_id=TELEGRAM_ID, name="基准", role=Role.STAFF, created_at=BENCH_START
                )
            )
        figures = await measure(services.database, times)
        print(machine_line())
        print(f"database: {services.database.dialect}; CPU per call, {times} calls each")
        for label, micros in figures:
            print(f"{label:45s} {micros:7.0f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--times", type=int, default=3000)
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.times))
